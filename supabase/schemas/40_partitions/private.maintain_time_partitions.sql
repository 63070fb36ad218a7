-- Run hourly by pg_cron: for each registered table, makes the current
-- partition and `premake` after it, and drops whole partitions past retention.
-- A drop still needs ACCESS EXCLUSIVE on the parent (DETACH ... CONCURRENTLY
-- cannot run in a function), so it waits at most 3 s and otherwise keeps the
-- partition, with a warning, for the next run.
create or replace function private.maintain_time_partitions()
returns table (parent regclass, created int, dropped int)
language plpgsql
set search_path = ''
as $$
declare
  v_reg record;
  v_unit text;
  v_start timestamptz;
  v_part record;
  v_created int;
  v_dropped int;
  v_expired boolean;
  v_lock_timeout text := current_setting('lock_timeout');
begin
  for v_reg in select * from private.time_partitioned_tables loop
    v_created := 0;
    v_dropped := 0;
    v_unit := case when v_reg.partition_interval = '1 day' then 'day' else 'month' end;
    v_start := date_trunc(v_unit, now() at time zone 'UTC') at time zone 'UTC';

    -- CREATE AHEAD: the current partition and `premake` after it.
    for i in 0 .. v_reg.premake loop
      if not exists (
        select 1 from private.time_partitions(v_reg.parent) p
        where p.lower_bound = v_start + i * v_reg.partition_interval
      ) then
        perform private.create_time_partition(v_reg.parent, v_start + i * v_reg.partition_interval);
        v_created := v_created + 1;
      end if;
    end loop;

    -- DROP EXPIRED: a whole partition at a time, never row by row.
    for v_part in
      select * from private.time_partitions(v_reg.parent) p where p.upper_bound <= now()
    loop
      if v_reg.retention_column is not null then
        execute format('select not exists (select 1 from %s where %I >= now())',
                       v_part.partition, v_reg.retention_column)
          into v_expired;
      else
        v_expired := v_reg.retention is not null
                     and v_part.upper_bound < now() - v_reg.retention;
      end if;
      if v_expired then
        -- The drop locks the parent exclusively; queued behind a long query it
        -- would hold up every reader and writer after it. Wait 3 s at most.
        begin
          perform set_config('lock_timeout', '3s', true);
          if v_reg.before_drop is not null then
            execute format('select %s($1)', v_reg.before_drop)
              using v_part.partition;
          end if;
          execute format('drop table %s', v_part.partition);
          perform set_config('lock_timeout', v_lock_timeout, true);
          v_dropped := v_dropped + 1;
        exception when lock_not_available then
          -- The failed block's setting was rolled back with it.
          raise warning 'kept expired partition % for the next run: % is in use', v_part.partition, v_reg.parent;
        end;
      end if;
    end loop;

    parent := v_reg.parent;
    created := v_created;
    dropped := v_dropped;
    return next;
  end loop;
end;
$$;

comment on function private.maintain_time_partitions() is
  'Creates partitions ahead and drops expired ones for every registered table, waiting at most 3 s to drop; run hourly by pg_cron.';

-- Partition DDL that does not stall ingestion (issue 4: "tables analysts can
-- query", with partitions made ahead and dropped past retention).
--
-- 1. CREATE TABLE ... PARTITION OF takes an ACCESS EXCLUSIVE lock on the parent.
--    It waits for every open transaction that has read or written the parent,
--    and while it waits, every later read and write of the parent queues behind
--    it. A partition is made once a day by the maintenance job, and during
--    ingestion for a historical day (an import): a long analyst query on
--    events then held up all ingestion until it finished, and an import batch
--    held every reader and writer off events until it committed.
--    Now the partition is created as a table of its own and attached: ATTACH
--    PARTITION takes SHARE UPDATE EXCLUSIVE, which reads and writes do not
--    conflict with. The table gets the parent's columns, defaults, checks and
--    generated columns; ATTACH builds its indexes and clones the row triggers.
-- 2. Two transactions making the same partition (two import batches for one
--    day) both saw it missing; the second failed on the duplicate name once the
--    first committed. Makers of a parent's partitions now take turns on the
--    lock ATTACH needs, taken before looking.
-- 3. Dropping an expired partition still needs ACCESS EXCLUSIVE on the parent
--    (DETACH ... CONCURRENTLY cannot run in a function). The maintenance job now
--    waits at most 3 s for it, so a long query delays ingestion by no more than
--    that; the partition is then kept, with a warning, for the next hourly run.
--
-- tests/integration/partition_locks_test.ts shows each with two connections.

create or replace function private.create_time_partition(p_parent regclass, p_from timestamptz)
returns regclass
language plpgsql
set search_path = ''
as $$
declare
  v_interval interval;
  v_to timestamptz;
  v_name text;
  v_table text;
begin
  select partition_interval into strict v_interval
  from private.time_partitioned_tables where parent = p_parent;
  select c.relname into v_table from pg_catalog.pg_class c where c.oid = p_parent;
  v_to := p_from + v_interval;
  v_name := v_table || '_p' || to_char(p_from at time zone 'UTC',
    case when v_interval = '1 day' then 'YYYY_MM_DD' else 'YYYY_MM' end);
  -- One maker at a time per parent: the lock ATTACH takes anyway, taken first,
  -- so a second maker waits here and then sees the partition (taking a
  -- relation lock also brings this session's view of the catalog up to date;
  -- an advisory lock would not). ONLY: not the partitions.
  execute format('lock table only %s in share update exclusive mode', p_parent);
  if to_regclass(format('partitions.%I', v_name)) is null then
    execute format(
      'create table partitions.%I (like %s including defaults including constraints'
      ' including generated including storage including compression)',
      v_name, p_parent);
    -- Deny direct access: RLS on with no policy, and no grants to API roles.
    execute format('alter table partitions.%I enable row level security', v_name);
    execute format('revoke all on partitions.%I from anon, authenticated, service_role', v_name);
    execute format('alter table %s attach partition partitions.%I for values from (%L) to (%L)',
                   p_parent, v_name, p_from, v_to);
  end if;
  return format('partitions.%I', v_name)::regclass;
end;
$$;
comment on function private.create_time_partition(regclass, timestamptz) is
  'Creates the partition of a registered table that starts at p_from, if missing, without blocking reads or writes of the parent.';

-- maintain_time_partitions as in 20261121230000, with the bounded wait to drop.
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

-- Time partitions: one registry and one maintenance function for every table
-- range-partitioned by time (audit log now; events, webhook attempts and
-- rate-limit history later). Partitions are created ahead and dropped past
-- retention by scheduled SQL. Not pg_partman: Debian ships 4.x and hosted
-- Supabase 5.x, whose APIs differ.

create extension if not exists pg_cron;

-- Partitions live in their own schema: PostgREST never exposes them, generated
-- types stay clean, and reads go through the parent, whose RLS applies.
create schema if not exists partitions;
comment on schema partitions is
  'Partitions of time-partitioned tables. Query the parent table, never these.';
revoke all on schema partitions from public;

create table private.time_partitioned_tables (
  parent regclass primary key,
  partition_interval interval not null
    constraint time_partitioned_tables_interval_check
      check (partition_interval in ('1 day'::interval, '1 month'::interval)),
  premake int not null default 3 check (premake between 1 and 400),
  -- Drop a partition once its upper bound is older than this ...
  retention interval,
  -- ... or, when set, once every row's value in this column is in the past.
  retention_column name,
  created_at timestamptz not null default now()
);
comment on table private.time_partitioned_tables is
  'Registry of time-partitioned tables: interval, partitions made ahead, and retention.';
alter table private.time_partitioned_tables enable row level security;

-- The partitions of a parent with their bounds, read from the catalog.
create function private.time_partitions(p_parent regclass)
returns table (partition regclass, lower_bound timestamptz, upper_bound timestamptz)
language sql
stable
set search_path = ''
as $$
  select c.oid::regclass,
         (regexp_match(pg_catalog.pg_get_expr(c.relpartbound, c.oid), 'FROM \(''([^'']+)''\)'))[1]::timestamptz,
         (regexp_match(pg_catalog.pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz
  from pg_catalog.pg_inherits i
  join pg_catalog.pg_class c on c.oid = i.inhrelid
  where i.inhparent = p_parent
    and pg_catalog.pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'
$$;
comment on function private.time_partitions(regclass) is
  'Partitions of a time-partitioned table with their lower and upper bounds.';

create function private.create_time_partition(p_parent regclass, p_from timestamptz)
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
  if to_regclass(format('partitions.%I', v_name)) is null then
    execute format(
      'create table partitions.%I partition of %s for values from (%L) to (%L)',
      v_name, p_parent, p_from, v_to);
    -- Deny direct access: RLS on with no policy, and no grants to API roles.
    execute format('alter table partitions.%I enable row level security', v_name);
    execute format('revoke all on partitions.%I from anon, authenticated, service_role', v_name);
  end if;
  return format('partitions.%I', v_name)::regclass;
end;
$$;
comment on function private.create_time_partition(regclass, timestamptz) is
  'Creates the partition of a registered table that starts at p_from, if missing.';

create function private.maintain_time_partitions()
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
        execute format('drop table %s', v_part.partition);
        v_dropped := v_dropped + 1;
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
  'Creates partitions ahead and drops expired ones for every registered table; run hourly by pg_cron.';

select cron.schedule(
  'meridian-maintain-time-partitions',
  '17 * * * *',
  'select private.maintain_time_partitions()'
);

-- One registry, and one maintenance function (maintain_time_partitions, hourly
-- by pg_cron), for every table range-partitioned by time: partitions are made
-- ahead and dropped past retention. The rows are in
-- 90_reference_data/private.time_partitioned_tables.sql.
-- Not pg_partman: Debian ships 4.x and hosted Supabase 5.x, whose APIs differ.
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
  created_at timestamptz not null default now(),
  -- A function (schema.name, taking the partition's regclass) called with each
  -- expired partition just before it is dropped, in the same transaction
  -- (audit_log records where its chains continue). Text, not regprocedure:
  -- a reg* column other than regclass, regtype and regrole blocks pg_upgrade.
  before_drop text
    constraint time_partitioned_tables_before_drop_format
      check (before_drop ~ '^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$')
);

comment on table private.time_partitioned_tables is
  'Registry of time-partitioned tables: interval, partitions made ahead, and retention. RLS on with no policy: only definer functions reach it.';

alter table private.time_partitioned_tables enable row level security;

-- Made as a table of its own, then attached: CREATE TABLE ... PARTITION OF
-- takes ACCESS EXCLUSIVE on the parent, so making a partition (by the hourly job,
-- or for an imported day during ingestion) would wait behind any long query on
-- the parent and stall every read and write queued after it. ATTACH PARTITION
-- takes SHARE UPDATE EXCLUSIVE, which reads and writes do not conflict with.
-- LIKE copies columns, defaults, checks and generated columns; ATTACH builds the
-- indexes and clones the row triggers (tests/integration/partition_locks_test.ts).
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
    execute format('comment on table partitions.%I is %L', v_name, format(
      'A partition of %s. RLS on with no policy: read and written through its parent, whose policies apply.',
      p_parent));
    execute format('alter table %s attach partition partitions.%I for values from (%L) to (%L)',
                   p_parent, v_name, p_from, v_to);
  end if;
  return format('partitions.%I', v_name)::regclass;
end;
$$;

comment on function private.create_time_partition(regclass, timestamptz) is
  'Creates the partition of a registered table that starts at p_from, if missing, without blocking reads or writes of the parent.';

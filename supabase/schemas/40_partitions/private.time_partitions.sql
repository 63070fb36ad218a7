-- The partitions of a parent with their bounds, read from the catalog.
create or replace function private.time_partitions(p_parent regclass)
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

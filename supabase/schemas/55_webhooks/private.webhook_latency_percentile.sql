-- A percentile (0-1) read from a latency histogram: the upper edge of the
-- bucket where the cumulative count reaches it (an upper bound, as precise as
-- the buckets); null for an empty histogram, and for the last bucket (slower
-- than the last edge).
create or replace function private.webhook_latency_percentile(p_buckets int[], p_fraction double precision)
returns int
language sql
immutable
set search_path = ''
as $$
  select e.edge
  from (
    select b.i, (private.webhook_latency_edges())[b.i] as edge,
           sum(b.n) over (order by b.i) as running, sum(b.n) over () as total
    from unnest(p_buckets) with ordinality as b (n, i)
  ) e
  where e.total > 0 and e.running >= e.total * p_fraction
  order by e.i
  limit 1
$$;

comment on function private.webhook_latency_percentile(int[], double precision) is
  'The upper bound of a percentile of a webhook latency histogram (ms); null when empty or past the last edge.';

grant execute on function private.webhook_latency_percentile(int[], double precision) to authenticated, service_role;

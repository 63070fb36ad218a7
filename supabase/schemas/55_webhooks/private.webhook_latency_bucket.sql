-- A histogram with one attempt in the bucket its duration falls in.
create or replace function private.webhook_latency_bucket(p_duration_ms int)
returns int[]
language sql
immutable
set search_path = ''
as $$
  select array_agg(case when b.i = coalesce((
                     select min(e.i) from unnest(private.webhook_latency_edges()) with ordinality e (edge, i)
                     where coalesce(p_duration_ms, 0) <= e.edge),
                     pg_catalog.array_length(private.webhook_latency_edges(), 1) + 1)
                   then 1 else 0 end order by b.i)
  from generate_series(1, pg_catalog.array_length(private.webhook_latency_edges(), 1) + 1) b (i)
$$;

comment on function private.webhook_latency_bucket(int) is
  'A latency histogram (buckets of private.webhook_latency_edges plus one) holding one attempt of this duration.';

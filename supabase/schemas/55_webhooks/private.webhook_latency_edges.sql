-- The upper edges, in milliseconds, of the latency histogram's buckets; one
-- more bucket holds everything slower.
create or replace function private.webhook_latency_edges()
returns int[]
language sql
immutable
set search_path = ''
as $$
  select array[25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000]
$$;

comment on function private.webhook_latency_edges() is
  'Upper edges (ms) of webhook latency histogram buckets; one more bucket takes the rest.';

grant execute on function private.webhook_latency_edges() to authenticated, service_role;

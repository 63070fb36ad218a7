-- Buckets whose windows have both passed hold nothing the next decision reads.
create or replace function private.sweep_rate_limit_counters()
returns bigint
language sql
security definer
set search_path = ''
as $$
  with gone as (
    delete from private.rate_limit_counters c
    where (c.window_index + 2) * c.window_ms
          < floor(extract(epoch from clock_timestamp()) * 1000)::bigint
    returning 1)
  select count(*) from gone
$$;

comment on function private.sweep_rate_limit_counters() is
  'Deletes buckets whose current and previous windows have passed; run each minute by pg_cron.';

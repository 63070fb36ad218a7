create or replace function private.flush_api_key_usage()
returns int
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_keys int;
begin
  with drained as (
    delete from private.api_key_usage_buffer returning org_id, key_id, used_at
  ), totals as (
    select d.org_id, d.key_id, count(*) as n, max(d.used_at) as last_used
    from drained d group by d.org_id, d.key_id
  )
  update public.api_keys k
  set usage_count = k.usage_count + t.n,
      last_used_at = greatest(k.last_used_at, t.last_used)
  from totals t
  where k.org_id = t.org_id and k.id = t.key_id;
  get diagnostics v_keys = row_count;
  return v_keys;
end;
$$;

comment on function private.flush_api_key_usage() is
  'Folds buffered key uses into api_keys.usage_count and last_used_at; run each minute by pg_cron.';

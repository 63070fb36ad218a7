-- The ingest function's write-key check (verify_api_key) and rate-limit
-- admission (admit_request) in one round trip and one commit, when Postgres
-- decides rate limits (with Upstash, the function calls verify_api_key and
-- admits in Redis). Both write only UNLOGGED tables, so the commit does not
-- wait for the WAL; a refused key's audit record is logged and durable.
create or replace function private.admit_write_key(p_secret text, p_client_ip text, p_endpoint text)
returns table (key_id uuid, org_id uuid, kind public.api_key_kind, source_id uuid,
               allowed boolean, remaining int, reset_at timestamptz, retry_after_ms int,
               request_limit int, window_ms int, scope public.rate_limit_scope)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_key record;
begin
  -- p_client_ip comes from the function's own parsing of X-Forwarded-For.
  select * into v_key from private.verify_api_key(p_secret, p_client_ip::inet);
  if v_key.key_id is null then
    return; -- no row: not a live key (verify_api_key audits why a known key was refused)
  end if;
  key_id := v_key.key_id;
  org_id := v_key.org_id;
  kind := v_key.kind;
  source_id := v_key.source_id;
  -- Only a write key bound to a source is admitted; any other key gets its
  -- row back without a decision, and the caller refuses it.
  if v_key.kind = 'write' and v_key.source_id is not null then
    -- The principal as the function would send it (rate_limit.ts, principalForSql).
    select d.allowed, d.remaining, d.reset_at, d.retry_after_ms, d.request_limit, d.window_ms, d.scope
      into allowed, remaining, reset_at, retry_after_ms, request_limit, window_ms, scope
    from private.admit_request(
      jsonb_build_object('kind', 'api_key', 'org_id', v_key.org_id, 'key_id', v_key.key_id,
                         'user_id', null, 'ip', p_client_ip),
      p_endpoint, 1, null) d;
  end if;
  return next;
end;
$$;

comment on function private.admit_write_key(text, text, text) is
  'A write key''s check and its rate-limit admission in one transaction: no row for a key that is not live; a row without a decision (allowed null) for a key that is not a write key.';

revoke execute on function private.admit_write_key(text, text, text) from public;

grant execute on function private.admit_write_key(text, text, text) to service_role;

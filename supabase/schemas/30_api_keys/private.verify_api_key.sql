-- Constant work for any input: one SHA-256 and one primary-key probe, whatever
-- the shape of the string, so timing says nothing about which keys exist.
-- Edge functions call it through _shared/auth.ts; ingestion, when Postgres
-- decides rate limits, through private.admit_write_key (key check and admission
-- in one round trip).
create or replace function private.verify_api_key(p_secret text, p_client_ip inet default null)
returns table (key_id uuid, org_id uuid, workspace_id uuid, kind public.api_key_kind,
               scopes text[], rate_limit_per_minute int, source_id uuid)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_key public.api_keys;
  v_reason text;
  v_first boolean;
begin
  select k.* into v_key
  from private.api_key_secrets s
  join public.api_keys k on k.org_id = s.org_id and k.id = s.key_id
  where s.key_hash = extensions.digest(coalesce(p_secret, ''), 'sha256');

  if v_key.id is null then
    return;
  end if;
  v_reason := case
    when v_key.revoked_at is not null then 'revoked'
    when v_key.expires_at is not null and v_key.expires_at <= now() then 'expired'
    when v_key.source_id is not null and not exists (
           select 1 from public.sources so
           where so.org_id = v_key.org_id and so.id = v_key.source_id and so.enabled)
      then 'source_disabled'
    when v_key.allowed_cidrs is not null
         and (p_client_ip is null or not exists (
               select 1 from unnest(v_key.allowed_cidrs) c where p_client_ip <<= c))
      then 'ip_not_allowed'
  end;
  if v_reason is not null then
    -- Counted per key, reason and hour; only the hour's first is audited now
    -- (private.api_key_rejections says why).
    insert into private.api_key_rejections as r (org_id, key_id, hour, reason, last_ip)
    values (v_key.org_id, v_key.id, date_trunc('hour', now()), v_reason, p_client_ip)
    -- (by constraint: org_id is also this function's output column)
    on conflict on constraint api_key_rejections_pkey do update
      set rejections = r.rejections + 1, last_ip = excluded.last_ip
    returning r.rejections = 1 into v_first;
    if v_first then
      perform private.append_audit(
        v_key.org_id, 'api_key.rejected', 'api_keys', v_key.id::text, null,
        jsonb_build_object('reason', v_reason, 'prefix', v_key.prefix, 'ip', host(p_client_ip),
                           'further_this_hour', 'counted, audited when the hour ends'),
        'medium', 'failure', array['auth'],
        jsonb_build_object('type', 'api_key', 'api_key_id', v_key.id));
    end if;
    return;
  end if;

  insert into private.api_key_usage_buffer (org_id, key_id) values (v_key.org_id, v_key.id);
  key_id := v_key.id;
  org_id := v_key.org_id;
  workspace_id := v_key.workspace_id;
  kind := v_key.kind;
  scopes := v_key.scopes;
  rate_limit_per_minute := v_key.rate_limit_per_minute;
  source_id := v_key.source_id;
  return next;
end;
$$;

comment on function private.verify_api_key(text, inet) is
  'The key a secret belongs to if it is live (not revoked, expired or outside its networks), else nothing.';

grant execute on function private.verify_api_key(text, inet) to service_role;

-- Records a message (SAML assertion or logout request, OIDC logout token) by
-- its issuer and id; false when it was seen before and has not expired: a
-- replay. Race-safe: of two concurrent posts of one message, one inserts.
create or replace function private.sso_first_use(
  p_org_id uuid,
  p_connection_id uuid,
  p_issuer text,
  p_id text,
  p_expires_at timestamptz
)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_inserted int;
begin
  if p_id is null or p_issuer is null then
    raise exception 'a message without an id cannot be checked for replay' using errcode = '22023',
      detail = 'field: id';
  end if;
  -- An expired record no longer protects anything (the message's own expiry
  -- refuses it): reuse its slot.
  delete from private.sso_used_assertions u
  where u.issuer = p_issuer and u.assertion_id = p_id and u.expires_at < now();
  insert into private.sso_used_assertions (issuer, assertion_id, org_id, connection_id, expires_at)
  values (p_issuer, p_id, p_org_id, p_connection_id, greatest(p_expires_at, now() + interval '5 minutes'))
  on conflict (issuer, assertion_id) do nothing;
  get diagnostics v_inserted = row_count;
  return v_inserted = 1;
end;
$$;

comment on function private.sso_first_use(uuid, uuid, text, text, timestamptz) is
  'Records an SSO message by (issuer, id) until it expires; false for a replay.';

grant execute on function private.sso_first_use(uuid, uuid, text, text, timestamptz) to service_role;

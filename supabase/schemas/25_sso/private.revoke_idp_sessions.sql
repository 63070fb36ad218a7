-- Revokes the sessions an identity provider ends (SAML single logout, OIDC
-- back-channel logout): a connection's live sessions of the subject it names,
-- narrowed to one IdP session (SAML SessionIndex, OIDC sid) when it names
-- one, or every session of that IdP session when it names no subject.
-- Audited per user; returns how many were revoked.
create or replace function private.revoke_idp_sessions(
  p_org_id uuid,
  p_connection_id uuid,
  p_subject text,
  p_idp_session_id text,
  p_reason text
)
returns int
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_count int := 0;
  v_user record;
begin
  if p_subject is null and p_idp_session_id is null then
    raise exception 'a logout must name a subject or a session' using errcode = '22023', detail = 'field: subject';
  end if;
  for v_user in
    with revoked as (
      update public.sso_sessions s set revoked_at = now(), revoked_reason = p_reason
      where s.org_id = p_org_id and s.connection_id = p_connection_id and s.revoked_at is null
        and (p_subject is null or s.idp_subject = p_subject)
        -- A session whose sign-in carried no IdP session id (an IdP that
        -- began sending sid later) goes with its subject.
        and (p_idp_session_id is null or s.idp_session_id = p_idp_session_id
             or (p_subject is not null and s.idp_session_id is null))
      returning s.user_id, s.id
    )
    select r.user_id, count(*)::int as sessions, array_agg(r.id) as ids from revoked r group by r.user_id
  loop
    v_count := v_count + v_user.sessions;
    perform private.append_audit(p_org_id, 'session.revoked', 'sso_sessions', v_user.ids[1]::text, null,
      jsonb_build_object('user_id', v_user.user_id, 'sessions', v_user.sessions, 'reason', p_reason,
                         'connection_id', p_connection_id),
      'medium', 'success', array['auth'], jsonb_build_object('type', 'system'));
  end loop;
  return v_count;
end;
$$;

comment on function private.revoke_idp_sessions(uuid, uuid, text, text, text) is
  'Revokes the SSO sessions an IdP logout names (subject and/or IdP session); audited per user.';

grant execute on function private.revoke_idp_sessions(uuid, uuid, text, text, text) to service_role;

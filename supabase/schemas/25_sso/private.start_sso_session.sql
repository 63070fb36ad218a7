-- Starts a session for a user who signed in through a connection (called by
-- the sso function after an OIDC or SAML sign-in): the session and its first
-- refresh token, which is returned once, and who the IdP says signed in (for
-- single and back-channel logout). Audited.
create or replace function private.start_sso_session(
  p_org_id uuid,
  p_user_id uuid,
  p_connection_id uuid,
  p_amr jsonb,
  p_aal text default 'aal1',
  p_ip inet default null,
  p_user_agent text default null,
  p_lifetime interval default '30 days',
  p_idp_subject text default null,
  p_idp_subject_format text default null,
  p_idp_session_id text default null
)
returns table (session_id uuid, refresh_token text)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_session public.sso_sessions;
  v_token text := private.new_refresh_token();
begin
  if not exists (select 1 from public.organization_members m
                 where m.org_id = p_org_id and m.user_id = p_user_id and m.status = 'active') then
    raise exception 'the user is not an active member of the organization'
      using errcode = '42501', detail = 'field: user_id';
  end if;
  insert into public.sso_sessions (org_id, user_id, connection_id, aal, amr, ip, user_agent, expires_at,
                                   idp_subject, idp_subject_format, idp_session_id)
  values (p_org_id, p_user_id, p_connection_id, p_aal, coalesce(p_amr, '[]'), p_ip, left(p_user_agent, 512),
          now() + p_lifetime, p_idp_subject, p_idp_subject_format, p_idp_session_id)
  returning * into v_session;
  insert into private.sso_refresh_tokens (token_hash, org_id, session_id)
  values (extensions.digest(v_token, 'sha256'), p_org_id, v_session.id);
  perform private.append_audit(p_org_id, 'session.started', 'sso_sessions', v_session.id::text, null,
    jsonb_build_object('connection_id', p_connection_id, 'aal', p_aal, 'amr', p_amr), 'low', 'success',
    array['auth'], jsonb_build_object('type', 'user', 'user_id', p_user_id));
  session_id := v_session.id;
  refresh_token := v_token;
  return next;
end;
$$;

comment on function private.start_sso_session(uuid, uuid, uuid, jsonb, text, inet, text, interval, text, text, text) is
  'Starts an SSO session for an active member and returns its first refresh token (once).';

grant execute on function private.start_sso_session(uuid, uuid, uuid, jsonb, text, inet, text, interval, text, text, text) to service_role;

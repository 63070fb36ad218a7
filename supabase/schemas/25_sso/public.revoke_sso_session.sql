-- Revokes a session: its own user may, and so may a member admin of its
-- organization (members:manage).
create or replace function public.revoke_sso_session(p_org_id uuid, p_session_id uuid)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_session public.sso_sessions;
begin
  perform private.require_user();
  select * into v_session from public.sso_sessions s where s.org_id = p_org_id and s.id = p_session_id;
  if v_session.id is null
     or (v_session.user_id <> auth.uid() and not private.has_permission(p_org_id, 'members:manage')) then
    raise exception 'session not found' using errcode = 'PT404', detail = 'field: session_id';
  end if;
  perform private.revoke_sso_sessions(p_org_id, v_session.user_id, p_session_id,
    case when v_session.user_id = auth.uid() then 'signed out' else 'revoked by an admin' end);
end;
$$;

comment on function public.revoke_sso_session(uuid, uuid) is
  'Revokes an SSO session: the user''s own, or any in the organization with members:manage.';

grant execute on function public.revoke_sso_session(uuid, uuid) to authenticated, service_role;

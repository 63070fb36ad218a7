-- Revokes sessions with a reason, audited: one (p_session_id), or all of a
-- user in an organization (p_session_id null). Their refresh tokens refresh
-- no more, and RLS refuses their access tokens at once.
create or replace function private.revoke_sso_sessions(
  p_org_id uuid,
  p_user_id uuid,
  p_session_id uuid,
  p_reason text
)
returns int
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_count int;
begin
  update public.sso_sessions s set revoked_at = now(), revoked_reason = p_reason
  where s.org_id = p_org_id and s.user_id = p_user_id
    and (p_session_id is null or s.id = p_session_id)
    and s.revoked_at is null;
  get diagnostics v_count = row_count;
  if v_count > 0 then
    perform private.append_audit(p_org_id, 'session.revoked', 'sso_sessions', p_session_id::text, null,
      jsonb_build_object('user_id', p_user_id, 'sessions', v_count, 'reason', p_reason),
      case when p_reason = 'refresh token reused' then 'high' else 'medium' end::public.audit_risk,
      'success', array['auth']);
  end if;
  return v_count;
end;
$$;

comment on function private.revoke_sso_sessions(uuid, uuid, uuid, text) is
  'Revokes one or all of a user''s SSO sessions in an organization, with a reason; audited.';

-- Audits a refused sign-in (an IdP answer that did not verify, an email that
-- is not verified or not allowed, an inactive member): in its own statement,
-- after the refusal, since the refusal's own transaction rolls back.
create or replace function private.sso_record_failure(
  p_org_id uuid,
  p_connection_id uuid,
  p_reason text,
  p_email text default null
)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform private.append_audit(p_org_id, 'sso.sign_in_failed', 'sso_connections', p_connection_id::text, null,
    jsonb_build_object('reason', left(p_reason, 500), 'email', lower(p_email)), 'medium', 'failure',
    array['auth'], jsonb_build_object('type', 'system'));
end;
$$;

comment on function private.sso_record_failure(uuid, uuid, text, text) is
  'Audits a refused SSO sign-in with its reason.';

grant execute on function private.sso_record_failure(uuid, uuid, text, text) to service_role;

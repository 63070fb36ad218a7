-- The app's exchange of its one-time code (PKCE S256: the verifier's SHA-256
-- must be the challenge it sent to /authorize): once, within 60 seconds. Starts
-- the session and returns what its first tokens need, or an error row.
create or replace function private.sso_redeem_app_code(p_code text, p_code_verifier text)
returns table (session_id uuid, org_id uuid, user_id uuid, connection_id uuid, aal text, amr jsonb,
               email text, refresh_token text, error text)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_code private.sso_app_codes;
  v_started record;
begin
  delete from private.sso_app_codes c where c.code_hash = extensions.digest(coalesce(p_code, ''), 'sha256')
  returning * into v_code;
  if v_code.code_hash is null or v_code.created_at < now() - interval '60 seconds' then
    error := 'unknown, used or expired code';
    return next;
    return;
  end if;
  if translate(rtrim(encode(extensions.digest(coalesce(p_code_verifier, ''), 'sha256'), 'base64'), '='), '+/', '-_')
     <> v_code.app_code_challenge then
    error := 'code_verifier does not match the code_challenge';
    return next;
    return;
  end if;
  select * into v_started from private.start_sso_session(v_code.org_id, v_code.user_id, v_code.connection_id,
    v_code.amr, v_code.aal, p_idp_subject => v_code.idp_subject,
    p_idp_subject_format => v_code.idp_subject_format, p_idp_session_id => v_code.idp_session_id);
  return query
  select v_started.session_id, v_code.org_id, v_code.user_id, v_code.connection_id, v_code.aal, v_code.amr,
         u.email::text, v_started.refresh_token, null::text
  from auth.users u where u.id = v_code.user_id;
end;
$$;

comment on function private.sso_redeem_app_code(text, text) is
  'Exchanges a one-time sign-in code with its PKCE verifier (once, 60 s) for a new SSO session.';

grant execute on function private.sso_redeem_app_code(text, text) to service_role;

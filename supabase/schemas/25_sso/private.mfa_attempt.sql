-- Records the outcome of one MFA attempt and says what it earns. The sso
-- function checks a TOTP code with otpauth against the secret it read
-- (private.mfa_totp_secret) and passes the matching time step; recovery codes
-- are checked here. Locked factors refuse before anything is checked; a
-- failure is counted (and, when it locks the factor, audited at risk high); a
-- success clears the failures, marks a TOTP step or a recovery code used
-- (a code never works twice), and raises the session to aal2 with the method
-- added to its amr. Returns 'ok', 'invalid', 'replayed' or 'locked:<until>'.
create or replace function private.mfa_attempt(
  p_org_id uuid,
  p_session_id uuid,
  p_factor text,
  p_totp_step bigint default null,
  p_recovery_code text default null,
  p_ip inet default null
)
returns text
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_session public.sso_sessions;
  v_locked timestamptz;
  v_ok boolean := false;
begin
  select * into v_session from public.sso_sessions s
  where s.org_id = p_org_id and s.id = p_session_id and s.revoked_at is null and s.expires_at > now()
  for update;
  if v_session.id is null then
    return 'invalid';
  end if;
  v_locked := private.mfa_lock_state(v_session.user_id, p_factor, p_ip);
  if v_locked is not null then
    return 'locked:' || v_locked;
  end if;

  if p_factor = 'totp' and p_totp_step is not null then
    update private.mfa_totp_factors f
    set last_used_step = p_totp_step, verified_at = coalesce(f.verified_at, now())
    where f.user_id = v_session.user_id and coalesce(f.last_used_step, -1) < p_totp_step;
    if not found and exists (select 1 from private.mfa_totp_factors f
                             where f.user_id = v_session.user_id and f.last_used_step >= p_totp_step) then
      return 'replayed';
    end if;
    v_ok := found;
  elsif p_factor = 'recovery' then
    update private.mfa_recovery_codes c set used_at = now()
    where c.user_id = v_session.user_id and c.used_at is null
      and c.code_hash = extensions.digest(upper(replace(coalesce(p_recovery_code, ''), '-', '')), 'sha256');
    v_ok := found;
  end if;

  if not v_ok then
    insert into private.mfa_failures (user_id, factor, ip) values (v_session.user_id, p_factor, p_ip);
    v_locked := private.mfa_lock_state(v_session.user_id, p_factor, p_ip);
    if v_locked is not null then
      perform private.append_audit(p_org_id, 'mfa.locked', 'sso_sessions', p_session_id::text, null,
        jsonb_build_object('factor', p_factor, 'until', v_locked), 'high', 'failure', array['auth'],
        jsonb_build_object('type', 'user', 'user_id', v_session.user_id));
    end if;
    return 'invalid';
  end if;

  delete from private.mfa_failures f where f.user_id = v_session.user_id;
  update public.sso_sessions s
  set aal = 'aal2',
      amr = s.amr || jsonb_build_array(jsonb_build_object(
        'method', p_factor, 'timestamp', extract(epoch from now())::bigint))
  where s.org_id = p_org_id and s.id = p_session_id;
  perform private.append_audit(p_org_id, 'mfa.verified', 'sso_sessions', p_session_id::text, null,
    jsonb_build_object('factor', p_factor), 'low', 'success', array['auth'],
    jsonb_build_object('type', 'user', 'user_id', v_session.user_id));
  return 'ok';
end;
$$;

comment on function private.mfa_attempt(uuid, uuid, text, bigint, text, inet) is
  'Records an MFA attempt (TOTP step or recovery code) for a session: ok raises it to aal2; failures count toward the lockout.';

grant execute on function private.mfa_attempt(uuid, uuid, text, bigint, text, inet) to service_role;

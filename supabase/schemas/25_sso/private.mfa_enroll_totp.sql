-- Stores a new TOTP secret for a user, encrypted with p_key (the sso
-- function's MERIDIAN_SSO_ENCRYPTION_KEY), unverified until a code from it is
-- accepted. Replacing a verified factor needs an aal2 session (p_aal).
create or replace function private.mfa_enroll_totp(p_user_id uuid, p_secret text, p_key text, p_aal text)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  if p_aal <> 'aal2' and exists (select 1 from private.mfa_totp_factors f
                                 where f.user_id = p_user_id and f.verified_at is not null) then
    raise exception 'changing a verified factor needs an aal2 session' using errcode = '42501';
  end if;
  insert into private.mfa_totp_factors as f (user_id, secret_encrypted)
  values (p_user_id, extensions.pgp_sym_encrypt(p_secret, p_key))
  on conflict (user_id) do update
    set secret_encrypted = excluded.secret_encrypted, verified_at = null, last_used_step = null,
        created_at = now();
end;
$$;

comment on function private.mfa_enroll_totp(uuid, text, text, text) is
  'Stores a user''s new TOTP secret, encrypted; replacing a verified one needs aal2.';

grant execute on function private.mfa_enroll_totp(uuid, text, text, text) to service_role;

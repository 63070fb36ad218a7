-- A user's TOTP secret, decrypted with p_key, for the sso function to check a
-- code with otpauth; null when the user has none.
create or replace function private.mfa_totp_secret(p_user_id uuid, p_key text)
returns text
language sql
stable
security definer
set search_path = ''
as $$
  select extensions.pgp_sym_decrypt(f.secret_encrypted, p_key)
  from private.mfa_totp_factors f where f.user_id = p_user_id
$$;

comment on function private.mfa_totp_secret(uuid, text) is
  'A user''s TOTP secret, decrypted for checking a code; null without a factor.';

grant execute on function private.mfa_totp_secret(uuid, text) to service_role;

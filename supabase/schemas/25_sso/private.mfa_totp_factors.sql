-- A user's TOTP factor for the sessions of enterprise sign-in. The secret is
-- kept encrypted (pgp_sym_encrypt, with a key the sso function holds as a
-- secret, MERIDIAN_SSO_ENCRYPTION_KEY), so a copy of the database alone
-- yields no codes. last_used_step refuses a code's second use.
create table private.mfa_totp_factors (
  user_id uuid primary key references auth.users (id) on delete cascade,
  secret_encrypted bytea not null,
  verified_at timestamptz,
  last_used_step bigint,
  created_at timestamptz not null default now()
);

comment on table private.mfa_totp_factors is
  'Users'' TOTP factors (secret encrypted at rest; last used step refuses replays). RLS on with no policy: only definer functions reach it.';

alter table private.mfa_totp_factors enable row level security;
revoke all on private.mfa_totp_factors from anon, authenticated, service_role;

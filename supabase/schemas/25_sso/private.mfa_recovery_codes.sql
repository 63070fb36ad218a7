-- Recovery codes: ten per user, 60 random bits each, kept as SHA-256, single
-- use, all replaced when regenerated (shown once, then).
create table private.mfa_recovery_codes (
  user_id uuid not null references auth.users (id) on delete cascade,
  code_hash bytea not null,
  used_at timestamptz,
  created_at timestamptz not null default now(),
  primary key (user_id, code_hash)
);

comment on table private.mfa_recovery_codes is
  'SHA-256 of users'' MFA recovery codes, single use. RLS on with no policy: only definer functions reach it.';

alter table private.mfa_recovery_codes enable row level security;
revoke all on private.mfa_recovery_codes from anon, authenticated, service_role;

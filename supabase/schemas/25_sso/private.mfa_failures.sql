-- Failed TOTP and recovery-code attempts, per user and address, for the
-- lockout (private.mfa_lock_state). Cleared by a success or an admin's unlock.
create table private.mfa_failures (
  id bigint generated always as identity primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  factor text not null constraint mfa_failures_factor_check check (factor in ('totp', 'recovery')),
  ip inet,
  failed_at timestamptz not null default now()
);

comment on table private.mfa_failures is
  'Failed MFA attempts per user and address, for the lockout. RLS on with no policy: only definer functions reach it.';

create index mfa_failures_user_idx on private.mfa_failures (user_id, factor, failed_at);
create index mfa_failures_ip_idx on private.mfa_failures (ip, failed_at) where ip is not null;

alter table private.mfa_failures enable row level security;
revoke all on private.mfa_failures from anon, authenticated, service_role;

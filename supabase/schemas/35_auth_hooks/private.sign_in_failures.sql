-- Failed password checks per user, for the lockout. Per user, not per
-- organization: a user with no membership is limited like any other. Rows
-- older than the lockout window no longer count and are deleted by the hook
-- itself (and all of a user's on a successful sign-in).
create table private.sign_in_failures (
  id bigint generated always as identity primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  failed_at timestamptz not null default now()
);

comment on table private.sign_in_failures is
  'Failed password checks per user within the lockout window (see sign_in_lockout_policy). RLS on with no policy: only definer functions reach it.';

create index sign_in_failures_user_idx on private.sign_in_failures (user_id, failed_at);

alter table private.sign_in_failures enable row level security;
-- No policy: written and read by the password hook (a definer function) only.
revoke all on private.sign_in_failures from anon, authenticated, service_role;

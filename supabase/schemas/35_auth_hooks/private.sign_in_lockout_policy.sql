-- The failed-password lockout, in one place: after max_failures wrong passwords
-- within lockout_window, every attempt (right or wrong) is refused until the
-- oldest of them is older than the window. One row; operators change it with
-- an UPDATE (docs/tenancy.md). Keycloak's temporary lockout works the same way.
create table private.sign_in_lockout_policy (
  id boolean primary key default true constraint sign_in_lockout_policy_single_row check (id),
  max_failures int not null constraint sign_in_lockout_policy_max_failures_check
    check (max_failures between 1 and 100),
  lockout_window interval not null constraint sign_in_lockout_policy_window_check
    check (lockout_window between '1 minute' and '1 day')
);

comment on table private.sign_in_lockout_policy is
  'One row: how many failed passwords within lockout_window lock a user out (every attempt refused) until the window passes. RLS on with no policy: only definer functions reach it.';

alter table private.sign_in_lockout_policy enable row level security;
-- No policy: read by the password hook (a definer function) only.
revoke all on private.sign_in_lockout_policy from anon, authenticated, service_role;

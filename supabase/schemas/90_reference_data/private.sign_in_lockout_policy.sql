-- The failed-password lockout: 5 wrong passwords within 15 minutes lock the
-- user out; the 6th attempt, right or wrong, is refused.
insert into private.sign_in_lockout_policy (id, max_failures, lockout_window) values
  (true, 5, '15 minutes')
on conflict (id) do nothing;

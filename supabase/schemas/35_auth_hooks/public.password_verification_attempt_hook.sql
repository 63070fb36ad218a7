-- Password verification attempt hook (config.toml
-- [auth.hook.password_verification_attempt]): Supabase Auth calls it as
-- supabase_auth_admin for every password check, after checking the password.
-- During a lockout (private.sign_in_lockout_policy: 5 failures in 15 minutes)
-- every attempt is refused, the right password too, or a guesser would learn
-- the right one by the answer. Failures are counted per user, whatever their
-- memberships, and audited in each organization the user is an active member
-- of. A success clears the user's failures.
create or replace function public.password_verification_attempt_hook(event jsonb)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_user_id uuid := (event ->> 'user_id')::uuid;
  v_policy private.sign_in_lockout_policy;
  v_recent int;
  v_email text;
  v_org uuid;
begin
  select * into v_policy from private.sign_in_lockout_policy;
  v_policy.max_failures := coalesce(v_policy.max_failures, 5);
  v_policy.lockout_window := coalesce(v_policy.lockout_window, interval '15 minutes');

  -- LOCKED OUT? Serialize a user's attempts, so that parallel guesses cannot
  -- all pass the count before any of them is recorded.
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('sign-in:' || v_user_id::text, 0));
  delete from private.sign_in_failures f
  where f.user_id = v_user_id and f.failed_at <= now() - v_policy.lockout_window;
  select count(*) into v_recent from private.sign_in_failures f where f.user_id = v_user_id;
  if v_recent >= v_policy.max_failures then
    return jsonb_build_object('decision', 'reject',
      'message', format('Too many failed sign-in attempts. Try again in %s minutes.',
                        ceil(extract(epoch from v_policy.lockout_window) / 60)),
      'should_logout_user', false);
  end if;

  if (event ->> 'valid')::boolean then
    delete from private.sign_in_failures f where f.user_id = v_user_id;
    return jsonb_build_object('decision', 'continue');
  end if;

  -- A FAILURE: counted for the user, audited where the user is a member.
  insert into private.sign_in_failures (user_id) values (v_user_id);
  select u.email into v_email from auth.users u where u.id = v_user_id;
  for v_org in
    select m.org_id from public.organization_members m
    where m.user_id = v_user_id and m.status = 'active'
  loop
    perform private.append_audit(
      v_org, 'auth.login_failed', 'session', null, null,
      jsonb_build_object('method', 'password'), 'medium', 'failure', array['auth'],
      jsonb_build_object('type', 'user', 'user_id', v_user_id, 'email', v_email));
  end loop;
  -- Auth answers this attempt "invalid credentials" itself; the next one meets
  -- the lockout.
  return jsonb_build_object('decision', 'continue');
end;
$$;

comment on function public.password_verification_attempt_hook(jsonb) is
  'Supabase Auth hook: counts failed passwords per user and, once private.sign_in_lockout_policy''s limit is reached, refuses every attempt until the window passes; audits failures.';

-- Only Supabase Auth calls hooks (Supabase's documented grants).
grant execute on function public.password_verification_attempt_hook(jsonb) to supabase_auth_admin;

revoke execute on function public.password_verification_attempt_hook(jsonb) from authenticated, anon, public;

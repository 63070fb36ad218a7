-- Password verification attempt hook (config.toml
-- [auth.hook.password_verification_attempt]): Supabase Auth calls it as
-- supabase_auth_admin for every password check. Failures are audited; after 5
-- failures in 15 minutes further attempts are rejected, which slows password
-- guessing without locking the account for good.
create or replace function public.password_verification_attempt_hook(event jsonb)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_user_id uuid := (event ->> 'user_id')::uuid;
  v_email text;
  v_org uuid;
  v_recent int;
begin
  if (event ->> 'valid')::boolean then
    return jsonb_build_object('decision', 'continue');
  end if;
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

  select count(*) into v_recent
  from public.audit_log a
  where a.org_id = v_org
    and a.occurred_at > now() - interval '15 minutes'
    and a.action = 'auth.login_failed'
    and a.actor_user_id = v_user_id;
  if v_recent >= 5 then
    return jsonb_build_object('decision', 'reject',
      'message', 'Too many failed sign-in attempts. Try again in 15 minutes.',
      'should_logout_user', false);
  end if;
  return jsonb_build_object('decision', 'continue');
end;
$$;

comment on function public.password_verification_attempt_hook(jsonb) is
  'Supabase Auth hook: audits failed password checks and rejects after 5 in 15 minutes.';

-- Only Supabase Auth calls hooks (Supabase's documented grants).
grant execute on function public.password_verification_attempt_hook(jsonb) to supabase_auth_admin;

revoke execute on function public.password_verification_attempt_hook(jsonb) from authenticated, anon, public;

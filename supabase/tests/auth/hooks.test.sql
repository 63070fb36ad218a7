-- Supabase Auth hooks: sign-ins and failed password checks are audited in every
-- organization of the user; repeated failures are rejected; only Supabase Auth
-- may call the hooks.
begin;
select plan(12);

select tests.create_supabase_user('signer', 'signer@hooks.example');
select tests.create_supabase_user('loner', 'loner@hooks.example');
insert into public.organizations (id, name, slug) values
  ('ffffffff-0000-4000-8000-000000000006', 'Hooks One', 'hooks-one'),
  ('ffffffff-0000-4000-8000-000000000007', 'Hooks Two', 'hooks-two');
insert into public.organization_members (org_id, user_id, role) values
  ('ffffffff-0000-4000-8000-000000000006', tests.get_supabase_uid('signer'), 'owner'),
  ('ffffffff-0000-4000-8000-000000000007', tests.get_supabase_uid('signer'), 'member');
select tests.get_supabase_uid('signer') as uid \gset
select tests.get_supabase_uid('loner') as loner \gset

-- Supabase Auth's role reaches neither pgTAP nor the tests schema: it writes
-- the hooks' answers here, and the assertions run afterwards.
create temp table hook_results (step text primary key, result jsonb);
grant all on hook_results to supabase_auth_admin;

set local role supabase_auth_admin;
insert into hook_results values ('sign-in', public.custom_access_token_hook(jsonb_build_object(
  'user_id', :'uid', 'authentication_method', 'password',
  'claims', jsonb_build_object('sub', :'uid', 'aal', 'aal1', 'email', 'signer@hooks.example',
                               'session_id', 's-1'))));
insert into hook_results values ('refresh', public.custom_access_token_hook(jsonb_build_object(
  'user_id', :'uid', 'authentication_method', 'token_refresh',
  'claims', jsonb_build_object('sub', :'uid'))));
insert into hook_results values ('valid', public.password_verification_attempt_hook(
  jsonb_build_object('user_id', :'uid', 'valid', true)));
insert into hook_results
select 'wrong-' || n, public.password_verification_attempt_hook(
  jsonb_build_object('user_id', :'uid', 'valid', false))
from generate_series(1, 5) n;
-- Locked out: the right password is refused too, and so is another wrong one.
insert into hook_results values ('valid-locked', public.password_verification_attempt_hook(
  jsonb_build_object('user_id', :'uid', 'valid', true)));
insert into hook_results values ('wrong-locked', public.password_verification_attempt_hook(
  jsonb_build_object('user_id', :'uid', 'valid', false)));
-- A user with no organization is limited the same way.
insert into hook_results
select 'loner-' || n, public.password_verification_attempt_hook(
  jsonb_build_object('user_id', :'loner', 'valid', n = 6))
from generate_series(1, 6) n;
reset role;

select is((select result -> 'claims' ->> 'email' from hook_results where step = 'sign-in'),
  'signer@hooks.example', 'the access token hook returns the claims unchanged');
select is(
  (select count(*)::int from public.audit_log
   where action = 'auth.login' and actor_user_id = :'uid'),
  2, 'a sign-in is audited once per organization, a refresh not at all');
select is((select result ->> 'decision' from hook_results where step = 'valid'), 'continue',
  'a valid password continues');
select is((select result ->> 'decision' from hook_results where step = 'wrong-1'), 'continue',
  'a first wrong password continues');
select is((select result ->> 'decision' from hook_results where step = 'wrong-5'), 'continue',
  'the fifth wrong password is answered by Auth itself (invalid credentials)');
select is((select result ->> 'decision' from hook_results where step = 'valid-locked'), 'reject',
  'after 5 failures in 15 minutes even the right password is refused');
select is((select result ->> 'decision' from hook_results where step = 'wrong-locked'), 'reject',
  'and so is a wrong one');
select is((select result ->> 'decision' from hook_results where step = 'loner-6'), 'reject',
  'a user with no organization is locked out after 5 failures too');
select is((select result ->> 'message' from hook_results where step = 'loner-6'),
  'Too many failed sign-in attempts. Try again in 15 minutes.',
  'the refusal says how long the lockout lasts');
select is(
  (select count(*)::int from public.audit_log
   where org_id = 'ffffffff-0000-4000-8000-000000000007' and action = 'auth.login_failed'
     and status = 'failure' and actor_email = 'signer@hooks.example'),
  5, 'failed sign-ins are audited with the user');

select tests.authenticate_as('signer');
select throws_ok($$ select public.custom_access_token_hook('{}') $$, '42501', null,
  'users cannot call the access token hook');
select throws_ok($$ select public.password_verification_attempt_hook('{}') $$, '42501', null,
  'users cannot call the password hook');

select * from finish();
rollback;

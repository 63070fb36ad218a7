-- MFA for SSO sessions (issue 28): a TOTP step and a recovery code work once,
-- a success raises the session to aal2, 5 failures in 15 minutes lock the
-- factor (audited, high), an admin unlocks, and changing factors needs aal2.
begin;
select plan(13);

select tests.create_supabase_user('mfa_user', 'user@mfa.example');
select tests.create_supabase_user('mfa_admin', 'admin@mfa.example');
insert into public.organizations (id, name, slug)
values ('abababab-0000-4000-8000-000000000002', 'MFA Inc', 'mfa-inc');
insert into public.organization_members (org_id, user_id, role) values
  ('abababab-0000-4000-8000-000000000002', tests.get_supabase_uid('mfa_admin'), 'owner'),
  ('abababab-0000-4000-8000-000000000002', tests.get_supabase_uid('mfa_user'), 'member');
create temp table s as
select * from private.start_sso_session('abababab-0000-4000-8000-000000000002', tests.get_supabase_uid('mfa_user'),
  'abababab-0000-4000-8000-0000000000c2', '[{"method": "sso/oidc"}]');

select private.mfa_enroll_totp(tests.get_supabase_uid('mfa_user'), 'JBSWY3DPEHPK3PXP', 'test-key', 'aal1');
select isnt((select secret_encrypted::text from private.mfa_totp_factors where user_id = tests.get_supabase_uid('mfa_user')),
  'JBSWY3DPEHPK3PXP', 'the secret is stored encrypted');
select is(private.mfa_totp_secret(tests.get_supabase_uid('mfa_user'), 'test-key'), 'JBSWY3DPEHPK3PXP',
  'and read back with the key');

-- TOTP: a step works once.
select is(private.mfa_attempt('abababab-0000-4000-8000-000000000002', (select session_id from s), 'totp', 1000), 'ok',
  'a verified step is accepted');
select is((select aal from public.sso_sessions where id = (select session_id from s)), 'aal2', 'the session is aal2');
select is((select amr -> -1 ->> 'method' from public.sso_sessions where id = (select session_id from s)), 'totp',
  'and its amr says totp');
select is(private.mfa_attempt('abababab-0000-4000-8000-000000000002', (select session_id from s), 'totp', 1000), 'replayed',
  'the same step again is refused');

-- Recovery codes (aal2 now), single use.
create temp table codes as select private.mfa_regenerate_recovery_codes(tests.get_supabase_uid('mfa_user'), 'aal2') as code;
select is((select count(*)::int from codes where code ~ '^[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}$'), 10, 'ten codes of 60 bits');
select is(private.mfa_attempt('abababab-0000-4000-8000-000000000002', (select session_id from s), 'recovery',
  p_recovery_code => (select code from codes limit 1)), 'ok', 'a recovery code works');
select is(private.mfa_attempt('abababab-0000-4000-8000-000000000002', (select session_id from s), 'recovery',
  p_recovery_code => (select code from codes limit 1)), 'invalid', 'once');

-- LOCKOUT: the failure above and 4 more lock the recovery factor.
select private.mfa_attempt('abababab-0000-4000-8000-000000000002', (select session_id from s), 'recovery',
  p_recovery_code => 'WRONG-CODE-' || n) from generate_series(1, 4) n;
select alike(private.mfa_attempt('abababab-0000-4000-8000-000000000002', (select session_id from s), 'recovery',
  p_recovery_code => (select code from codes offset 1 limit 1)), 'locked:%',
  'after 5 failures in 15 minutes even a right code is refused');
select is((select risk::text from public.audit_log where org_id = 'abababab-0000-4000-8000-000000000002'
           and action = 'mfa.locked' limit 1), 'high', 'the lockout is audited at risk high');

select tests.authenticate_as('mfa_admin');
select public.unlock_mfa('abababab-0000-4000-8000-000000000002', tests.get_supabase_uid('mfa_user'));
reset role;
select is(private.mfa_attempt('abababab-0000-4000-8000-000000000002', (select session_id from s), 'recovery',
  p_recovery_code => (select code from codes offset 1 limit 1)), 'ok', 'an admin''s unlock ends it');

select throws_ok($$ select private.mfa_enroll_totp(tests.get_supabase_uid('mfa_user'), 'AAAA', 'test-key', 'aal1') $$,
  '42501', null, 'replacing a verified factor needs aal2');

select * from finish();
rollback;

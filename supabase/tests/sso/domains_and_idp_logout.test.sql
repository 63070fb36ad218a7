-- SSO email domains (issue 28): claimed and read only with sso:manage in the
-- claiming organization, verified once (one organization per domain), and
-- required of every sign-in unless the local policy waives DNS. The replay
-- record refuses a message twice; an IdP's logout revokes only the sessions
-- it names, through its own connection.
begin;
select plan(22);

select tests.create_supabase_user('dom_owner', 'owner@dom.example');
select tests.create_supabase_user('dom_member', 'member@dom.example');
select tests.create_supabase_user('rival_owner', 'owner@rival.example');
insert into public.organizations (id, name, slug) values
  ('abababab-0000-4000-8000-000000000013', 'Dom Inc', 'dom-inc'),
  ('abababab-0000-4000-8000-000000000014', 'Rival Inc', 'rival-inc');
insert into public.organization_members (org_id, user_id, role) values
  ('abababab-0000-4000-8000-000000000013', tests.get_supabase_uid('dom_owner'), 'owner'),
  ('abababab-0000-4000-8000-000000000013', tests.get_supabase_uid('dom_member'), 'member'),
  ('abababab-0000-4000-8000-000000000014', tests.get_supabase_uid('rival_owner'), 'owner'),
  ('abababab-0000-4000-8000-000000000014', tests.get_supabase_uid('dom_member'), 'member');
update private.sso_domain_policy set dns_verification_required = true;

-- Claiming and reading.
select tests.authenticate_as('dom_owner');
select is((select domain from public.add_sso_domain('abababab-0000-4000-8000-000000000013', 'Dom.Example')),
  'dom.example', 'an owner claims a domain, kept lower-case');
select matches((select verification_token from public.sso_domains), '^[0-9a-f]{32}$',
  'with a 128-bit token for its TXT record');
select throws_ok($$ select public.add_sso_domain('abababab-0000-4000-8000-000000000013', 'not a domain') $$,
  '22023', null, 'a domain must be a DNS name');
select throws_ok($$ insert into public.sso_domains (org_id, domain, verified_at)
  values ('abababab-0000-4000-8000-000000000013', 'self.example', now()) $$,
  '42501', null, 'nobody marks a domain verified by writing the table');
select tests.authenticate_as('dom_member');
select is((select count(*)::int from public.sso_domains), 0, 'a member without sso:manage reads no domain');
select throws_ok($$ select public.add_sso_domain('abababab-0000-4000-8000-000000000013', 'x.example') $$,
  '42501', null, 'nor claims one');
select tests.authenticate_as('rival_owner');
select is((select count(*)::int from public.sso_domains), 0, 'another organization reads none of them');
select throws_ok($$ select public.add_sso_domain('abababab-0000-4000-8000-000000000013', 'y.example') $$,
  '42501', null, 'nor claims one for it');
select throws_ok($$ select public.delete_sso_domain('abababab-0000-4000-8000-000000000013', 'dom.example') $$,
  '42501', null, 'nor gives one of its domains up');
reset role;

-- Verification: first organization only; usable for sign-in once verified.
select is(private.sso_domain_usable('abababab-0000-4000-8000-000000000013', 'dom.example'), false,
  'an unverified domain is not usable for sign-in');
select isnt((select verified_at from private.record_sso_domain_check('abababab-0000-4000-8000-000000000013',
  'dom.example', true)), null, 'a passed TXT check verifies it');
select is(private.sso_domain_usable('abababab-0000-4000-8000-000000000013', 'dom.example'), true,
  'then it is usable');
select tests.authenticate_as('rival_owner');
select throws_ok($$ select public.add_sso_domain('abababab-0000-4000-8000-000000000014', 'dom.example') $$,
  '23505', null, 'a domain another organization verified cannot be claimed');
reset role;
select is(private.sso_domain_usable('abababab-0000-4000-8000-000000000014', 'dom.example'), false,
  'nor used by it');

-- Sign-in by domain, and the domain rule in sign-in.
select tests.authenticate_as('dom_owner');
select id as conn from public.create_sso_connection('abababab-0000-4000-8000-000000000013', 'oidc', 'IdP',
  p_oidc_issuer => 'https://idp.dom.example', p_oidc_client_id => 'c',
  p_allowed_email_domains => array['dom.example', 'other.example'], p_jit_provisioning => true) \gset
reset role;
select is(private.sso_connection_for_domain('DOM.example'), :'conn'::uuid, 'a verified domain finds its connection');
select throws_ok($$ select private.sso_connection_for_domain('other.example') $$, 'PT404', null,
  'an unverified one finds none');
select throws_ok(format($$ select private.sso_complete_signin('abababab-0000-4000-8000-000000000013', %L,
  'someone@other.example', true, '{}', false, repeat('a', 43)) $$, :'conn'), '42501',
  'the email''s domain is not verified by the organization', 'a sign-in for an unverified domain is refused');

-- Replay record.
select is(private.sso_first_use('abababab-0000-4000-8000-000000000013', :'conn', 'https://idp', '_a1',
  now() + interval '5 minutes'), true, 'a message is accepted once');
select is(private.sso_first_use('abababab-0000-4000-8000-000000000013', :'conn', 'https://idp', '_a1',
  now() + interval '5 minutes'), false, 'and refused the second time');

-- An IdP's logout: only the named subject's sessions of that connection.
create temp table s1 as select * from private.start_sso_session('abababab-0000-4000-8000-000000000013',
  tests.get_supabase_uid('dom_member'), :'conn', '[]', p_idp_subject => 'member@dom.example',
  p_idp_session_id => 'sid-1');
create temp table s2 as select * from private.start_sso_session('abababab-0000-4000-8000-000000000013',
  tests.get_supabase_uid('dom_member'), :'conn', '[]', p_idp_subject => 'member@dom.example',
  p_idp_session_id => 'sid-2');
select is(private.revoke_idp_sessions('abababab-0000-4000-8000-000000000013', :'conn', null, 'sid-1',
  'IdP back-channel logout'), 1, 'a logout naming one IdP session revokes that one');
select is((select count(*)::int from public.sso_sessions s join s2 on s.id = s2.session_id
           where s.revoked_at is null), 1, 'the other session lives');
select throws_ok(format($$ select private.revoke_idp_sessions('abababab-0000-4000-8000-000000000013', %L,
  null, null, 'x') $$, :'conn'), '22023', null, 'a logout must name a subject or a session');

update private.sso_domain_policy set dns_verification_required = false;
select * from finish();
rollback;

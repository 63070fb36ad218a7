-- SSO connections (issue 28): managed with sso:manage, validated per
-- protocol, readable only by SSO managers of their own organization;
-- disabling or deleting one revokes the sessions it started.
begin;
select plan(13);

select tests.create_supabase_user('conn_owner', 'owner@conn.example');
select tests.create_supabase_user('conn_member', 'member@conn.example');
select tests.create_supabase_user('other_owner', 'owner@other.example');
insert into public.organizations (id, name, slug) values
  ('abababab-0000-4000-8000-000000000003', 'Conn Inc', 'conn-inc'),
  ('abababab-0000-4000-8000-000000000004', 'Other Inc', 'other-inc');
insert into public.organization_members (org_id, user_id, role) values
  ('abababab-0000-4000-8000-000000000003', tests.get_supabase_uid('conn_owner'), 'owner'),
  ('abababab-0000-4000-8000-000000000003', tests.get_supabase_uid('conn_member'), 'member'),
  ('abababab-0000-4000-8000-000000000004', tests.get_supabase_uid('other_owner'), 'owner');

select tests.authenticate_as('conn_owner');
select lives_ok($$ select public.create_sso_connection('abababab-0000-4000-8000-000000000003', 'oidc', 'Okta',
  p_oidc_issuer => 'https://example.okta.com', p_oidc_client_id => 'client-1',
  p_allowed_email_domains => array['Conn.Example'], p_jit_provisioning => true,
  p_group_role_map => '{"Engineering": "manager"}') $$, 'an owner creates an OIDC connection');
select is((select allowed_email_domains from public.sso_connections), array['conn.example'],
  'domains are kept lower-case');
select throws_ok($$ select public.create_sso_connection('abababab-0000-4000-8000-000000000003', 'oidc', 'x',
  p_oidc_issuer => 'http://plain.example', p_oidc_client_id => 'c') $$,
  '23514', null, 'an issuer must be https');
select throws_ok($$ select public.create_sso_connection('abababab-0000-4000-8000-000000000003', 'saml', 'x',
  p_saml_idp_entity_id => 'urn:x', p_saml_idp_sso_url => 'https://idp.example/sso',
  p_saml_idp_certificates => array['not a certificate']) $$,
  '22023', null, 'SAML certificates must be PEM');
select throws_ok($$ select public.create_sso_connection('abababab-0000-4000-8000-000000000003', 'oidc', 'x',
  p_oidc_issuer => 'https://a.example', p_oidc_client_id => 'c', p_default_role => 'owner') $$,
  '23514', null, 'an identity provider never makes owners');
select throws_ok($$ select public.create_sso_connection('abababab-0000-4000-8000-000000000003', 'oidc', 'x',
  p_oidc_issuer => 'https://a.example', p_oidc_client_id => 'c', p_group_role_map => '{"Admins": "owner"}') $$,
  '23514', null, 'nor maps a group to owner');

select throws_ok($$ select public.update_sso_connection('abababab-0000-4000-8000-000000000003',
  (select id from public.sso_connections), p_saml_idp_entity_id => 'urn:x') $$,
  '23514', null, 'an OIDC connection takes no SAML field, through update as through create');

select tests.authenticate_as('conn_member');
select is((select count(*)::int from public.sso_connections), 0, 'a member without sso:manage reads no connection');
select throws_ok($$ select public.create_sso_connection('abababab-0000-4000-8000-000000000003', 'oidc', 'x',
  p_oidc_issuer => 'https://a.example', p_oidc_client_id => 'c') $$, '42501', null,
  'nor creates one');
select tests.authenticate_as('other_owner');
select is((select count(*)::int from public.sso_connections), 0, 'another organization''s owner reads none of them');
reset role;

-- Disabling revokes the sessions the connection started.
select id as conn from public.sso_connections where org_id = 'abababab-0000-4000-8000-000000000003' \gset
select private.start_sso_session('abababab-0000-4000-8000-000000000003', tests.get_supabase_uid('conn_member'),
  :'conn', '[{"method": "sso/oidc"}]');
select tests.authenticate_as('conn_owner');
select public.update_sso_connection('abababab-0000-4000-8000-000000000003', :'conn', p_enabled => false);
reset role;
select is((select revoked_reason from public.sso_sessions where connection_id = :'conn'), 'connection disabled',
  'disabling a connection revokes its sessions');
select is((select count(*)::int from public.audit_log where org_id = 'abababab-0000-4000-8000-000000000003'
           and resource_type = 'sso_connections'), 2, 'creating and changing connections is audited');

-- Deleting one revokes the sessions it started too.
select public.update_sso_connection('abababab-0000-4000-8000-000000000003', :'conn', p_enabled => true)
  from (select tests.authenticate_as('conn_owner')) a;
reset role;
create temp table again as
select * from private.start_sso_session('abababab-0000-4000-8000-000000000003', tests.get_supabase_uid('conn_member'),
  :'conn', '[{"method": "sso/oidc"}]');
select tests.authenticate_as('conn_owner');
select public.delete_sso_connection('abababab-0000-4000-8000-000000000003', :'conn');
reset role;
select is((select revoked_reason from public.sso_sessions s, again a where s.id = a.session_id),
  'connection deleted', 'deleting a connection revokes its sessions');

select * from finish();
rollback;

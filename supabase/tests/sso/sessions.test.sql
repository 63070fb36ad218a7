-- SSO sessions (issue 28): refresh tokens rotate, a reused one revokes the
-- whole session, a deactivated member loses every session, and the RLS
-- helpers refuse a revoked session and, where SSO is enforced, a password one.
begin;
select plan(14);

select tests.create_supabase_user('sso_user', 'user@sso.example');
insert into public.organizations (id, name, slug)
values ('abababab-0000-4000-8000-000000000001', 'SSO Inc', 'sso-inc');
select tests.create_supabase_user('sso_owner', 'owner@sso.example');
insert into public.organization_members (org_id, user_id, role) values
  ('abababab-0000-4000-8000-000000000001', tests.get_supabase_uid('sso_owner'), 'owner'),
  ('abababab-0000-4000-8000-000000000001', tests.get_supabase_uid('sso_user'), 'member');

create temp table started as
select * from private.start_sso_session('abababab-0000-4000-8000-000000000001', tests.get_supabase_uid('sso_user'),
  'abababab-0000-4000-8000-0000000000c1', '[{"method": "sso/oidc", "timestamp": 1}]');
select ok((select refresh_token ~ '^[A-Za-z0-9_-]{43}$' from started), 'a refresh token of 256 random bits');
select is((select count(*)::int from private.sso_refresh_tokens t, started s
           where t.token_hash = extensions.digest(s.refresh_token, 'sha256')), 1,
  'only its hash is stored');

-- ROTATION
create temp table first_refresh as
select * from private.refresh_sso_session((select refresh_token from started));
select isnt((select refresh_token from first_refresh), (select refresh_token from started), 'refreshing issues a new token');
create temp table second_refresh as
select * from private.refresh_sso_session((select refresh_token from first_refresh));
select is((select email from second_refresh), 'user@sso.example', 'the child refreshes in turn, with the user''s email');

-- A retry within the reuse interval (a lost response) gets a fresh child.
create temp table retried as
select * from private.refresh_sso_session((select refresh_token from first_refresh));
select ok((select error is null and refresh_token is not null from retried),
  'the immediate parent is accepted again within the reuse interval (its unused child is replaced)');

-- REUSE past the interval revokes the family.
select is((select error from private.refresh_sso_session((select refresh_token from started), '0 seconds')),
  'refresh token reused: the session is revoked', 'a reused token is refused');
select is((select revoked_reason from public.sso_sessions s, started st where s.id = st.session_id),
  'refresh token reused', 'and the whole session is revoked');
select is((select error from private.refresh_sso_session((select refresh_token from retried))),
  'the session was revoked (refresh token reused)', 'every token of the family stops working');
select is((select risk::text from public.audit_log where org_id = 'abababab-0000-4000-8000-000000000001'
           and action = 'session.revoked' order by seq desc limit 1), 'high', 'reuse is audited at risk high');

-- DEACTIVATION revokes every session at once.
create temp table another as
select * from private.start_sso_session('abababab-0000-4000-8000-000000000001', tests.get_supabase_uid('sso_user'),
  'abababab-0000-4000-8000-0000000000c1', '[{"method": "sso/saml", "timestamp": 1}]');
update public.organization_members set status = 'deactivated'
where org_id = 'abababab-0000-4000-8000-000000000001' and user_id = tests.get_supabase_uid('sso_user');
select is((select revoked_reason from public.sso_sessions s, another a where s.id = a.session_id),
  'member deactivated', 'deactivating the member revokes its sessions');
update public.organization_members set status = 'active'
where org_id = 'abababab-0000-4000-8000-000000000001' and user_id = tests.get_supabase_uid('sso_user');

-- RLS: a live SSO session reads; a revoked one does not; enforced SSO refuses a
-- password session.
create temp table live as
select * from private.start_sso_session('abababab-0000-4000-8000-000000000001', tests.get_supabase_uid('sso_user'),
  'abababab-0000-4000-8000-0000000000c1', '[{"method": "sso/oidc", "timestamp": 1}]');
grant select on live to authenticated;
select set_config('request.jwt.claims', jsonb_build_object(
  'sub', tests.get_supabase_uid('sso_user'), 'role', 'authenticated', 'aal', 'aal1',
  'amr', '[{"method": "sso/oidc"}]', 'session_id', (select session_id from live),
  'app_metadata', jsonb_build_object('org_id', 'abababab-0000-4000-8000-000000000001',
                                     'sso_connection_id', 'abababab-0000-4000-8000-0000000000c1'))::text, true);
set local role authenticated;
select is((select count(*)::int from public.organization_members where org_id = 'abababab-0000-4000-8000-000000000001'), 2,
  'a live SSO session reads the organization''s data');
reset role;
update public.sso_sessions set revoked_at = now(), revoked_reason = 'test' where id = (select session_id from live);
set local role authenticated;
select is((select count(*)::int from public.organization_members where org_id = 'abababab-0000-4000-8000-000000000001'), 0,
  'a revoked session reads nothing, though its token has not expired');
reset role;

update public.organizations set sso_enforced = true where id = 'abababab-0000-4000-8000-000000000001';
select tests.authenticate_as('sso_user');
select is((select count(*)::int from public.organization_members where org_id = 'abababab-0000-4000-8000-000000000001'), 0,
  'with SSO enforced, a password session reads nothing');
reset role;
select is(private.session_meets_org_policy(false, false), true, 'without a policy any session passes');

select * from finish();
rollback;

-- Rotation hands the successor's secret to the caller, so it follows the rule
-- creation follows: no scope the caller does not hold (issue 26, item 3).
begin;
select plan(4);

select tests.create_supabase_user('rot_owner', 'owner@rotation.example');
select tests.create_supabase_user('rot_admin', 'admin@rotation.example');
insert into public.organizations (id, name, slug)
values ('cccccccc-0000-4000-8000-0000000000a3', 'Rotation Inc', 'rotation-inc');
insert into public.organization_members (org_id, user_id, role) values
  ('cccccccc-0000-4000-8000-0000000000a3', tests.get_supabase_uid('rot_owner'), 'owner'),
  ('cccccccc-0000-4000-8000-0000000000a3', tests.get_supabase_uid('rot_admin'), 'admin');

select tests.authenticate_as('rot_owner');
create temp table owner_key as
select * from public.create_api_key('cccccccc-0000-4000-8000-0000000000a3', 'Owner automation',
  p_scopes => array['org:delete', 'billing:manage', 'customers:read']);
create temp table admin_key as
select * from public.create_api_key('cccccccc-0000-4000-8000-0000000000a3', 'Shared reader',
  p_scopes => array['customers:read']);
grant all on owner_key, admin_key to authenticated;

select tests.authenticate_as('rot_admin');
select throws_ok(
  $$ select * from public.rotate_api_key('cccccccc-0000-4000-8000-0000000000a3', (select id from owner_key)) $$,
  '42501', 'cannot rotate a key with scope "billing:manage" that the caller does not hold',
  'an admin cannot rotate a key carrying scopes only the owner holds');
select lives_ok(
  $$ select * from public.rotate_api_key('cccccccc-0000-4000-8000-0000000000a3', (select id from admin_key)) $$,
  'an admin rotates a key whose scopes they hold');

reset role;
select is(
  (select replaced_by from public.api_keys where id = (select id from owner_key)), null,
  'the refused rotation issued no successor');
select tests.authenticate_as('rot_admin');
select throws_ok(
  $$ select * from public.create_api_key('cccccccc-0000-4000-8000-0000000000a3', 'x', p_scopes => array['billing:manage']) $$,
  '42501', 'cannot grant scope "billing:manage" that the caller does not hold',
  'creation and rotation refuse the same scopes');
reset role;

select * from finish();
rollback;

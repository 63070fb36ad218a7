-- The role matrix and the member rules: read-only never writes, owners make
-- owners, an organization keeps an owner, seats are enforced, deactivation and
-- MFA requirements take effect at once, invitations are single-use and bound
-- to their email address.
begin;
select plan(32);

select tests.create_supabase_user('owner', 'owner@acme.example');
select tests.create_supabase_user('admin', 'admin@acme.example');
select tests.create_supabase_user('manager', 'manager@acme.example');
select tests.create_supabase_user('member', 'member@acme.example');
select tests.create_supabase_user('reader', 'reader@acme.example');
select tests.create_supabase_user('newcomer', 'newcomer@acme.example');
select tests.create_supabase_user('outsider', 'outsider@other.example');

-- CREATE: the caller becomes owner, with a default workspace.
select tests.authenticate_as('owner');
select lives_ok($$ select public.create_organization('Acme', 'roles-acme') $$,
  'a signed-in user creates an organization');
create temp table org as select id from public.organizations where slug = 'roles-acme';
grant select on org to authenticated;
select results_eq(
  $$ select role::text, status::text from public.organization_members where org_id = (select id from org) $$,
  $$ values ('owner', 'active') $$,
  'the creator is its active owner');
select is((select count(*)::int from public.workspaces where org_id = (select id from org)), 1,
  'a default workspace comes with it');
select throws_ok($$ select public.create_organization('Dup', 'roles-acme') $$, '23505',
  'slug "roles-acme" is taken', 'slugs are unique');
select throws_ok($$ select public.create_organization('Bad', 'Not A Slug') $$, '22023',
  'slug must be 1-63 lowercase letters, digits and inner hyphens', 'slugs are validated');

-- Bring in the other roles through invitations (free plan: 3 seats).
reset role;
update public.organizations set plan = 'professional' where id = (select id from org);
select tests.authenticate_as('owner');
create temp table tokens (who text, token text);
grant select on tokens to authenticated;
insert into tokens
select who, (public.invite_member((select id from org), email, role::public.org_role)).token
from (values ('admin', 'admin@acme.example', 'admin'), ('manager', 'manager@acme.example', 'manager'),
             ('member', 'member@acme.example', 'member'), ('reader', 'reader@acme.example', 'read_only'))
     as v (who, email, role);
select is((select count(*)::int from public.invitations where org_id = (select id from org)), 4,
  'the owner invited four people');
select tests.authenticate_as('admin');
select lives_ok($$ select public.accept_invitation((select token from tokens where who = 'admin')) $$,
  'the invitee accepts with the token');
select throws_ok($$ select public.accept_invitation((select token from tokens where who = 'admin')) $$,
  '22023', 'invitation is no longer valid', 'a token works once');
select tests.authenticate_as('outsider');
select throws_ok($$ select public.accept_invitation((select token from tokens where who = 'manager')) $$,
  '42501', 'invitation was sent to another email address', 'a token is bound to its email');
select tests.authenticate_as('manager');
select public.accept_invitation((select token from tokens where who = 'manager'));
select tests.authenticate_as('member');
select public.accept_invitation((select token from tokens where who = 'member'));
select tests.authenticate_as('reader');
select public.accept_invitation((select token from tokens where who = 'reader'));
select throws_ok($$ select public.accept_invitation('inv_not-a-real-token') $$, 'PT404',
  'invitation not found', 'an unknown token is not found');

-- ROLE MATRIX
select tests.authenticate_as('reader');
select is((select count(*)::int from public.organization_members where org_id = (select id from org)), 5,
  'read_only reads the members');
select throws_ok($$ select public.create_workspace((select id from org), 'R', 'r-ws') $$, '42501',
  format('permission denied: workspaces:manage on organization %s', (select id from org)),
  'read_only cannot create a workspace');
select is_empty($$ update public.organizations set name = 'x' where id = (select id from org) returning id $$,
  'read_only cannot change settings');
select is_empty($$ update public.workspaces set name = 'x' where org_id = (select id from org) returning id $$,
  'read_only cannot rename workspaces');
select tests.authenticate_as('member');
select throws_ok($$ select public.invite_member((select id from org), 'x@acme.example') $$, '42501',
  null, 'a member cannot invite');
select tests.authenticate_as('manager');
select throws_ok($$ select public.change_member_role((select id from org), tests.get_supabase_uid('member'), 'admin') $$,
  '42501', null, 'a manager cannot change roles');
select is(public.has_permission((select id from org), 'customers:export'), true,
  'a manager can export customers');
select tests.authenticate_as('admin');
select throws_ok($$ select public.invite_member((select id from org), 'boss@acme.example', 'owner') $$,
  '42501', 'only an owner can invite an owner', 'an admin cannot invite an owner');
select throws_ok($$ select public.change_member_role((select id from org), tests.get_supabase_uid('member'), 'owner') $$,
  '42501', 'only an owner can make another member an owner', 'an admin cannot make an owner');
select throws_ok($$ select public.change_member_role((select id from org), tests.get_supabase_uid('owner'), 'member') $$,
  '42501', 'only an owner can change or remove an owner', 'an admin cannot demote an owner');
select is((public.change_member_role((select id from org), tests.get_supabase_uid('member'), 'manager')).role,
  'manager'::public.org_role, 'an admin changes a member to manager');
select is(public.has_permission((select id from org), 'billing:manage'), false,
  'billing stays with owners');

-- OWNERS
select tests.authenticate_as('owner');
select throws_ok($$ select public.leave_organization((select id from org)) $$, '23514',
  'an organization must keep at least one active owner', 'the last owner cannot leave');
select throws_ok($$ select public.change_member_role((select id from org), auth.uid(), 'admin') $$, '23514',
  'an organization must keep at least one active owner', 'the last owner cannot demote themself');
select is((public.change_member_role((select id from org), tests.get_supabase_uid('admin'), 'owner')).role,
  'owner'::public.org_role, 'an owner makes another owner');
select lives_ok($$ select public.change_member_role((select id from org), auth.uid(), 'admin') $$,
  'with a second owner, an owner may step down');

-- DEACTIVATION: access ends with the next statement.
select tests.authenticate_as('admin');
select public.deactivate_member((select id from org), tests.get_supabase_uid('reader'));
select tests.authenticate_as('reader');
select is((select count(*)::int from public.organizations where id = (select id from org)), 0,
  'a deactivated member sees nothing at once');

-- SEATS: the free plan has 3.
reset role;
update public.organizations set plan = 'free' where id = (select id from org);
select tests.authenticate_as('admin');
select lives_ok(
  $$ insert into tokens select 'newcomer', (public.invite_member((select id from org), 'newcomer@acme.example')).token $$,
  'inviting needs no free seat');
select tests.authenticate_as('newcomer');
select throws_ok($$ select public.accept_invitation((select token from tokens where who = 'newcomer')) $$,
  '23514', 'seat limit reached: 4 of 3 seats on the free plan are in use', 'accepting needs a free seat');
reset role;
update public.organizations set seat_limit_override = 10 where id = (select id from org);
select tests.authenticate_as('newcomer');
select lives_ok($$ select public.accept_invitation((select token from tokens where who = 'newcomer')) $$,
  'a seat override lets them in');

-- MFA REQUIRED: aal1 sessions lose access, aal2 sessions keep it.
reset role;
update public.organizations set mfa_required = true where id = (select id from org);
select tests.authenticate_as('admin', 'aal1');
select is((select count(*)::int from public.organizations where id = (select id from org)), 0,
  'with mfa_required, an aal1 session sees nothing');
select tests.authenticate_as('admin', 'aal2');
select is((select count(*)::int from public.organizations where id = (select id from org)), 1,
  'with mfa_required, an aal2 session keeps access');

select * from finish();
rollback;

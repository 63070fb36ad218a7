-- An identity's organization is checked through its profile's key since
-- 20261122140000 dropped the direct key to organizations: an identity still
-- cannot name a missing organization nor another organization's profile, and
-- deleting an organization still removes its identities.
begin;
select plan(7);

insert into public.organizations (id, name, slug) values
  ('16161616-0000-4000-8000-000000000001', 'Keys A', 'keys-a'),
  ('16161616-0000-4000-8000-000000000002', 'Keys B', 'keys-b');
insert into public.profiles (org_id, id, first_seen_at, last_seen_at) values
  ('16161616-0000-4000-8000-000000000001', '16161616-0000-4000-8000-0000000000a1', now(), now()),
  ('16161616-0000-4000-8000-000000000002', '16161616-0000-4000-8000-0000000000b1', now(), now());

select col_isnt_fk('public', 'identities', array['org_id'],
  'no key of its own to organizations: the profile key covers it');
select fk_ok('public', 'identities', array['org_id', 'profile_id'], 'public', 'profiles', array['org_id', 'id'],
  'the profile key names the organization too');

select throws_ok(
  $$ insert into public.identities (org_id, type, value, profile_id, first_seen_at, last_seen_at)
     values ('16161616-0000-4000-8000-0000000000ff', 'user_id', 'ghost', '16161616-0000-4000-8000-0000000000a1',
             now(), now()) $$,
  '23503', null, 'an identity of an organization that does not exist is refused');
select throws_ok(
  $$ insert into public.identities (org_id, type, value, profile_id, first_seen_at, last_seen_at)
     values ('16161616-0000-4000-8000-000000000001', 'user_id', 'crossed', '16161616-0000-4000-8000-0000000000b1',
             now(), now()) $$,
  '23503', null, 'an identity cannot name another organization''s profile');

insert into public.identities (org_id, type, value, profile_id, first_seen_at, last_seen_at)
values ('16161616-0000-4000-8000-000000000001', 'user_id', 'kept', '16161616-0000-4000-8000-0000000000a1',
        now(), now());
select is((select count(*)::int from public.identities where org_id = '16161616-0000-4000-8000-000000000001'),
  1, 'an identity of its own organization''s profile is accepted');
select throws_ok(
  $$ update public.identities set org_id = '16161616-0000-4000-8000-000000000002'
     where org_id = '16161616-0000-4000-8000-000000000001' $$,
  '23503', null, 'nor be moved to another organization away from its profile');

delete from public.organizations where id = '16161616-0000-4000-8000-000000000001';
select is((select count(*)::int from public.identities where value = 'kept'), 0,
  'deleting the organization removes its identities, through their profiles');

select * from finish();
rollback;

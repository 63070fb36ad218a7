-- Row-level security of saved views: a user reads and changes only their own,
-- through table access and through the save_view RPC; anon gets nothing.
begin;
select plan(16);

select tests.create_supabase_user('alice');
select tests.create_supabase_user('bob');

insert into public.saved_views (owner_id, name, definition) values
  (tests.get_supabase_uid('alice'), 'alice one', '{"a": 1}'),
  (tests.get_supabase_uid('alice'), 'alice two', '{"a": 2}'),
  (tests.get_supabase_uid('bob'), 'bob one', '{"b": 1}');

-- READ
select tests.authenticate_as('alice');
select results_eq(
  $$ select name from public.saved_views order by name $$,
  array['alice one', 'alice two'],
  'alice reads only her own views');

select tests.authenticate_as('bob');
select results_eq(
  $$ select name from public.saved_views $$,
  array['bob one'],
  'bob reads only his own views');

-- WRITE ACROSS USERS
select throws_ok(
  format($$ insert into public.saved_views (owner_id, name) values (%L, 'planted') $$,
         tests.get_supabase_uid('alice')),
  '42501',
  'new row violates row-level security policy for table "saved_views"',
  'bob cannot insert a view owned by alice');

select is_empty(
  $$ update public.saved_views set name = 'hijacked' where name like 'alice%' returning id $$,
  'bob cannot update alice''s views');

select is_empty(
  $$ delete from public.saved_views where name like 'alice%' returning id $$,
  'bob cannot delete alice''s views');

select throws_ok(
  format($$ update public.saved_views set owner_id = %L where name = 'bob one' $$,
         tests.get_supabase_uid('alice')),
  '42501',
  'permission denied for table saved_views',
  'bob cannot give a view to another owner (no UPDATE grant on owner_id)');

select lives_ok(
  $$ insert into public.saved_views (name) values ('bob two') $$,
  'an insert without owner_id defaults to the caller');

select results_eq(
  $$ select count(*)::int from public.saved_views where owner_id = auth.uid() $$,
  array[2],
  'bob now has two views');

-- RPC
select is(
  (public.save_view('bob one', '{"b": 99}')).definition,
  '{"b": 99}'::jsonb,
  'save_view replaces the definition of an existing view by name');

select throws_ok(
  $$ select public.save_view('   ', '{}') $$,
  '22023',
  'name must be 1 to 120 characters',
  'save_view rejects a blank name with a clear SQLSTATE');

select tests.authenticate_as('alice');
select is(
  (public.save_view('bob one', '{"mine": true}')).owner_id,
  tests.get_supabase_uid('alice'),
  'save_view with a name another user has creates the caller''s own view');

reset role;
select results_eq(
  $$ select definition from public.saved_views
     where owner_id = tests.get_supabase_uid('bob') and name = 'bob one' $$,
  array['{"b": 99}'::jsonb],
  'alice''s save_view left bob''s view as it was');

-- ANON
select tests.clear_authentication();
select throws_ok(
  $$ select * from public.saved_views $$,
  '42501',
  'permission denied for table saved_views',
  'anon cannot read saved views');
select throws_ok(
  $$ select public.save_view('anon view') $$,
  '42501',
  'permission denied for function save_view',
  'anon cannot call save_view');

-- SERVICE ROLE
select tests.authenticate_as_service_role();
select results_eq(
  $$ select count(*)::int from public.saved_views
     where owner_id in (tests.get_supabase_uid('alice'), tests.get_supabase_uid('bob')) $$,
  array[5],
  'service_role sees every user''s views');

reset role;
select policies_are('public', 'saved_views', array[
  'Users can read their own saved views',
  'Users can create saved views for themselves',
  'Users can update their own saved views',
  'Users can delete their own saved views'
], 'saved_views has exactly one policy per command');

select * from finish();
rollback;

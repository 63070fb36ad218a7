-- A saved view's definition is a filter, bounded at 64 KB (issue 26, item 20).
begin;
select plan(2);

select tests.create_supabase_user('viewer_big', 'big@views.example');
select tests.authenticate_as('viewer_big');
select throws_ok(
  $$ insert into public.saved_views (name, definition)
     values ('huge', jsonb_build_object('blob', repeat('x', 70000))) $$,
  '23514', null, 'a definition over 64 KB is refused');
select lives_ok(
  $$ insert into public.saved_views (name, definition)
     values ('normal', jsonb_build_object('blob', repeat('x', 60000))) $$,
  'one under the bound is saved');

select * from finish();
rollback;

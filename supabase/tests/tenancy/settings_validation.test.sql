-- Settings are checked when written, with errors that name the key, and
-- ingestion reads them through private.usable_numbers, so that a value it
-- cannot use falls back to the default instead of failing every batch
-- (issue 26, item 10).
begin;
select plan(9);

select tests.create_supabase_user('settings_admin', 'admin@settings.example');
insert into public.organizations (id, name, slug)
values ('cccccccc-0000-4000-8000-0000000000a5', 'Settings Inc', 'settings-inc');
insert into public.organization_members (org_id, user_id, role)
values ('cccccccc-0000-4000-8000-0000000000a5', tests.get_supabase_uid('settings_admin'), 'admin');

select tests.authenticate_as('settings_admin');
select throws_ok(
  $$ update public.organizations set settings = '{"engagement_weights": {"track": "heavy"}}'
     where id = 'cccccccc-0000-4000-8000-0000000000a5' $$,
  '22023', 'settings.engagement_weights.track must be a number from 0 to 1000',
  'a weight that is no number is refused, naming the key');
select throws_ok(
  $$ update public.organizations set settings = '{"ip_handling": "hide"}'
     where id = 'cccccccc-0000-4000-8000-0000000000a5' $$,
  '22023', 'settings.ip_handling must be one of keep, truncate, drop',
  'an unknown ip_handling is refused');
select lives_ok(
  $$ update public.organizations set settings = '{"engagement_weights": {"track": 4, "event:Order Completed": 10}, "ip_handling": "truncate"}'
     where id = 'cccccccc-0000-4000-8000-0000000000a5' $$,
  'valid settings are saved');
reset role;

select throws_ok(
  $$ insert into public.identity_settings (org_id, priorities)
     values ('cccccccc-0000-4000-8000-0000000000a5', '{"email": "first"}') $$,
  '22023', 'priorities.email must be a whole number from 1 to 1000',
  'a priority that is no number is refused, naming the key');
select throws_ok(
  $$ insert into public.identity_settings (org_id, limits)
     values ('cccccccc-0000-4000-8000-0000000000a5', '{"emails": 3}') $$,
  '22023', 'limits.emails is not an identifier type',
  'a limit for an unknown identifier type is refused');
select lives_ok(
  $$ insert into public.identity_settings (org_id, limits, priorities)
     values ('cccccccc-0000-4000-8000-0000000000a5', '{"user_id": 1, "email": 2, "*": 5}', '{"email": 1}') $$,
  'valid identity settings are saved');

select is(private.usable_numbers('{"track": "heavy", "page": 2, "identify": null}'),
  '{"page": 2}'::jsonb, 'ingestion keeps only the numbers of a settings object');
select is(private.usable_numbers('{"email": 1.5, "user_id": 1, "phone": 99999999999}', true),
  '{"user_id": 1}'::jsonb, 'and only whole numbers an int holds where it casts to int');
select is(private.usable_numbers('"not an object"'), '{}'::jsonb,
  'a settings value that is no object reads as empty');

select * from finish();
rollback;

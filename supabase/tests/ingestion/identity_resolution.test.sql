-- Identity resolution as Segment Unify documents it: identifiers resolve to the
-- profile that owns them, new ones attach, two profiles meeting merge into the
-- oldest, limits drop the weakest identifier (recorded), blocked values never
-- identify, and a merge can be undone.
begin;
select plan(28);

insert into public.organizations (id, name, slug) values ('12121212-0000-4000-8000-000000000001', 'Resolve', 'resolve');
insert into public.sources (org_id, id, name) values
  ('12121212-0000-4000-8000-000000000001', '12121212-0000-4000-8000-0000000000a1', 'Web');

create function pg_temp.ingest(variadic p_msgs jsonb[]) returns jsonb language sql as $$
  select private.ingest_batch('12121212-0000-4000-8000-000000000001', '12121212-0000-4000-8000-0000000000a1',
                              to_jsonb(p_msgs))
$$;
create function pg_temp.owner(p_type text, p_value text) returns uuid language sql as $$
  select profile_id from public.identities
  where org_id = '12121212-0000-4000-8000-000000000001' and type = p_type and value = p_value
$$;
create function pg_temp.live_profiles() returns bigint language sql as $$
  select count(*) from public.profiles
  where org_id = '12121212-0000-4000-8000-000000000001' and merged_into is null
$$;

-- NEW, THEN ATTACH
select pg_temp.ingest(tests.ingest_message('page', 'p1', 0, '[{"type": "anonymous_id", "value": "anon-1"}]'));
select is(pg_temp.live_profiles(), 1::bigint, 'an unknown anonymous visitor gets a new profile');
select pg_temp.ingest(tests.ingest_message('identify', 'i1', 60,
  '[{"type": "anonymous_id", "value": "anon-1"}, {"type": "user_id", "value": "u-1"},
    {"type": "email", "value": "  Ann.Lee@Example.COM "}]',
  '{"traits": {"email": "Ann.Lee@Example.COM", "plan": "free"}}'));
select is(pg_temp.live_profiles(), 1::bigint, 'identify attaches user_id and email to the visitor''s profile');
select is(pg_temp.owner('email', 'ann.lee@example.com'), pg_temp.owner('anonymous_id', 'anon-1'),
  'emails are stored lower-cased and trimmed');
select is((select traits ->> 'plan' from public.profiles where id = pg_temp.owner('user_id', 'u-1')), 'free',
  'identify traits land on the profile');

-- MERGE: a second anonymous profile meets the known user.
select pg_temp.ingest(tests.ingest_message('page', 'p2', 120, '[{"type": "anonymous_id", "value": "anon-2"}]'));
select is(pg_temp.live_profiles(), 2::bigint, 'another visitor is another profile');
select pg_temp.ingest(tests.ingest_message('identify', 'i2', 180,
  '[{"type": "anonymous_id", "value": "anon-2"}, {"type": "user_id", "value": "u-1"}]'));
select is(pg_temp.live_profiles(), 1::bigint, 'when identifiers of two profiles meet, they merge');
select is(pg_temp.owner('anonymous_id', 'anon-2'), pg_temp.owner('user_id', 'u-1'),
  'the merged profile''s identities move to the survivor');
select is(
  (select winner_id from public.profile_merges where org_id = '12121212-0000-4000-8000-000000000001'),
  pg_temp.owner('anonymous_id', 'anon-1'), 'the oldest profile survives and the merge is recorded');
select is((select event_count from public.profiles where id = pg_temp.owner('user_id', 'u-1')), 4::bigint,
  'the survivor counts the merged profile''s events');

-- LIMITS: one user_id per profile. A shared device must not fuse two people.
select pg_temp.ingest(tests.ingest_message('identify', 'i3', 240,
  '[{"type": "user_id", "value": "u-2"}, {"type": "anonymous_id", "value": "anon-1"}]'));
select isnt(pg_temp.owner('user_id', 'u-2'), pg_temp.owner('user_id', 'u-1'),
  'a second user_id on the same device resolves to its own profile');
select is(pg_temp.owner('anonymous_id', 'anon-1'), pg_temp.owner('user_id', 'u-1'),
  'the shared anonymous id stays with its first owner');
select is(
  (select type || '=' || value from public.identity_conflicts where message_id = 'i3'),
  'anonymous_id=anon-1', 'the dropped identifier is recorded as a conflict');
select is((select profile_id from public.events where message_id = 'i3'), pg_temp.owner('user_id', 'u-2'),
  'the event goes to the profile it was matched to');

-- BLOCKED VALUES
select pg_temp.ingest(tests.ingest_message('track', 't-blocked', 300,
  '[{"type": "user_id", "value": "undefined"}, {"type": "anonymous_id", "value": "00000000-0000-0000-0000-000000000000"}]',
  '{"event": "Clicked"}'));
select is((select count(*)::int from public.identities where value in ('undefined', '00000000-0000-0000-0000-000000000000')), 0,
  'blocked values never become identities');
select is((select profile_id from public.events where message_id = 't-blocked'), null,
  'a message with only blocked identifiers is stored without a profile');
insert into public.identity_settings (org_id, blocked_values, fold_gmail_addresses)
values ('12121212-0000-4000-8000-000000000001', '{QA-Tester}', true);
select pg_temp.ingest(tests.ingest_message('track', 't-qa', 310, '[{"type": "user_id", "value": "qa-tester"}]', '{"event": "x"}'));
select is(pg_temp.owner('user_id', 'qa-tester'), null, 'per-organization blocked values apply, case-insensitively');

-- NORMALIZATION
select pg_temp.ingest(tests.ingest_message('identify', 'i-gmail', 320,
  '[{"type": "user_id", "value": "u-3"}, {"type": "email", "value": "J.Doe+promo@GMail.com"},
    {"type": "phone", "value": "+1 (415) 555-0100"}]'));
select isnt(pg_temp.owner('email', 'jdoe@gmail.com'), null, 'Gmail dots and +tags fold when the organization asks');
select isnt(pg_temp.owner('phone', '+14155550100'), null, 'phones are stored as E.164 digits');
select is(private.normalize_identifier('phone', '0044 20 7946 0958'), '+442079460958',
  'an international 00 prefix becomes +');

-- ALIAS: previousId joins the new userId.
select pg_temp.ingest(tests.ingest_message('page', 'p-9', 400, '[{"type": "anonymous_id", "value": "anon-9"}]'));
select pg_temp.ingest(tests.ingest_message('alias', 'a-9', 410,
  '[{"type": "user_id", "value": "u-9"}, {"type": "previous_id", "value": "anon-9"}]'));
select is(pg_temp.owner('user_id', 'u-9'), pg_temp.owner('anonymous_id', 'anon-9'),
  'alias links the previous id to the user id');

-- IDEMPOTENCY
select is(pg_temp.ingest(tests.ingest_message('page', 'p1', 0, '[{"type": "anonymous_id", "value": "anon-1"}]')) ->> 'duplicates',
  '1', 'a repeated messageId is acknowledged as a duplicate');
select is((select count(*)::int from public.events where message_id = 'p1'), 1, 'and stored once');

-- TRAITS: latest timestamp wins per key; $unset removes.
select pg_temp.ingest(tests.ingest_message('identify', 'i-old', 30,
  '[{"type": "user_id", "value": "u-1"}]', '{"traits": {"plan": "trial", "company": "Acme"}}'));
select is((select traits - 'email' from public.profiles where id = pg_temp.owner('user_id', 'u-1')),
  '{"plan": "free", "company": "Acme"}'::jsonb, 'an older value does not overwrite a newer one; new keys merge in');
select pg_temp.ingest(tests.ingest_message('identify', 'i-unset', 500,
  '[{"type": "user_id", "value": "u-1"}]', '{"traits": {"$unset": ["company"]}}'));
select ok(not ((select traits from public.profiles where id = pg_temp.owner('user_id', 'u-1')) ? 'company'),
  '$unset removes a trait');

-- ENGAGEMENT AND LIFECYCLE
select pg_temp.ingest(tests.ingest_message('track', 't-buy', 600, '[{"type": "user_id", "value": "u-1"}]',
  '{"event": "Order Completed", "revenue": 99.5}'));
select results_eq(
  $$ select lifecycle_stage::text, revenue, engagement_score > 0 from public.profiles
     where id = pg_temp.owner('user_id', 'u-1') $$,
  $$ values ('customer', 99.5::numeric, true) $$,
  'revenue makes a customer; engagement is scored');

-- HISTORICAL EVENTS get their partition.
select pg_temp.ingest(jsonb_build_object('message_id', 'old-1', 'type', 'track', 'event', 'Imported',
  'timestamp', '2025-03-04T05:06:07Z', 'received_at', '2026-11-20T12:00:00Z',
  'identifiers', '[{"type": "user_id", "value": "u-1"}]'::jsonb));
select isnt(to_regclass('partitions.events_p2025_03_04'), null, 'an imported day gets its partition');

-- UNMERGE
select tests.create_supabase_user('resolver_admin');
insert into public.organization_members (org_id, user_id, role)
values ('12121212-0000-4000-8000-000000000001', tests.get_supabase_uid('resolver_admin'), 'admin');
select tests.authenticate_as('resolver_admin');
select public.unmerge_profiles('12121212-0000-4000-8000-000000000001',
  (select id from public.profile_merges where org_id = '12121212-0000-4000-8000-000000000001' limit 1));
reset role;
select isnt(pg_temp.owner('anonymous_id', 'anon-2'), pg_temp.owner('user_id', 'u-1'),
  'unmerge gives the merged profile its identities back');
select is((select merged_into from public.profiles where id = pg_temp.owner('anonymous_id', 'anon-2')), null,
  'and it stands alone again');

select * from finish();
rollback;

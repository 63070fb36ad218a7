-- The profile API as a member with customers:read calls it: search by email
-- prefix (as typed, case-insensitive, on the index) and by trait, keyset pages
-- newest first, a profile with its identities, merged profiles and latest
-- events, and its journey of touchpoints.
begin;
select plan(19);

select tests.create_supabase_user('pa_member');
insert into public.organizations (id, name, slug) values ('17171717-0000-4000-8000-000000000001', 'Profiles', 'pa');
insert into public.organization_members (org_id, user_id, role, status)
values ('17171717-0000-4000-8000-000000000001', tests.get_supabase_uid('pa_member'), 'member', 'active');
insert into public.sources (org_id, id, name) values
  ('17171717-0000-4000-8000-000000000001', '17171717-0000-4000-8000-0000000000a1', 'Web');

-- Four people with emails, then an anonymous visitor who arrives from a paid
-- search and turns out to be Ann (merged into her older profile), then buys.
select private.ingest_batch('17171717-0000-4000-8000-000000000001', '17171717-0000-4000-8000-0000000000a1',
  to_jsonb(array[
    tests.ingest_message('identify', 'p1', 0,
      '[{"type": "user_id", "value": "u-ann"}, {"type": "email", "value": "Ann_Lee@Example.com"}]',
      '{"traits": {"email": "Ann_Lee@Example.com", "plan": "pro"}}'),
    tests.ingest_message('identify', 'p2', 10, '[{"type": "user_id", "value": "u-annx"}]',
      '{"traits": {"email": "annxlee@example.com", "plan": "free"}}'),
    tests.ingest_message('identify', 'p3', 20, '[{"type": "user_id", "value": "u-bob"}]',
      '{"traits": {"email": "bob@example.com", "plan": "pro"}}'),
    tests.ingest_message('identify', 'p4', 30, '[{"type": "user_id", "value": "u-pct"}]',
      '{"traits": {"email": "100%off@example.com"}}'),
    tests.ingest_message('page', 'p5', 40, '[{"type": "anonymous_id", "value": "v-ann"}]',
      '{"channel": "paid_search", "utm_source": "google", "utm_medium": "cpc"}'),
    tests.ingest_message('identify', 'p6', 50,
      '[{"type": "user_id", "value": "u-ann"}, {"type": "anonymous_id", "value": "v-ann"}]'),
    tests.ingest_message('track', 'p7', 60, '[{"type": "user_id", "value": "u-ann"}]',
      '{"event": "Order Completed"}')]));

select tests.authenticate_as('pa_member');

create function pg_temp.found(p_email text default null, p_trait text default null, p_value text default null)
returns text[] language sql as $$
  select array_agg(p.email order by p.last_seen_at desc, p.id desc)
  from public.search_profiles('17171717-0000-4000-8000-000000000001', p_email, p_trait, p_value) p
$$;

-- SEARCH BY EMAIL PREFIX: what the user typed, LIKE's characters included.
select is(pg_temp.found('ann_'), array['Ann_Lee@Example.com'],
  'an underscore in the prefix is a character, not a wildcard');
select is(pg_temp.found('ANN'), array['Ann_Lee@Example.com', 'annxlee@example.com'],
  'the prefix is case-insensitive, newest activity first');
select is(pg_temp.found('100%'), array['100%off@example.com'], 'a percent sign is a character');
select is(pg_temp.found('%'), null, 'a lone percent sign matches no email');
select is(pg_temp.found('nobody'), null, 'an unknown prefix finds nothing');

-- SEARCH BY TRAIT
select is(pg_temp.found(null, 'plan', 'pro'), array['Ann_Lee@Example.com', 'bob@example.com'],
  'a trait value finds its profiles, newest activity first');

-- KEYSET PAGES: two at a time, each page after the last row of the one before.
select is(array(select email from tests.search_profile_pages('17171717-0000-4000-8000-000000000001', 2)),
  array['Ann_Lee@Example.com', '100%off@example.com', 'bob@example.com', 'annxlee@example.com'],
  'pages of two walk every live profile once, newest activity first (the merged one is not listed)');

select throws_ok($$ select * from public.search_profiles('17171717-0000-4000-8000-000000000001', p_limit => 0) $$,
  '22023', 'limit must be between 1 and 500', 'a page size out of range is refused, naming it');
select throws_ok($$ select * from public.search_profiles('17171717-0000-4000-8000-000000000001', p_trait => 'plan') $$,
  '22023', 'trait and trait_value go together', 'a trait without a value is refused');

-- ONE PROFILE: asked by the merged visitor's id, Ann's survivor answers.
create function pg_temp.ann() returns jsonb language sql as $$
  select public.get_profile('17171717-0000-4000-8000-000000000001',
    (select l.id from public.profiles l where l.org_id = '17171717-0000-4000-8000-000000000001'
       and l.merged_into is not null))
$$;
select is(pg_temp.ann() -> 'profile' ->> 'email', 'Ann_Lee@Example.com',
  'a merged profile''s id leads to its survivor');
select is(jsonb_array_length(pg_temp.ann() -> 'merged_profile_ids'), 1, 'which names the profile merged into it');
select is(array(select i ->> 'type' || '=' || (i ->> 'value')
                from jsonb_array_elements(pg_temp.ann() -> 'identities') i),
  array['anonymous_id=v-ann', 'email=ann_lee@example.com', 'user_id=u-ann'],
  'with every identity it now owns, the merged one''s included');
select is(array(select e ->> 'message_id' from jsonb_array_elements(pg_temp.ann() -> 'events') e),
  array['p7', 'p6', 'p5', 'p1'], 'and its events and the merged one''s, newest first');

-- JOURNEY: touchpoints (events with a channel) in time order, across the merge.
select results_eq(
  $$ select type, channel, utm_source, occurred_at from public.profile_journey('17171717-0000-4000-8000-000000000001',
       (select id from public.profiles where email = 'Ann_Lee@Example.com')) $$,
  $$ values ('page', 'paid_search', 'google', timestamptz '2026-11-20 10:00:40+00') $$,
  'the journey holds the visit that brought Ann, made before she was known');

select tests.clear_authentication();
select throws_ok($$ select * from public.search_profiles('17171717-0000-4000-8000-000000000001') $$,
  '42501', null, 'without a session, search is refused');

-- THE INDEX: a prefix is a range on profiles_org_email_idx, not a filter over
-- every email of the organization.
reset role;
-- An organization the size where it matters, with statistics that say so:
-- 5,000 profiles, one last seen a minute over three and a half days.
insert into public.profiles (org_id, email, first_seen_at, last_seen_at)
select '17171717-0000-4000-8000-000000000001', 'visitor' || n || '@example.com',
       timestamptz '2026-11-01 00:00:00+00' + make_interval(mins => n),
       timestamptz '2026-11-01 00:00:00+00' + make_interval(mins => n)
from generate_series(1, 5000) n;
analyze public.profiles;
select matches(tests.plan_of($$
  select p.* from public.profiles p
  where p.org_id = '17171717-0000-4000-8000-000000000001' and p.merged_into is null
    and p.email is not null and lower(p.email) collate "C" like 'ann\_%'
  order by p.last_seen_at desc, p.id desc limit 50 $$),
  'Index Cond: .*lower\(email\).* >= ''ann_''',
  'the search''s email predicate is a range on the email index');
select matches(tests.plan_of($$
  select p.* from public.profiles p
  where p.org_id = '17171717-0000-4000-8000-000000000001' and p.merged_into is null
    and p.email is not null and lower(p.email) collate "C" like 'ann\_%' $$),
  'profiles_org_email_idx', 'on profiles_org_email_idx');

-- A page of the newest activity, past the previous page's last row, as
-- private.profiles_by_recency asks for it (full sorts off): the bucket index
-- read backwards from the cursor's bucket, each bucket's rows sorted as they
-- come, not the organization's profiles sorted.
select ok((select 'enable_sort=off' = any (proconfig) from pg_proc
           where oid = 'private.profiles_by_recency'::regproc),
  'the listing query runs with full sorts off');
set local enable_sort = off;
select matches(tests.plan_of($$
  select p.* from public.profiles p
  where p.org_id = '17171717-0000-4000-8000-000000000001' and p.merged_into is null
    and p.last_seen_bucket <= private.last_seen_bucket(timestamptz '2026-11-03 00:07:00+00')
    and (p.last_seen_at, p.id) < (timestamptz '2026-11-03 00:07:00+00', '00000000-0000-0000-0000-000000000000'::uuid)
  order by p.last_seen_bucket desc, p.last_seen_at desc, p.id desc limit 50 $$),
  '^Limit\n  ->  Incremental Sort\n.*Presorted Key: last_seen_bucket\n.*->  Index Scan Backward using profiles_org_last_seen_bucket_idx on profiles p\n.*Index Cond: .*last_seen_bucket <=',
  'a keyset page is the bucket index read backwards from the cursor, sorted a bucket at a time');
reset enable_sort;

select * from finish();
rollback;

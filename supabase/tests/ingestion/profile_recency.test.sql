-- How recent a profile is, as 20261122210000 keeps it: ingestion's update of
-- a profile within the quarter hour of its last_seen_bucket writes no index
-- entry (a HOT update), a later quarter hour moves the bucket, and
-- search_profiles still pages exactly by (last_seen_at desc, id desc) across
-- buckets and ties.
begin;
select plan(10);

select tests.create_ingest_org('19191919-0000-4000-8000-000000000001', '19191919-0000-4000-8000-0000000000a1',
                               'recency', 'recency_admin');

create function pg_temp.visit(p_id text, p_sec int) returns void language sql as $$
  select tests.ingest_with_ids('19191919-0000-4000-8000-000000000001', '19191919-0000-4000-8000-0000000000a1',
                               'page', p_id, p_sec, 'v-1', null);
$$;
-- This transaction's updates of profiles so far: all, and HOT ones.
create function pg_temp.updates() returns int[] language sql as $$
  select array[pg_stat_get_xact_tuples_updated('public.profiles'::regclass),
               pg_stat_get_xact_tuples_hot_updated('public.profiles'::regclass)]::int[]
$$;
create function pg_temp.bucket() returns timestamptz language sql as $$
  select last_seen_bucket from public.profiles
  where org_id = '19191919-0000-4000-8000-000000000001' and merged_into is null
$$;
create temp table counts (step text primary key, n int[]);

-- THE BUCKET: the visitor's first page view at 10:00:00 makes the profile.
select pg_temp.visit('r1', 0);
insert into counts values ('made', pg_temp.updates());
select is(pg_temp.bucket(), timestamptz '2026-11-20 10:00:00+00', 'a profile''s bucket is its quarter hour');

-- A view at 10:14:59 is in the same quarter hour: one update, HOT.
select pg_temp.visit('r2', 899);
insert into counts values ('same', pg_temp.updates());
select is((select n from counts where step = 'same'), (select array[n[1] + 1, n[2] + 1] from counts where step = 'made'),
  'an update within the bucket is HOT');
select is(pg_temp.bucket(), timestamptz '2026-11-20 10:00:00+00', 'and leaves the bucket');

-- A view at 10:15:00 moves last seen into the next quarter hour: the bucket
-- changes with it, so that update writes index entries.
select pg_temp.visit('r3', 900);
insert into counts values ('next', pg_temp.updates());
select is((select n from counts where step = 'next'), (select array[n[1] + 1, n[2]] from counts where step = 'same'),
  'an update into the next bucket is not HOT');
select is(pg_temp.bucket(), timestamptz '2026-11-20 10:15:00+00', 'and moves the bucket');

-- A late event, older than last seen, changes neither.
select pg_temp.visit('r4', 10);
insert into counts values ('late', pg_temp.updates());
select is((select n from counts where step = 'late'), (select array[n[1] + 1, n[2] + 1] from counts where step = 'next'),
  'a late event''s update is HOT');
select is(pg_temp.bucket(), timestamptz '2026-11-20 10:15:00+00', 'and the bucket stays');

-- KEYSET PAGES ACROSS BUCKETS: profiles last seen on both sides of quarter
-- hours, two at the same instant, paged two at a time, so a page ends between
-- the two (the id decides) and the next cursor falls in another bucket.
insert into public.profiles (org_id, id, email, first_seen_at, last_seen_at)
select '19191919-0000-4000-8000-000000000001', id::uuid, 'buyer-' || right(id, 2) || '@example.com',
       at::timestamptz, at::timestamptz
from (values
  ('19191919-0000-4000-8000-0000000000b1', '2026-11-21 10:45:00+00'),
  ('19191919-0000-4000-8000-0000000000b2', '2026-11-21 10:44:59+00'),
  ('19191919-0000-4000-8000-0000000000b3', '2026-11-21 10:30:01+00'),
  ('19191919-0000-4000-8000-0000000000b4', '2026-11-21 10:30:00+00'),
  ('19191919-0000-4000-8000-0000000000b5', '2026-11-21 10:30:00+00'),
  ('19191919-0000-4000-8000-0000000000b6', '2026-11-21 10:29:59+00'),
  ('19191919-0000-4000-8000-0000000000b7', '2026-11-21 09:00:00+00')) p (id, at);

select tests.authenticate_as('recency_admin');
select is((select count(*)::int from tests.search_profile_pages('19191919-0000-4000-8000-000000000001', 2)), 8, 'pages of two walk all eight profiles');
select is(array(select id from tests.search_profile_pages('19191919-0000-4000-8000-000000000001', 2)),
  array['19191919-0000-4000-8000-0000000000b1', '19191919-0000-4000-8000-0000000000b2',
        '19191919-0000-4000-8000-0000000000b3', '19191919-0000-4000-8000-0000000000b5',
        '19191919-0000-4000-8000-0000000000b4', '19191919-0000-4000-8000-0000000000b6',
        '19191919-0000-4000-8000-0000000000b7']::uuid[]
    || (select id from public.profiles
        where org_id = '19191919-0000-4000-8000-000000000001' and last_seen_at < '2026-11-21'),
  'newest activity first, the later id first at the same instant, once each');
select is(array(select id from tests.search_profile_pages('19191919-0000-4000-8000-000000000001', 2, 'BUYER-')),
  array['19191919-0000-4000-8000-0000000000b1', '19191919-0000-4000-8000-0000000000b2',
        '19191919-0000-4000-8000-0000000000b3', '19191919-0000-4000-8000-0000000000b5',
        '19191919-0000-4000-8000-0000000000b4', '19191919-0000-4000-8000-0000000000b6',
        '19191919-0000-4000-8000-0000000000b7']::uuid[],
  'pages of an email prefix search walk the same order');

select * from finish();
rollback;

-- Undoing a merge gives the merged profile the events written to the survivor
-- while the merge stood, with their numbers.
--
-- One merge: visitor V (a page view) and user C (an order of 100) merge into V,
-- the older, by an identify with both ids. While the merge stands C orders
-- again (60), V views a page, and a track carries both ids. Undone, C has its
-- order back; V keeps its page views, the merge message and the track with
-- both ids.
--
-- A chain: D merges into E, then E into the older F; D's later event is written
-- to F. Undoing D's merge takes it from F (not from E, which never had it).
--
-- Groups: H merges into the older G; while merged, H's group calls join G to
-- H's account and to an account G had joined itself. Undone, H is a member of
-- both, and G only of the one it joined.
begin;
select plan(15);

select tests.create_ingest_org('19191919-0000-4000-8000-000000000001', '19191919-0000-4000-8000-0000000000a1',
                               'moved', 'moved_admin');

create function pg_temp.ingest(p_type text, p_id text, p_sec int, p_anon text, p_user text,
                               p_extra jsonb default '{}')
returns jsonb language sql as $$
  select tests.ingest_with_ids('19191919-0000-4000-8000-000000000001', '19191919-0000-4000-8000-0000000000a1',
                               p_type, p_id, p_sec, p_anon, p_user, p_extra)
$$;
create temp table who (letter text primary key, id uuid not null);
create function pg_temp.remember(p_letter text, p_value text) returns void language sql as $$
  insert into who select p_letter, i.profile_id from public.identities i
  where i.org_id = '19191919-0000-4000-8000-000000000001' and i.value = p_value
$$;
create function pg_temp.numbers(p_letter text)
returns table (event_count bigint, event_counts jsonb, revenue numeric, lifecycle public.lifecycle_stage)
language sql as $$
  select p.event_count, p.event_counts, p.revenue, p.lifecycle_stage
  from public.profiles p join who on who.id = p.id where who.letter = p_letter
$$;
create function pg_temp.events_of(p_letter text) returns setof text language sql as $$
  select e.message_id from public.events e join who on who.id = e.profile_id
  where who.letter = p_letter order by e.message_id
$$;
create function pg_temp.engagement(p_letter text) returns double precision language sql as $$
  select p.engagement_raw from public.profiles p join who on who.id = p.id where who.letter = p_letter
$$;
create function pg_temp.unmerge(p_loser text) returns void language sql as $$
  select tests.unmerge_loser('19191919-0000-4000-8000-000000000001', (select id from who where letter = p_loser),
                             'moved_admin')
$$;

-- ONE MERGE
select pg_temp.ingest('page', 'v1', 0, 'v-1', null);
select pg_temp.ingest('track', 'c1', 10, null, 'cust', '{"event": "Order Completed", "revenue": 100}');
select pg_temp.remember('V', 'v-1');
select pg_temp.remember('C', 'cust');
select pg_temp.ingest('identify', 'vc', 20, 'v-1', 'cust');
select pg_temp.ingest('track', 'c2', 30, null, 'cust', '{"event": "Order Completed", "revenue": 60}');
select pg_temp.ingest('page', 'v2', 40, 'v-1', null);
select pg_temp.ingest('track', 'vc2', 50, 'v-1', 'cust', '{"event": "Product Viewed"}');

select results_eq($$ select pg_temp.events_of('V') $$,
  $$ values ('c2'), ('v1'), ('v2'), ('vc'), ('vc2') $$,
  'while merged, C''s new order is written to V');

select pg_temp.unmerge('C');

select results_eq($$ select pg_temp.events_of('C') $$, $$ values ('c1'), ('c2') $$,
  'undone, the order written to V while merged is C''s again');
select results_eq($$ select pg_temp.events_of('V') $$, $$ values ('v1'), ('v2'), ('vc'), ('vc2') $$,
  'V keeps its page views, the merge message and the track with both ids');
select results_eq($$ select * from pg_temp.numbers('C') $$,
  $$ values (2::bigint, '{"track": 2}'::jsonb, 160::numeric, 'customer'::public.lifecycle_stage) $$,
  'C counts both orders and their revenue');
select results_eq($$ select * from pg_temp.numbers('V') $$,
  $$ values (4::bigint, '{"page": 2, "track": 1, "identify": 1}'::jsonb, 0::numeric,
             'anonymous'::public.lifecycle_stage) $$,
  'V counts its four events, and has no revenue');
-- Weights: a page view 1, an identify 2, a track 3, an order 3 + 5; over
-- seconds, decay is below 1e-4.
select ok(abs(pg_temp.engagement('C') - 16) < 0.001, 'C''s engagement is its two orders: 8 + 8');
select ok(abs(pg_temp.engagement('V') - 7) < 0.001, 'V''s engagement is its own: 1 + 2 + 1 + 3');
select is((select last_seen_at from public.profiles where id = (select id from who where letter = 'C')),
  timestamptz '2026-11-20 10:00:30+00', 'C was last seen at its later order');
select is((select sum(event_count) from public.profiles where org_id = '19191919-0000-4000-8000-000000000001'),
  (select count(*)::numeric from public.events where org_id = '19191919-0000-4000-8000-000000000001'),
  'between them they count each event once');

-- A CHAIN: F, then E, then D; D merges into E, E into F.
select pg_temp.ingest('page', 'f1', 100, 'f-1', null);
select pg_temp.ingest('page', 'e1', 110, 'e-1', null);
select pg_temp.ingest('page', 'd1', 120, null, 'd-user');
select pg_temp.remember('F', 'f-1');
select pg_temp.remember('E', 'e-1');
select pg_temp.remember('D', 'd-user');
select pg_temp.ingest('identify', 'de', 130, 'e-1', 'd-user');
select pg_temp.ingest('identify', 'ef', 140, 'f-1', 'd-user');
select pg_temp.ingest('track', 'd2', 150, null, 'd-user', '{"event": "Product Viewed"}');

select pg_temp.unmerge('D');

select results_eq($$ select pg_temp.events_of('D') $$, $$ values ('d1'), ('d2') $$,
  'undone, D''s event written to F while merged is D''s again');
select results_eq($$ select * from pg_temp.numbers('F') $$,
  $$ values (4::bigint, '{"page": 2, "identify": 2}'::jsonb, 0::numeric, 'anonymous'::public.lifecycle_stage) $$,
  'F, which held it, gives up its count and D''s own page view');
select results_eq($$ select event_count from pg_temp.numbers('E') $$, $$ values (2::bigint) $$,
  'E, merged before it was written, gives up D''s page view only');

-- GROUPS: G, then H; H merges into G.
select pg_temp.ingest('group', 'g1', 200, 'g-1', null, '{"group_id": "shared"}');
select pg_temp.ingest('page', 'h1', 210, null, 'h-user');
select pg_temp.remember('G', 'g-1');
select pg_temp.remember('H', 'h-user');
select pg_temp.ingest('identify', 'gh', 220, 'g-1', 'h-user');
select pg_temp.ingest('group', 'h2', 230, null, 'h-user', '{"group_id": "h-account"}');
select pg_temp.ingest('group', 'h3', 240, null, 'h-user', '{"group_id": "shared"}');
create function pg_temp.groups_of(p_letter text) returns setof text language sql as $$
  select m.group_id from public.group_memberships m join who on who.id = m.profile_id
  where who.letter = p_letter order by m.group_id
$$;

select results_eq($$ select pg_temp.groups_of('G') $$, $$ values ('h-account'), ('shared') $$,
  'while merged, H''s group calls make G a member');

select pg_temp.unmerge('H');

select results_eq($$ select pg_temp.groups_of('H') $$, $$ values ('h-account'), ('shared') $$,
  'undone, H is a member of the groups its calls joined');
select results_eq($$ select pg_temp.groups_of('G') $$, $$ values ('shared') $$,
  'G stays a member only of the group it joined itself');

select * from finish();
rollback;

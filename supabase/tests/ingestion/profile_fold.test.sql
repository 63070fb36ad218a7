-- The profile fold as 20261122010000 rewrote it: a profile the batch creates is
-- inserted whole, an existing one is updated once, counts add up per type and
-- across batches, names join as concat_ws would, updated_at is still stamped
-- (and a forged one overwritten), first and last touches follow the events'
-- time, merged profiles hand their events to the survivor and are audited as
-- the batch commits, and deleting an organization still removes its
-- identities.
begin;
select plan(23);

insert into public.organizations (id, name, slug) values ('13131313-0000-4000-8000-000000000001', 'Fold', 'fold');
insert into public.sources (org_id, id, name) values
  ('13131313-0000-4000-8000-000000000001', '13131313-0000-4000-8000-0000000000a1', 'Web');

create function pg_temp.ingest(variadic p_msgs jsonb[]) returns jsonb language sql as $$
  select private.ingest_batch('13131313-0000-4000-8000-000000000001', '13131313-0000-4000-8000-0000000000a1',
                              to_jsonb(p_msgs))
$$;
create function pg_temp.profile_of(p_type text, p_value text) returns public.profiles language sql as $$
  select p.* from public.profiles p
  join public.identities i on i.org_id = p.org_id and i.profile_id = p.id
  where i.org_id = '13131313-0000-4000-8000-000000000001' and i.type = p_type and i.value = p_value
$$;

-- A NEW PROFILE, WHOLE: three events of one new visitor in one batch (one
-- identifier set, so one profile made with the batch's aggregates).
select pg_temp.ingest(
  tests.ingest_message('page', 'n1', 0, '[{"type": "anonymous_id", "value": "v-1"}]',
              '{"channel": "email", "utm_source": "newsletter", "utm_medium": "email"}'),
  tests.ingest_message('track', 'n2', 10, '[{"type": "anonymous_id", "value": "v-1"}]', '{"event": "Viewed"}'),
  tests.ingest_message('track', 'n3', 20, '[{"type": "anonymous_id", "value": "v-1"}]', '{"event": "Bought", "revenue": 12}'));
select results_eq(
  $$ select event_count, event_counts, revenue, first_seen_at, last_seen_at, lifecycle_stage::text,
            first_touch ->> 'channel', engagement_at
     from pg_temp.profile_of('anonymous_id', 'v-1') $$,
  $$ values (3::bigint, '{"page": 1, "track": 2}'::jsonb, 12::numeric, timestamptz '2026-11-20 10:00:00+00',
             timestamptz '2026-11-20 10:00:20+00', 'customer', 'email', timestamptz '2026-11-20 10:00:20+00') $$,
  'a profile the batch creates holds the batch''s counts, revenue, times, touch and stage');
select is((select count(*)::int from public.identities
           where org_id = '13131313-0000-4000-8000-000000000001' and value = 'v-1'), 1,
  'and its identifier, once');
select ok((pg_temp.profile_of('anonymous_id', 'v-1')).engagement_score > 0, 'and an engagement score');

-- AN EXISTING PROFILE, UPDATED: counts add per type, across batches. An old
-- updated_at first (past the trigger), so the stamp below is the fold's.
alter table public.profiles disable trigger profiles_set_updated_at;
update public.profiles set updated_at = '2000-01-01' where id = (pg_temp.profile_of('anonymous_id', 'v-1')).id;
alter table public.profiles enable trigger profiles_set_updated_at;
select pg_temp.ingest(
  tests.ingest_message('track', 'e1', 30, '[{"type": "anonymous_id", "value": "v-1"}]', '{"event": "Viewed"}'),
  tests.ingest_message('screen', 'e2', 40, '[{"type": "anonymous_id", "value": "v-1"}]', '{"event": "Home"}'));
select is((pg_temp.profile_of('anonymous_id', 'v-1')).event_counts, '{"page": 1, "track": 3, "screen": 1}'::jsonb,
  'a later batch adds its counts type by type');
select is((pg_temp.profile_of('anonymous_id', 'v-1')).event_count, 5::bigint, 'and to the total');
select is((pg_temp.profile_of('anonymous_id', 'v-1')).updated_at, now(), 'ingestion stamps updated_at');

-- NAMES join as concat_ws(' ', ...) would: missing parts are skipped.
select pg_temp.ingest(tests.ingest_message('identify', 'nm1', 50,
  '[{"type": "anonymous_id", "value": "v-2"}]', '{"traits": {"firstName": "Ada", "last_name": "Byron"}}'));
select is((pg_temp.profile_of('anonymous_id', 'v-2')).name, 'Ada Byron', 'first and last name, whichever spelling');
select pg_temp.ingest(tests.ingest_message('identify', 'nm2', 60,
  '[{"type": "anonymous_id", "value": "v-2"}]', '{"traits": {"name": "Countess of Lovelace"}}'));
select is((pg_temp.profile_of('anonymous_id', 'v-2')).name, 'Countess of Lovelace', 'name wins over its parts');
select pg_temp.ingest(tests.ingest_message('identify', 'nm3', 70,
  '[{"type": "anonymous_id", "value": "v-3"}]', '{"traits": {"lastName": "  Hopper  "}}'));
select is((pg_temp.profile_of('anonymous_id', 'v-3')).name, 'Hopper', 'a lone part, trimmed');

-- UPDATED_AT is still stamped by the trigger for any other writer.
update public.profiles set updated_at = '2000-01-01', name = 'forged'
where id = (pg_temp.profile_of('anonymous_id', 'v-3')).id;
select is((pg_temp.profile_of('anonymous_id', 'v-3')).updated_at, now(), 'a forged updated_at is overwritten');

-- A MERGE IN THE BATCH: the earlier message's events follow to the survivor.
select pg_temp.ingest(tests.ingest_message('page', 'm0', 80, '[{"type": "user_id", "value": "u-9"}]'));
select pg_temp.ingest(
  tests.ingest_message('track', 'm1', 90, '[{"type": "anonymous_id", "value": "v-4"}]', '{"event": "Viewed"}'),
  tests.ingest_message('identify', 'm2', 100,
    '[{"type": "user_id", "value": "u-9"}, {"type": "anonymous_id", "value": "v-4"}]'),
  tests.ingest_message('track', 'm3', 110, '[{"type": "anonymous_id", "value": "v-4"}]', '{"event": "Viewed"}'));
select is((pg_temp.profile_of('anonymous_id', 'v-4')).id, (pg_temp.profile_of('user_id', 'u-9')).id,
  'the visitor joins the user''s profile');
select is((pg_temp.profile_of('user_id', 'u-9')).event_count, 4::bigint,
  'the survivor counts every event of both, none lost to the merged profile');

-- MERGES ARE AUDITED AT COMMIT (the constraint trigger is deferred).
select is((select count(*)::int from public.audit_log
           where org_id = '13131313-0000-4000-8000-000000000001' and action = 'profile_merges.insert'), 0,
  'a merge is not audited while its batch is still open');
set constraints public.profile_merges_audit immediate;
select is((select count(*)::int from public.audit_log
           where org_id = '13131313-0000-4000-8000-000000000001' and action = 'profile_merges.insert'), 1,
  'and is audited, once, as it commits');
select is((select after ->> 'winner_id' from public.audit_log
           where org_id = '13131313-0000-4000-8000-000000000001' and action = 'profile_merges.insert'),
  (pg_temp.profile_of('user_id', 'u-9')).id::text, 'naming the survivor');

-- TOUCHES WITHIN A BATCH: the first is the earliest event with a channel, the
-- last the latest that is not direct, whatever the order of the request.
select pg_temp.ingest(
  tests.ingest_message('page', 'tc1', 30, '[{"type": "anonymous_id", "value": "v-touch"}]',
                       '{"channel": "paid_search", "utm_source": "google"}'),
  tests.ingest_message('page', 'tc2', 10, '[{"type": "anonymous_id", "value": "v-touch"}]', '{"channel": "direct"}'),
  tests.ingest_message('page', 'tc3', 40, '[{"type": "anonymous_id", "value": "v-touch"}]', '{"channel": "direct"}'),
  tests.ingest_message('page', 'tc4', 20, '[{"type": "anonymous_id", "value": "v-touch"}]', '{"channel": "email"}'),
  tests.ingest_message('track', 'tc5', 50, '[{"type": "anonymous_id", "value": "v-touch"}]', '{"event": "Viewed"}'),
  tests.ingest_message('page', 'td1', 5, '[{"type": "anonymous_id", "value": "v-direct"}]', '{"channel": "direct"}'),
  tests.ingest_message('page', 'td2', 6, '[{"type": "anonymous_id", "value": "v-direct"}]', '{"channel": "direct"}'),
  tests.ingest_message('track', 'tn1', 7, '[{"type": "anonymous_id", "value": "v-none"}]', '{"event": "Viewed"}'));
select results_eq(
  $$ select p.first_touch ->> 'channel', p.first_touch ->> 'at', p.last_touch ->> 'channel',
            p.last_touch ->> 'source', p.last_touch ->> 'at'
     from pg_temp.profile_of('anonymous_id', 'v-touch') p $$,
  $$ values ('direct', '2026-11-20T10:00:10.000000Z', 'paid_search', 'google', '2026-11-20T10:00:30.000000Z') $$,
  'the first touch is the earliest with a channel, the last the latest one not direct');
select results_eq(
  $$ select p.first_touch ->> 'channel', p.last_touch from pg_temp.profile_of('anonymous_id', 'v-direct') p $$,
  $$ values ('direct', null::jsonb) $$,
  'direct visits only: a first touch, no last touch');
select results_eq(
  $$ select p.first_touch, p.last_touch from pg_temp.profile_of('anonymous_id', 'v-none') p $$,
  $$ values (null::jsonb, null::jsonb) $$,
  'no channel: no touch');

-- AN IDENTITY'S ORGANIZATION: a profile of one organization cannot carry an
-- identity filed under another, nor one of an organization that does not exist.
select throws_ok($$ insert into public.identities (org_id, type, value, profile_id, first_seen_at, last_seen_at)
                    values ('13131313-0000-4000-8000-00000000dead', 'user_id', 'ghost',
                            (pg_temp.profile_of('user_id', 'u-9')).id, now(), now()) $$,
  '23503', null, 'an identity names an organization only through a profile of that organization');
select throws_ok($$ insert into public.profile_merges (org_id, winner_id, loser_id, reason)
                    values ('13131313-0000-4000-8000-00000000dead', (pg_temp.profile_of('user_id', 'u-9')).id,
                            (pg_temp.profile_of('user_id', 'u-9')).id, 'identify') $$,
  '23503', null, 'and so does a merge');

-- DELETING AN ORGANIZATION removes its identities and merges through its profiles.
select private.ingest_batch('13131313-0000-4000-8000-000000000001', '13131313-0000-4000-8000-0000000000a1',
  jsonb_build_array(tests.ingest_message('page', 'd1', 120, '[{"type": "anonymous_id", "value": "v-5"}]')));
delete from public.organizations where id = '13131313-0000-4000-8000-000000000001';
select is((select count(*)::int from public.identities where org_id = '13131313-0000-4000-8000-000000000001'), 0,
  'no identity outlives its organization');
select is((select count(*)::int from public.profiles where org_id = '13131313-0000-4000-8000-000000000001'), 0,
  'nor any profile');
select is((select count(*)::int from public.profile_merges where org_id = '13131313-0000-4000-8000-000000000001'), 0,
  'nor any merge');

select * from finish();
rollback;

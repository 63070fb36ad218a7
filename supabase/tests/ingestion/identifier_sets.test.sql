-- A batch's identifier sets as private.ingest_batch numbers them (see
-- 20261122190000): messages with the same identifiers share one profile
-- whatever order they list them in, while sets whose identifiers would spell
-- the same text if joined naively stay apart, and a message whose identifiers
-- are all blocked is stored with no profile.
begin;
select plan(10);

insert into public.organizations (id, name, slug) values ('14141414-0000-4000-8000-000000000001', 'Sets', 'sets');
insert into public.sources (org_id, id, name) values
  ('14141414-0000-4000-8000-000000000001', '14141414-0000-4000-8000-0000000000a1', 'Web');

create function pg_temp.ingest(variadic p_msgs jsonb[]) returns jsonb language sql as $$
  select private.ingest_batch('14141414-0000-4000-8000-000000000001', '14141414-0000-4000-8000-0000000000a1',
                              to_jsonb(p_msgs))
$$;
create function pg_temp.owner(p_type text, p_value text) returns uuid language sql as $$
  select profile_id from public.identities
  where org_id = '14141414-0000-4000-8000-000000000001' and type = p_type and value = p_value
$$;
create function pg_temp.event_profile(p_message_id text) returns uuid language sql as $$
  select profile_id from public.events
  where org_id = '14141414-0000-4000-8000-000000000001' and message_id = p_message_id
$$;

select pg_temp.ingest(
  -- one set, listed in two orders and with a value that normalizes the same
  tests.ingest_message('track', 's1', 0,
    '[{"type": "anonymous_id", "value": "a-1"}, {"type": "user_id", "value": "u-1"}]', '{"event": "A"}'),
  tests.ingest_message('track', 's2', 1,
    '[{"type": "user_id", "value": " u-1 "}, {"type": "anonymous_id", "value": "a-1"}]', '{"event": "B"}'),
  -- joined as type:value, {anonymous_id x, user_id y} and {anonymous_id "xuser_id:y"}
  -- spell the same text
  tests.ingest_message('track', 'j1', 2,
    '[{"type": "anonymous_id", "value": "x"}, {"type": "user_id", "value": "y"}]', '{"event": "C"}'),
  tests.ingest_message('track', 'j2', 3, '[{"type": "anonymous_id", "value": "xuser_id:y"}]', '{"event": "D"}'),
  -- every identifier blocked
  tests.ingest_message('track', 'b1', 4, '[{"type": "anonymous_id", "value": "undefined"}]', '{"event": "E"}'));

select isnt(pg_temp.event_profile('s1'), null, 'a message with identifiers gets a profile');
select is(pg_temp.event_profile('s2'), pg_temp.event_profile('s1'),
  'the same identifiers in another order (one with spaces around it) are the same set: one profile');
select is((select event_count from public.profiles where id = pg_temp.event_profile('s1')), 2::bigint,
  'which holds both events');
select isnt(pg_temp.event_profile('j2'), pg_temp.event_profile('j1'),
  'sets that would spell the same text joined naively are two sets: two profiles');
select is(pg_temp.owner('anonymous_id', 'xuser_id:y'), pg_temp.event_profile('j2'),
  'each owning its own identifiers');
select is(pg_temp.event_profile('b1'), null, 'a message whose identifiers are all blocked has no profile');
select is((select count(*)::int from public.events where org_id = '14141414-0000-4000-8000-000000000001'), 5,
  'and every message is stored');

-- BYTEWISE KEYS (20261122220000): identifiers and message ids compare as
-- bytes, whatever the database's collation, and stay as distinct as before.
select is(array(select c.collname::text from pg_attribute a join pg_collation c on c.oid = a.attcollation
                where (a.attrelid, a.attname) in (('public.identities'::regclass, 'type'),
                                                  ('public.identities'::regclass, 'value'),
                                                  ('private.ingested_messages'::regclass, 'message_id'))),
  array['C', 'C', 'C'], 'identity types and values, and message ids, compare bytewise');
select pg_temp.ingest(
  tests.ingest_message('track', 'é1', 5, '[{"type": "anonymous_id", "value": "visitor-é"}]', '{"event": "F"}'),
  tests.ingest_message('track', 'e1', 6, '[{"type": "anonymous_id", "value": "visitor-e"}]', '{"event": "G"}'),
  tests.ingest_message('track', 'É1', 7, '[{"type": "anonymous_id", "value": "visitor-É"}]', '{"event": "H"}'));
select is((select count(distinct profile_id)::int from public.events
           where org_id = '14141414-0000-4000-8000-000000000001' and message_id in ('é1', 'e1', 'É1')), 3,
  'values differing by an accent or its case are three identities');
select is(pg_temp.owner('anonymous_id', 'visitor-é'), pg_temp.event_profile('é1'), 'each found again by its bytes');

select * from finish();
rollback;

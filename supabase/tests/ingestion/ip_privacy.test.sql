-- Client IPs are kept, truncated or dropped per the organization's privacy
-- setting (organizations.settings.ip_handling), in the column and in context.
begin;
select plan(7);

insert into public.organizations (id, name, slug, settings) values
  ('34343434-0000-4000-8000-000000000001', 'Keep', 'ip-keep', '{}'),
  ('34343434-0000-4000-8000-000000000002', 'Truncate', 'ip-truncate', '{"ip_handling": "truncate"}'),
  ('34343434-0000-4000-8000-000000000003', 'Drop', 'ip-drop', '{"ip_handling": "drop"}');
insert into public.sources (org_id, id, name)
select id, id, 'src' from public.organizations where slug like 'ip-%';

select private.ingest_batch(id, id, jsonb_build_array(jsonb_build_object(
  'message_id', 'ip-1', 'type', 'track', 'event', 'x', 'timestamp', '2026-11-20T10:00:00Z',
  'received_at', '2026-11-20T10:00:00Z', 'ip', '203.0.113.77',
  'context', jsonb_build_object('ip', '203.0.113.77', 'locale', 'en-GB'),
  'identifiers', jsonb_build_array(jsonb_build_object('type', 'user_id', 'value', 'ip-user')))))
from public.organizations where slug like 'ip-%';

select is((select host(ip) from public.events where org_id = '34343434-0000-4000-8000-000000000001'),
  '203.0.113.77', 'by default the IP is kept');
select results_eq(
  $$ select ip::text, context ? 'ip', context ->> 'locale' from public.events
     where org_id = '34343434-0000-4000-8000-000000000002' $$,
  $$ values ('203.0.113.0/24', false, 'en-GB') $$,
  'truncate keeps the /24 and removes the address from context');
select results_eq(
  $$ select ip is null, context ? 'ip' from public.events where org_id = '34343434-0000-4000-8000-000000000003' $$,
  $$ values (true, false) $$,
  'drop keeps no address at all');
select is((select count(*)::int from public.events where message_id = 'ip-1'), 3, 'every event was stored');

-- A missed maintenance run must not fail ingestion: drop today's idempotency
-- partition (earlier batches in this test made or used it) and ingest again.
do $$
declare
  v_name text := 'ingested_messages_p' || to_char(now() at time zone 'UTC', 'YYYY_MM_DD');
begin
  execute format('drop table partitions.%I', v_name);
end $$;
select private.ingest_batch('34343434-0000-4000-8000-000000000001', '34343434-0000-4000-8000-000000000001',
  '[{"message_id": "after-drop", "type": "track", "event": "x", "timestamp": "2026-11-20T10:00:00Z",
     "received_at": "2026-11-20T10:00:00Z", "identifiers": [{"type": "user_id", "value": "ip-user"}]}]');
select is((select count(*)::int from public.events where message_id = 'after-drop'), 1,
  'ingestion recreates a missing idempotency partition');

-- Addresses are cast for the whole batch at once; one value that is no
-- address falls back to parsing each, and costs only its own address.
select private.ingest_batch('34343434-0000-4000-8000-000000000001', '34343434-0000-4000-8000-000000000001',
  '[{"message_id": "ip-a", "type": "track", "event": "x", "received_at": "2026-11-20T10:00:00Z", "timestamp": "2026-11-20T10:00:01Z", "ip": "198.51.100.7",
     "identifiers": [{"type": "user_id", "value": "ip-user"}]},
    {"message_id": "ip-b", "type": "track", "event": "x", "received_at": "2026-11-20T10:00:00Z", "timestamp": "2026-11-20T10:00:02Z", "ip": "fe80::1%eth0",
     "identifiers": [{"type": "user_id", "value": "ip-user"}]},
    {"message_id": "ip-c", "type": "track", "event": "x", "received_at": "2026-11-20T10:00:00Z", "timestamp": "2026-11-20T10:00:03Z", "ip": "",
     "identifiers": [{"type": "user_id", "value": "ip-user"}]},
    {"message_id": "ip-d", "type": "track", "event": "x", "received_at": "2026-11-20T10:00:00Z", "timestamp": "2026-11-20T10:00:00Z", "ip": "2001:db8::5",
     "identifiers": [{"type": "user_id", "value": "ip-user"}]}]');
select results_eq(
  $$ select message_id, host(ip) from public.events
     where org_id = '34343434-0000-4000-8000-000000000001' and message_id like 'ip-_' order by message_id $$,
  $$ values ('ip-1', '203.0.113.77'), ('ip-a', '198.51.100.7'), ('ip-b', null), ('ip-c', null),
            ('ip-d', '2001:db8::5') $$,
  'a batch with a value that is no address keeps every other address, each on its own event');
select private.ingest_batch('34343434-0000-4000-8000-000000000001', '34343434-0000-4000-8000-000000000001',
  '[{"message_id": "ip-e", "type": "track", "event": "x", "received_at": "2026-11-20T10:00:00Z", "timestamp": "2026-11-20T10:00:05Z", "ip": "192.0.2.9",
     "identifiers": [{"type": "user_id", "value": "ip-user"}]},
    {"message_id": "ip-f", "type": "track", "event": "x", "received_at": "2026-11-20T10:00:00Z", "timestamp": "2026-11-20T10:00:04Z",
     "identifiers": [{"type": "user_id", "value": "ip-user"}]}]');
select results_eq(
  $$ select message_id, host(ip) from public.events
     where org_id = '34343434-0000-4000-8000-000000000001' and message_id in ('ip-e', 'ip-f') order by message_id $$,
  $$ values ('ip-e', '192.0.2.9'), ('ip-f', null) $$,
  'a batch of addresses and none: each event its own');

select * from finish();
rollback;

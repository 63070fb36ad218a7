-- Client IPs are kept, truncated or dropped per the organization's privacy
-- setting (organizations.settings.ip_handling), in the column and in context.
begin;
select plan(5);

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

select * from finish();
rollback;

-- Webhooks in SQL (issue 27): the retry schedule, type filters, fan-out in the
-- emitting transaction, claims (SKIP LOCKED leases, per-key FIFO), settling,
-- and that one organization can neither read nor write another's endpoints,
-- deliveries or attempts.
begin;
select plan(34);

-- RETRY SCHEDULE (Svix): 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; +-20% jitter.
select is(private.webhook_retry_delay(1), interval '5 seconds', 'first retry after 5 s');
select is(private.webhook_retry_delay(2), interval '5 minutes', 'then 5 minutes');
select is(private.webhook_retry_delay(4), interval '2 hours', 'the 4th after 2 hours');
select is(private.webhook_retry_delay(9), interval '10 hours', 'past the schedule, 10 hours');
select is(private.webhook_retry_delay(1, p_jitter => 1), interval '6 seconds', 'jitter adds at most 20%');
select is(private.webhook_retry_delay(2, p_jitter => -1), interval '4 minutes', 'and takes at most 20%');
select is(private.webhook_retry_delay(1, 'timeout'), interval '60 seconds', 'at least 60 s after a timeout');
select is(private.webhook_retry_delay(1, null, 429), interval '60 seconds', 'and after a 429');
select is(private.webhook_retry_delay(1, null, 503, 600), interval '10 minutes', 'a longer Retry-After is honoured');
select is(private.webhook_retry_delay(1, null, 503, 999999), interval '1 day', 'up to a day');

-- TYPE FILTERS
select ok(private.webhook_type_matches('{*}', 'member.added'), '* takes every type');
select ok(private.webhook_type_matches('{member.*}', 'member.role_changed'), 'a prefix wildcard takes its types');
select ok(not private.webhook_type_matches('{member.*}', 'api_key.created'), 'and no other');
select ok(not private.webhook_type_matches('{member.added}', 'member.removed'), 'an exact type takes itself only');

-- FAN-OUT
select tests.create_supabase_user('hook_owner_a', 'owner@hooks-a.example');
select tests.create_supabase_user('hook_owner_b', 'owner@hooks-b.example');
insert into public.organizations (id, name, slug) values
  ('eeeeeeee-0000-4000-8000-00000000000a', 'Hooks A', 'hooks-a'),
  ('eeeeeeee-0000-4000-8000-00000000000b', 'Hooks B', 'hooks-b');
insert into public.organization_members (org_id, user_id, role) values
  ('eeeeeeee-0000-4000-8000-00000000000a', tests.get_supabase_uid('hook_owner_a'), 'owner'),
  ('eeeeeeee-0000-4000-8000-00000000000b', tests.get_supabase_uid('hook_owner_b'), 'owner');
select tests.authenticate_as('hook_owner_b');
select id as b_endpoint from public.create_webhook_endpoint('eeeeeeee-0000-4000-8000-00000000000b',
  'https://hooks-b.example.com/in') \gset
reset role;
select tests.authenticate_as('hook_owner_a');
select id as a_endpoint from public.create_webhook_endpoint('eeeeeeee-0000-4000-8000-00000000000a',
  'https://hooks-a.example.com/in', array['webhook.test', 'profile.*'], p_filter => '{"plan": "pro"}') \gset
reset role;

select throws_ok(
  $$ select private.emit_webhook_event('eeeeeeee-0000-4000-8000-00000000000a', 'made.up', '{}') $$,
  '22023', null, 'an event type outside the catalogue is refused');
select private.emit_webhook_event('eeeeeeee-0000-4000-8000-00000000000a', 'webhook.test', '{"plan": "pro"}');
select private.emit_webhook_event('eeeeeeee-0000-4000-8000-00000000000a', 'webhook.test', '{"plan": "free"}');
select private.emit_webhook_event('eeeeeeee-0000-4000-8000-00000000000a', 'member.added', '{"plan": "pro"}');
select is((select count(*)::int from public.webhook_deliveries
           where org_id = 'eeeeeeee-0000-4000-8000-00000000000a'), 1,
  'one delivery: the event its type filter and data filter take');

-- CLAIMS: leased once, not twice; per-key FIFO.
select private.emit_webhook_event('eeeeeeee-0000-4000-8000-00000000000a', 'webhook.test', '{"plan": "pro", "n": 1}', 'k');
select private.emit_webhook_event('eeeeeeee-0000-4000-8000-00000000000a', 'webhook.test', '{"plan": "pro", "n": 2}', 'k');
create temp table first_claim as
select * from private.claim_webhook_deliveries('w1', 100, '1 minute')
where org_id = 'eeeeeeee-0000-4000-8000-00000000000a';
select is((select count(*)::int from first_claim), 2,
  'a claim takes the unkeyed delivery and the first of key k, not the second');
select is((select count(*)::int from private.claim_webhook_deliveries('w2', 100, '1 minute')
           where org_id = 'eeeeeeee-0000-4000-8000-00000000000a'), 0,
  'a second dispatcher gets nothing that is leased, nor key k''s next');
select is((select array_length(secrets, 1) from first_claim limit 1), 1, 'the claim carries the signing secret');

-- SETTLING: a success ends the first of key k; the second becomes due.
select is(private.record_webhook_results('w1', (
  select jsonb_agg(jsonb_build_object('delivery_id', delivery_id, 'org_id', org_id,
                                      'status_code', 200, 'duration_ms', 5))
  from first_claim)), 2, 'a batch''s results are recorded in one call');
select is((select count(*)::int from public.webhook_deliveries
           where org_id = 'eeeeeeee-0000-4000-8000-00000000000a' and status = 'succeeded'), 2,
  'both claimed deliveries succeeded');
select is((select count(*)::int from private.claim_webhook_deliveries('w2', 100, '1 minute')
           where org_id = 'eeeeeeee-0000-4000-8000-00000000000a'), 1,
  'then key k''s next delivery is claimed');

-- STATS: the rollup behind analytics.webhook_endpoint_stats.
select is(private.webhook_latency_bucket(40), array[0,1,0,0,0,0,0,0,0,0,0], 'a 40 ms attempt falls in the 50 ms bucket');
select is(private.webhook_latency_percentile(array[0,6,0,0,3,0,0,0,0,0,1], 0.5), 50, 'p50 is the bucket where half the attempts are');
select is(private.webhook_latency_percentile(array[0,6,0,0,3,0,0,0,0,0,1], 0.95), null, 'p95 past the last edge is unknown (null), not invented');
select is((select attempts from public.webhook_endpoint_hourly_stats
           where org_id = 'eeeeeeee-0000-4000-8000-00000000000a'), 2, 'each recorded attempt is rolled up');
select is((select (attempts_24h, succeeded_24h, success_rate_24h, latency_p50_ms)::text from analytics.webhook_endpoint_stats
           where org_id = 'eeeeeeee-0000-4000-8000-00000000000a'), '(2,2,1.0000,25)',
  'the stats view reads the rollup: attempts, successes, success rate, p50');

-- QUOTA: past a hard webhook_deliveries quota, deliveries wait, never dropped.
insert into public.org_quota_overrides (org_id, metric, period, quota, hard)
values ('eeeeeeee-0000-4000-8000-00000000000a', 'webhook_deliveries', 'month', 2, true);
select private.emit_webhook_event('eeeeeeee-0000-4000-8000-00000000000a', 'webhook.test', '{"plan": "pro", "n": 3}');
select is((select count(*)::int from private.claim_webhook_deliveries('w3', 100, '1 minute')
           where org_id = 'eeeeeeee-0000-4000-8000-00000000000a'), 0,
  'an organization over its hard webhook quota has nothing claimed');
select is((select count(*)::int from public.webhook_deliveries
           where org_id = 'eeeeeeee-0000-4000-8000-00000000000a' and status = 'pending'), 1,
  'its new delivery waits in the queue');

-- HEADERS: the signature's own cannot be overridden.
select throws_ok(
  $$ update public.webhook_endpoints set headers = '{"Webhook-Signature": "v1,forged"}'
     where org_id = 'eeeeeeee-0000-4000-8000-00000000000a' $$,
  '23514', null, 'custom headers may not set webhook-* headers');

-- ISOLATION: A's owner sees nothing of B, and cannot write endpoints at all.
select tests.authenticate_as('hook_owner_a');
select is((select count(*)::int from public.webhook_endpoints where org_id = 'eeeeeeee-0000-4000-8000-00000000000b'), 0,
  'an owner of A reads no endpoint of B');
select is((select count(*)::int from public.webhook_deliveries where org_id = 'eeeeeeee-0000-4000-8000-00000000000b'), 0,
  'nor its deliveries');
select throws_ok(
  format($$ select public.delete_webhook_endpoint('eeeeeeee-0000-4000-8000-00000000000b', %L) $$, :'b_endpoint'),
  '42501', null, 'nor deletes B''s endpoint through the RPC');
select throws_ok(
  $$ insert into public.webhook_endpoints (org_id, url) values ('eeeeeeee-0000-4000-8000-00000000000a', 'https://x.example.com') $$,
  '42501', null, 'endpoints are written only through the RPCs, never directly');
reset role;

select * from finish();
rollback;

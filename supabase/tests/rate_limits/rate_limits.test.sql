-- Rate-limit decisions (sliding window), their arithmetic, who may call them,
-- and how a principal's policy is chosen. Concurrency is proven by the Deno
-- test rate_limit_concurrency_test.ts (pgTAP runs in one session).
begin;
select plan(43);

-- THE WINDOW ARITHMETIC AT FIXED INSTANTS (window 1000 ms, limit 10) ---------------
select is(private.sliding_window_weighted(10, 1000, 0), 10::bigint,
  'at the start of a window the previous one counts whole');
select is(private.sliding_window_weighted(10, 1000, 500), 5::bigint,
  'half-way, the previous window counts by the half still inside the sliding window');
select is(private.sliding_window_weighted(10, 1000, 450), 6::bigint, 'rounded up');
select is(private.sliding_window_weighted(7, 1000, 999), 1::bigint,
  'a fraction of a request in the previous window still counts as one');
select is(private.sliding_window_retry_after_ms(10, 1000, 3, 0, 1, 100), 0,
  'no wait when the call fits');
select is(private.sliding_window_retry_after_ms(10, 1000, 10, 0, 1, 200), 900,
  'a full window waits into the next one until its count weighs 9: 800 + 100 ms');
select is(private.sliding_window_retry_after_ms(10, 1000, 5, 10, 1, 550), 50,
  'with room in this window, the wait is until the previous window weighs 4: e = 600');
select is(private.sliding_window_retry_after_ms(10, 1000, 5, 10, 2, 600), 100,
  'ceil(10 * (1000 - e) / 1000) + 5 + 2 <= 10 from e = 700');
select is(private.sliding_window_retry_after_ms(10, 1000, 8, 10, 3, 960), 165,
  'a cost this window cannot hold waits for the next: 40 + 125 ms, when 8 weigh 7');

-- DECISIONS (one-hour windows; time moves by ageing a bucket's stored window) ---------
select results_eq(
  $$ select allowed, remaining, retry_after_ms from public.check_rate_limit('t:a', 10, 3600000, 4) $$,
  $$ values (true, 6, 0) $$, 'a first call is admitted and consumes its cost');
select results_eq(
  $$ select allowed, remaining, reset_at
     from public.check_rate_limit('t:a', 10, 3600000, 6) $$,
  $$ select true, 0, to_timestamp((floor(date_part('epoch', clock_timestamp()) / 3600) + 1) * 3600) $$,
  'up to the limit is admitted; reset is the end of the epoch-aligned window');
select results_eq(
  $$ select allowed, remaining, retry_after_ms > 0 from public.check_rate_limit('t:a', 10, 3600000, 1) $$,
  $$ values (false, 0, true) $$, 'past the limit is denied, with a time to retry');
select is((select current_count from private.rate_limit_counters where key = 't:a'), 10,
  'a denied call consumes nothing');

-- One request in the last window weighs 1 whatever the instant in this one.
select public.check_rate_limit('t:b', 3, 3600000, 1);
update private.rate_limit_counters set window_index = window_index - 1 where key = 't:b';
select results_eq(
  $$ select allowed, remaining from public.check_rate_limit('t:b', 3, 3600000, 2) $$,
  $$ values (true, 0) $$, 'the previous window''s count takes its share of the limit');
select results_eq(
  $$ select allowed from public.check_rate_limit('t:b', 3, 3600000, 1) $$,
  $$ values (false) $$, 'and no more is admitted');
select results_eq(
  $$ select previous_count, current_count from private.rate_limit_counters where key = 't:b' $$,
  $$ values (1, 2) $$, 'the window rolled over: this window''s count started afresh');
update private.rate_limit_counters set window_index = window_index - 2 where key = 't:b';
select results_eq(
  $$ select allowed, remaining from public.check_rate_limit('t:b', 3, 3600000, 3) $$,
  $$ values (true, 0) $$, 'after a whole idle window nothing of the past counts');
select results_eq(
  $$ select allowed, remaining from public.check_rate_limit('t:b', 5, 60000, 1) $$,
  $$ values (true, 4) $$, 'a bucket asked with another window starts from zero');

-- THE PUBLIC FUNCTION ----------------------------------------------------------------
select results_eq(
  $$ select allowed, remaining from public.check_rate_limit('t:public', 2, 3600000)
     union all select allowed, remaining from public.check_rate_limit('t:public', 2, 3600000)
     union all select allowed, remaining from public.check_rate_limit('t:public', 2, 3600000) $$,
  $$ values (true, 1), (true, 0), (false, 0) $$, 'check_rate_limit admits exactly the limit');
select ok((select retry_after_ms > 0 and reset_at > now() from public.check_rate_limit('t:public', 2, 3600000)),
  'a denial says when to retry');
select throws_ok($$ select * from public.check_rate_limit('t:bad', 0, 1000) $$, '22023',
  'p_limit must be at least 1, got 0', 'a zero limit is refused, naming the parameter');
select throws_ok($$ select * from public.check_rate_limit('t:bad', 5, 1000, 6) $$, '22023',
  'p_cost must be between 1 and p_limit (5), got 6', 'a cost above the limit is refused');
select throws_ok($$ select * from public.check_rate_limit('', 5, 1000) $$, '22023',
  'p_key must be a non-empty text', 'an empty key is refused');

-- Carrying Redis's count over: the fallback starts from what Redis admitted.
select private.rate_limit_carry_over('t:carry', 3600000, 4);
select results_eq(
  $$ select allowed, remaining from public.check_rate_limit('t:carry', 5, 3600000) $$,
  $$ values (true, 0) $$, 'a carried-over count leaves only the rest of the limit');
select private.rate_limit_carry_over('t:carry', 3600000, 2);
select is((select current_count from private.rate_limit_counters where key = 't:carry'), 5,
  'carrying over never lowers a count');

-- Sweeping removes buckets whose windows have both passed, and only those.
select public.check_rate_limit('t:old', 5, 1000, 1);
update private.rate_limit_counters set window_index = window_index - 2 where key = 't:old';
select ok(private.sweep_rate_limit_counters() >= 1, 'the sweep removes stale buckets');
select is((select count(*)::int from private.rate_limit_counters where key in ('t:old', 't:public')),
  1, 'and keeps live ones');
select ok(exists (select 1 from cron.job where jobname = 'meridian-sweep-rate-limits'),
  'the sweep is scheduled with pg_cron');
select is((select relpersistence from pg_class where oid = 'private.rate_limit_counters'::regclass),
  'u'::"char", 'rate-limit state is UNLOGGED');

-- WHO MAY DECIDE ---------------------------------------------------------------------
select tests.create_supabase_user('rl_user');
select tests.authenticate_as('rl_user');
select throws_ok($$ select * from public.check_rate_limit('t:x', 5, 1000) $$, '42501', null,
  'a signed-in user cannot call check_rate_limit (it would spend others'' limits)');
select tests.clear_authentication();
select throws_ok($$ select * from public.check_rate_limit('t:x', 5, 1000) $$, '42501', null,
  'nor can an anonymous client');
select tests.authenticate_as_service_role();
select ok((select allowed from public.check_rate_limit('t:x', 5, 1000)), 'the service role can');
reset role;

-- POLICIES ---------------------------------------------------------------------------
insert into public.organizations (id, name, slug, plan) values
  ('5a5a5a5a-0000-4000-8000-000000000001', 'Free', 'rl-free', 'free'),
  ('5a5a5a5a-0000-4000-8000-000000000002', 'Enterprise', 'rl-ent', 'enterprise');
insert into public.api_keys (org_id, id, name, scopes, prefix, last_four) values
  ('5a5a5a5a-0000-4000-8000-000000000001', '5a5a5a5a-0000-4000-8000-0000000000f1', 'k1',
   '{customers:read}', 'mk_live_K1K1', 'k1k1');

create function pg_temp.policy(p_principal jsonb, p_endpoint text)
returns text language sql as $$
  select scope || ' ' || request_limit || '/' || window_ms || ' ' || bucket
  from private.rate_limit_policy_for(p_principal, p_endpoint)
$$;

select is(pg_temp.policy('{"kind": "api_key", "org_id": "5a5a5a5a-0000-4000-8000-000000000001",
                           "key_id": "5a5a5a5a-0000-4000-8000-0000000000f1"}', 'ingest'),
  'org 100/1000 org:5a5a5a5a-0000-4000-8000-000000000001:ingest',
  'ingestion is limited per organization by its plan');
select is(pg_temp.policy('{"kind": "api_key", "org_id": "5a5a5a5a-0000-4000-8000-000000000002"}', 'ingest'),
  'org 1000/1000 org:5a5a5a5a-0000-4000-8000-000000000002:ingest',
  'a bigger plan has a bigger limit (Segment''s 1,000 requests/s)');
select is(pg_temp.policy('{"kind": "api_key", "org_id": "5a5a5a5a-0000-4000-8000-000000000001",
                           "key_id": "5a5a5a5a-0000-4000-8000-0000000000f1"}', 'audit-export'),
  'api_key 10/1000 key:5a5a5a5a-0000-4000-8000-0000000000f1:*',
  'other endpoints are limited per API key, sharing one bucket');
select is(pg_temp.policy('{"kind": "anonymous", "ip": "203.0.113.9"}', 'health'),
  'ip 20/1000 ip:203.0.113.9:*', 'anonymous callers are limited per IP by the platform default');
select is(pg_temp.policy('{"kind": "anonymous"}', 'health'), null,
  'a scope applies only when the principal has it');

insert into public.rate_limit_policies (org_id, scope, endpoint, request_limit, window_ms)
values ('5a5a5a5a-0000-4000-8000-000000000001', 'org', '*', 7, 60000);
select is(pg_temp.policy('{"kind": "api_key", "org_id": "5a5a5a5a-0000-4000-8000-000000000001",
                           "key_id": "5a5a5a5a-0000-4000-8000-0000000000f1"}', 'ingest'),
  'org 7/60000 org:5a5a5a5a-0000-4000-8000-000000000001:*',
  'an organization override beats the plan default');
insert into public.rate_limit_policies (org_id, api_key_id, scope, endpoint, request_limit, window_ms)
values ('5a5a5a5a-0000-4000-8000-000000000001', '5a5a5a5a-0000-4000-8000-0000000000f1', 'api_key',
        'ingest', 3, 1000);
select is(pg_temp.policy('{"kind": "api_key", "org_id": "5a5a5a5a-0000-4000-8000-000000000001",
                           "key_id": "5a5a5a5a-0000-4000-8000-0000000000f1"}', 'ingest'),
  'api_key 3/1000 key:5a5a5a5a-0000-4000-8000-0000000000f1:ingest',
  'a key override beats the organization''s');
select ok(exists (select 1 from public.audit_log where org_id = '5a5a5a5a-0000-4000-8000-000000000001'
                  and action = 'rate_limit_policies.insert' and risk = 'high'),
  'overrides are audited in the organization''s log');

-- A tenant narrows a key with rate_limit_per_minute; it never widens one.
update public.api_keys set rate_limit_per_minute = 60 where id = '5a5a5a5a-0000-4000-8000-0000000000f1';
select is(pg_temp.policy('{"kind": "api_key", "org_id": "5a5a5a5a-0000-4000-8000-000000000001",
                           "key_id": "5a5a5a5a-0000-4000-8000-0000000000f1"}', 'ingest'),
  'api_key 60/60000 key:5a5a5a5a-0000-4000-8000-0000000000f1:ingest:per-minute',
  'a stricter per-minute limit on the key applies');
update public.api_keys set rate_limit_per_minute = 100000 where id = '5a5a5a5a-0000-4000-8000-0000000000f1';
select is(pg_temp.policy('{"kind": "api_key", "org_id": "5a5a5a5a-0000-4000-8000-000000000001",
                           "key_id": "5a5a5a5a-0000-4000-8000-0000000000f1"}', 'ingest'),
  'api_key 3/1000 key:5a5a5a5a-0000-4000-8000-0000000000f1:ingest',
  'a looser one does not');

-- ADMISSION: the policy and the decision in one call.
select results_eq(
  $$ select allowed, remaining, request_limit, scope::text from private.admit_request(
       '{"kind": "api_key", "org_id": "5a5a5a5a-0000-4000-8000-000000000001",
         "key_id": "5a5a5a5a-0000-4000-8000-0000000000f1"}', 'ingest') $$,
  $$ values (true, 2, 3, 'api_key') $$, 'admit_request decides with the principal''s policy');

select * from finish();
rollback;

-- Plan quotas: metering in the transaction of the work, hard and soft limits,
-- overrides, threshold notifications once per period, ingestion counting the
-- events it stored, and the usage read models.
begin;
select plan(28);

insert into public.organizations (id, name, slug, plan) values
  ('9a9a9a9a-0000-4000-8000-000000000001', 'Quota Free', 'quota-free', 'free'),
  ('9a9a9a9a-0000-4000-8000-000000000002', 'Quota Ent', 'quota-ent', 'enterprise');
insert into public.sources (org_id, id, name) values
  ('9a9a9a9a-0000-4000-8000-000000000001', '9a9a9a9a-0000-4000-8000-0000000000c1', 'web');

-- LIMITS IN FORCE
select results_eq(
  $$ select quota, hard, limited from private.quota_for('9a9a9a9a-0000-4000-8000-000000000001', 'events', 'month') $$,
  $$ values (100000::bigint, true, true) $$, 'the free plan includes 100,000 events a month, hard');
select results_eq(
  $$ select quota, hard, limited from private.quota_for('9a9a9a9a-0000-4000-8000-000000000001', 'events', 'day') $$,
  $$ values (null::bigint, false, false) $$, 'no row means no daily events quota');
select results_eq(
  $$ select quota, hard from private.quota_for('9a9a9a9a-0000-4000-8000-000000000002', 'events', 'month') $$,
  $$ values (100000000::bigint, false) $$, 'enterprise quotas are soft');

-- METERING
select private.meter_usage('9a9a9a9a-0000-4000-8000-000000000001', 'api_calls', 3);
select private.meter_usage('9a9a9a9a-0000-4000-8000-000000000001', 'api_calls', 2);
select is(private.usage_of('9a9a9a9a-0000-4000-8000-000000000001', 'api_calls', 'day',
                           private.quota_period_start('day')), 5::bigint, 'usage adds up per day');
select is(private.usage_of('9a9a9a9a-0000-4000-8000-000000000001', 'api_calls', 'month',
                           private.quota_period_start('month')), 5::bigint, 'and per month');
select private.meter_usage('9a9a9a9a-0000-4000-8000-000000000001', 'api_calls', 0);
select is((select count(*)::int from public.usage_counters where org_id = '9a9a9a9a-0000-4000-8000-000000000001'),
  2, 'nothing to count writes nothing');

-- HARD QUOTA: an override of 10 events a month.
insert into public.org_quota_overrides (org_id, metric, period, quota, hard)
values ('9a9a9a9a-0000-4000-8000-000000000001', 'events', 'month', 10, true);
select lives_ok($$ select private.meter_usage('9a9a9a9a-0000-4000-8000-000000000001', 'events', 7) $$,
  'work under the quota is counted');
select is((select count(*)::int from public.webhook_events
           where org_id = '9a9a9a9a-0000-4000-8000-000000000001'), 0, 'below 80% nothing is emitted');
select lives_ok($$ select private.meter_usage('9a9a9a9a-0000-4000-8000-000000000001', 'events', 1) $$,
  'work that crosses 80% is counted');
select results_eq(
  $$ select type, payload ->> 'metric', payload ->> 'period', (payload ->> 'threshold_percent')::int,
            (payload ->> 'used')::int, (payload ->> 'quota')::int
     from public.webhook_events where org_id = '9a9a9a9a-0000-4000-8000-000000000001' $$,
  $$ values ('quota.threshold_reached', 'events', 'month', 80, 8, 10) $$,
  'crossing 80% emits quota.threshold_reached through the outbox');
select lives_ok($$ select private.meter_usage('9a9a9a9a-0000-4000-8000-000000000001', 'events', 5) $$,
  'the work that reaches the quota is admitted whole');
select is((select count(*)::int from public.webhook_events
           where org_id = '9a9a9a9a-0000-4000-8000-000000000001' and payload ->> 'threshold_percent' = '100'),
  1, 'crossing 100% emits once');
select throws_ok($$ select private.meter_usage('9a9a9a9a-0000-4000-8000-000000000001', 'events', 1) $$,
  'MQ001', 'quota exceeded: 13 of 10 events per month used',
  'past a hard quota the work is refused with Meridian''s quota error');
select throws_ok($$ select private.assert_quota_available('9a9a9a9a-0000-4000-8000-000000000001', 'events') $$,
  'MQ001', null, 'and refused up front, before any work');
select is(private.usage_of('9a9a9a9a-0000-4000-8000-000000000001', 'events', 'month',
                           private.quota_period_start('month')), 13::bigint,
  'refused work is not counted (its transaction rolled back)');
select is((select count(*)::int from public.webhook_events
           where org_id = '9a9a9a9a-0000-4000-8000-000000000001'), 2,
  'each threshold notifies once per period, however often it is passed');
select results_eq(
  $$ select risk::text, after ->> 'threshold_percent' from public.audit_log
     where org_id = '9a9a9a9a-0000-4000-8000-000000000001' and action = 'quota.threshold_reached'
     order by seq $$,
  $$ values ('low', '80'), ('medium', '100') $$, 'and leaves an audit row each');
select is((select count(*)::int from public.quota_notifications
           where org_id = '9a9a9a9a-0000-4000-8000-000000000001'), 2, 'recorded in quota_notifications');

-- Unlimited by override, soft by plan.
update public.org_quota_overrides set quota = null where org_id = '9a9a9a9a-0000-4000-8000-000000000001';
select lives_ok($$ select private.meter_usage('9a9a9a9a-0000-4000-8000-000000000001', 'events', 100) $$,
  'a null override quota means unlimited');
insert into public.usage_counters (org_id, metric, period, period_start, slot, used)
values ('9a9a9a9a-0000-4000-8000-000000000002', 'events', 'month', private.quota_period_start('month'), 0,
        100000000);
select lives_ok($$ select private.meter_usage('9a9a9a9a-0000-4000-8000-000000000002', 'events', 1) $$,
  'a soft quota never refuses work');
select is((select count(*)::int from public.webhook_events
           where org_id = '9a9a9a9a-0000-4000-8000-000000000002' and payload ->> 'hard' = 'false'),
  2, 'but it notifies (80% and 100% crossed at once)');

-- INGESTION COUNTS STORED EVENTS, NOT REQUESTS OR DUPLICATES
delete from public.org_quota_overrides where org_id = '9a9a9a9a-0000-4000-8000-000000000001';
select private.ingest_batch_metered('9a9a9a9a-0000-4000-8000-000000000001', '9a9a9a9a-0000-4000-8000-0000000000c1',
  '[{"message_id": "q1", "type": "track", "event": "a", "timestamp": "2026-11-20T10:00:00Z",
     "received_at": "2026-11-20T10:00:00Z", "identifiers": [{"type": "user_id", "value": "q"}]},
    {"message_id": "q2", "type": "track", "event": "a", "timestamp": "2026-11-20T10:00:00Z",
     "received_at": "2026-11-20T10:00:00Z", "identifiers": [{"type": "user_id", "value": "q"}]}]');
select private.ingest_batch_metered('9a9a9a9a-0000-4000-8000-000000000001', '9a9a9a9a-0000-4000-8000-0000000000c1',
  '[{"message_id": "q2", "type": "track", "event": "a", "timestamp": "2026-11-20T10:00:00Z",
     "received_at": "2026-11-20T10:00:00Z", "identifiers": [{"type": "user_id", "value": "q"}]},
    {"message_id": "q3", "type": "track", "event": "a", "timestamp": "2026-11-20T10:00:00Z",
     "received_at": "2026-11-20T10:00:00Z", "identifiers": [{"type": "user_id", "value": "q"}]}]');
select is(private.usage_of('9a9a9a9a-0000-4000-8000-000000000001', 'events', 'day',
                           private.quota_period_start('day')), 116::bigint,
  'ingestion counts the 3 events it stored (113 before), not the duplicate');

-- ADMISSION METERS API CALLS
select private.admit_request('{"kind": "api_key", "org_id": "9a9a9a9a-0000-4000-8000-000000000001",
                               "key_id": "9a9a9a9a-0000-4000-8000-0000000000f1"}', 'audit-export', 1, 'api_calls');
select is(private.usage_of('9a9a9a9a-0000-4000-8000-000000000001', 'api_calls', 'day',
                           private.quota_period_start('day')), 6::bigint, 'an admitted API call is metered');
insert into public.org_quota_overrides (org_id, metric, period, quota)
values ('9a9a9a9a-0000-4000-8000-000000000001', 'api_calls', 'day', 6);
select throws_ok($$ select private.admit_request('{"kind": "api_key", "org_id": "9a9a9a9a-0000-4000-8000-000000000001",
                     "key_id": "9a9a9a9a-0000-4000-8000-0000000000f1"}', 'audit-export', 1, 'api_calls') $$,
  'MQ001', null, 'an API call past the daily quota is refused');

-- READ MODELS
select tests.create_supabase_user('quota_owner');
insert into public.organization_members (org_id, user_id, role, status)
values ('9a9a9a9a-0000-4000-8000-000000000001', tests.get_supabase_uid('quota_owner'), 'read_only', 'active');
select tests.authenticate_as('quota_owner');
select results_eq(
  $$ select metric::text, period::text, used, quota from public.get_usage('9a9a9a9a-0000-4000-8000-000000000001')
     where metric = 'api_calls' $$,
  $$ values ('api_calls', 'day', 6::bigint, 6::bigint), ('api_calls', 'month', 6::bigint, null::bigint) $$,
  'get_usage reports usage against the quota in force');
select results_eq(
  $$ select metric::text, used from analytics.usage_daily order by 1 $$,
  $$ values ('api_calls', 6::bigint), ('events', 116::bigint) $$,
  'analytics.usage_daily shows the member''s organization by day');

-- DELETING AN ORGANIZATION: its counters go with it; its outbox events stay
-- (append-only) until retention drops their partition.
select tests.clear_authentication();
reset role;
select lives_ok($$ delete from public.organizations where id = '9a9a9a9a-0000-4000-8000-000000000002' $$,
  'an organization with usage and webhook events can be deleted');
select results_eq(
  $$ select (select count(*)::int from public.usage_counters where org_id = '9a9a9a9a-0000-4000-8000-000000000002'),
            (select count(*)::int from public.webhook_events where org_id = '9a9a9a9a-0000-4000-8000-000000000002') $$,
  $$ values (0, 2) $$, 'its counters go; its webhook events stay until retention');

select * from finish();
rollback;

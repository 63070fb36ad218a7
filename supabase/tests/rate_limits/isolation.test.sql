-- Cross-tenant isolation of the rate-limit, quota and outbox tables: a member of
-- org A, whatever their role, sees A's rows and none of B's, and writes none.
begin;
select plan(83);

select tests.create_supabase_user('qa_' || r) from unnest(enum_range(null::public.org_role)) r;
insert into public.organizations (id, name, slug, plan) values
  ('aaaa0000-0000-4000-8000-00000000000a', 'Org A', 'quota-iso-a', 'starter'),
  ('bbbb0000-0000-4000-8000-00000000000b', 'Org B', 'quota-iso-b', 'starter');
insert into public.organization_members (org_id, user_id, role, status)
select 'aaaa0000-0000-4000-8000-00000000000a', tests.get_supabase_uid('qa_' || r), r, 'active'
from unnest(enum_range(null::public.org_role)) r;

-- Both organizations have a row in every table.
insert into public.org_quota_overrides (org_id, metric, period, quota) values
  ('aaaa0000-0000-4000-8000-00000000000a', 'events', 'month', 10),
  ('bbbb0000-0000-4000-8000-00000000000b', 'events', 'month', 10);
insert into public.rate_limit_policies (org_id, scope, endpoint, request_limit, window_ms) values
  ('aaaa0000-0000-4000-8000-00000000000a', 'org', 'ingest', 5, 1000),
  ('bbbb0000-0000-4000-8000-00000000000b', 'org', 'ingest', 5, 1000);
select private.meter_usage(o, 'events', 9)
from unnest(array['aaaa0000-0000-4000-8000-00000000000a',
                  'bbbb0000-0000-4000-8000-00000000000b']::uuid[]) o;

create function pg_temp.checks(p_role text) returns setof text language plpgsql as $$
declare
  a constant uuid := 'aaaa0000-0000-4000-8000-00000000000a';
  b constant uuid := 'bbbb0000-0000-4000-8000-00000000000b';
  who text := p_role || ' of A';
begin
  perform tests.authenticate_as('qa_' || p_role);
  -- READS
  return next ok((select count(*) from public.usage_counters where org_id = a) > 0,
                 who || ' reads A''s usage');
  return next is((select count(*)::int from public.usage_counters where org_id = b), 0,
                 who || ' reads none of B''s usage');
  return next is((select count(*)::int from public.quota_notifications where org_id = b), 0,
                 who || ' reads none of B''s quota notifications');
  return next is((select count(*)::int from public.org_quota_overrides where org_id = b), 0,
                 who || ' reads none of B''s quota overrides');
  return next is((select count(*)::int from public.rate_limit_policies where org_id = b), 0,
                 who || ' reads none of B''s rate-limit overrides');
  return next ok((select count(*) from public.rate_limit_policies where org_id is null) > 0,
                 who || ' reads the plan defaults');
  return next is((select count(*)::int from analytics.usage_daily where org_id = b), 0,
                 who || ' sees none of B in analytics.usage_daily');
  return next throws_ok(format('select * from public.get_usage(%L)', b), '42501', null,
                        who || ' cannot get B''s usage');
  -- WRITES: no client writes these tables, in A or B.
  return next throws_ok(format(
    $q$insert into public.usage_counters (org_id, metric, period, period_start, slot, used)
       values (%L, 'events', 'month', current_date, 1, -1000000)$q$, a), '42501', null,
    who || ' cannot lower usage by inserting counters');
  return next throws_ok(format('update public.usage_counters set used = 0 where org_id = %L', b), '42501', null,
                        who || ' cannot reset B''s usage');
  return next throws_ok(format(
    $q$insert into public.org_quota_overrides (org_id, metric, period, quota) values (%L, 'api_calls', 'day', null)$q$,
    a), '42501', null, who || ' cannot lift its own quota');
  return next throws_ok(format(
    $q$insert into public.rate_limit_policies (org_id, scope, request_limit, window_ms)
       values (%L, 'org', 1000000, 1000)$q$, a), '42501', null, who || ' cannot raise its own rate limit');
  return next throws_ok(format('delete from public.rate_limit_policies where org_id = %L', b), '42501', null,
                        who || ' cannot delete B''s overrides');
  return next throws_ok(format(
    $q$insert into public.webhook_events (org_id, type) values (%L, 'quota.threshold_reached')$q$, b),
    '42501', null, who || ' cannot emit webhook events');
  return next throws_ok(format('delete from public.quota_notifications where org_id = %L', a), '42501', null,
                        who || ' cannot clear notifications to be notified again');
  perform tests.clear_authentication();
end;
$$;

select c from unnest(enum_range(null::public.org_role)) r, pg_temp.checks(r::text) c;

-- Webhook events are for members with webhooks:read (every role here has it).
select tests.authenticate_as('qa_owner');
select ok((select count(*) from public.webhook_events where org_id = 'aaaa0000-0000-4000-8000-00000000000a') > 0,
  'A''s owner reads A''s webhook events');
select is((select count(*)::int from public.webhook_events where org_id = 'bbbb0000-0000-4000-8000-00000000000b'), 0,
  'and none of B''s');
select is((select count(*)::int from public.quota_notifications), 1, 'and only A''s notification');
select tests.clear_authentication();
select throws_ok($$ select * from public.usage_counters $$, '42501', null, 'an anonymous client reads no usage');
select throws_ok($$ select * from public.webhook_events $$, '42501', null, 'nor any webhook event');
select throws_ok($$ select * from public.get_usage('aaaa0000-0000-4000-8000-00000000000a') $$, '42501', null,
  'nor anyone''s usage through the RPC');

-- The outbox is append-only even for the owner of the tables.
reset role;
select throws_ok($$ update public.webhook_events set payload = '{}' $$, '42501', null,
  'webhook events cannot be changed');
select tests.rls_enabled('public');

select * from finish();
rollback;

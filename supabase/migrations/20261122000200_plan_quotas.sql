-- Plan quotas: durable usage counters per organization, metric and period
-- (day, month), incremented in the transaction of the work they count, checked
-- against the plan's limits. Crossing 80% and 100% of a quota emits
-- quota.threshold_reached (webhook outbox) and an audit row, once per period.

create type public.usage_metric as enum ('events', 'api_calls', 'webhook_deliveries');
create type public.quota_period as enum ('day', 'month');

-- LIMITS -----------------------------------------------------------------------------
-- A hard quota refuses work once reached; a soft one only notifies.
create table public.plan_quotas (
  plan public.org_plan not null,
  metric public.usage_metric not null,
  period public.quota_period not null,
  quota bigint not null constraint plan_quotas_quota_check check (quota >= 0),
  hard boolean not null default true,
  primary key (plan, metric, period)
);
comment on table public.plan_quotas is 'What each plan includes per metric and period; no row means unlimited.';
revoke all on public.plan_quotas from anon, authenticated, service_role;
grant select on public.plan_quotas to authenticated, service_role;
alter table public.plan_quotas enable row level security;
create policy "Plans are public to signed-in users"
  on public.plan_quotas for select to authenticated using (true);

insert into public.plan_quotas (plan, metric, period, quota, hard) values
  ('free',         'events',             'month', 100000,    true),
  ('free',         'api_calls',          'day',   10000,     true),
  ('free',         'webhook_deliveries', 'month', 10000,     true),
  ('starter',      'events',             'month', 1000000,   true),
  ('starter',      'api_calls',          'day',   100000,    true),
  ('starter',      'webhook_deliveries', 'month', 100000,    true),
  ('professional', 'events',             'month', 10000000,  true),
  ('professional', 'api_calls',          'day',   1000000,   true),
  ('professional', 'webhook_deliveries', 'month', 1000000,   true),
  -- Enterprise contracts bill overage rather than refuse work.
  ('enterprise',   'events',             'month', 100000000, false),
  ('enterprise',   'api_calls',          'day',   10000000,  false),
  ('enterprise',   'webhook_deliveries', 'month', 10000000,  false);

-- Per-organization contract terms, set by Meridian's operators (service role).
-- quota null means unlimited.
create table public.org_quota_overrides (
  org_id uuid not null references public.organizations (id) on delete cascade,
  metric public.usage_metric not null,
  period public.quota_period not null,
  quota bigint constraint org_quota_overrides_quota_check check (quota is null or quota >= 0),
  hard boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (org_id, metric, period)
);
comment on table public.org_quota_overrides is 'An organization''s quota in place of its plan''s (null quota: unlimited).';
create trigger org_quota_overrides_updated_at before update on public.org_quota_overrides
  for each row execute function private.set_updated_at();
create trigger org_quota_overrides_audit after insert or update or delete on public.org_quota_overrides
  for each row execute function private.audit_row_change('org_id', 'metric', 'high');
revoke all on public.org_quota_overrides from anon, authenticated, service_role;
grant select on public.org_quota_overrides to authenticated;
grant select, insert, update, delete on public.org_quota_overrides to service_role;
alter table public.org_quota_overrides enable row level security;
create policy "Members read their organization's quota overrides"
  on public.org_quota_overrides for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('org:read'))::uuid[]));

-- USAGE ------------------------------------------------------------------------------
-- Each increment goes to one of 8 slots chosen by backend, so concurrent
-- ingestion batches of one organization do not queue on one row lock until
-- commit; readers sum the slots.
create table public.usage_counters (
  org_id uuid not null references public.organizations (id) on delete cascade,
  metric public.usage_metric not null,
  period public.quota_period not null,
  period_start date not null,
  slot smallint not null constraint usage_counters_slot_check check (slot between 0 and 7),
  used bigint not null default 0,
  updated_at timestamptz not null default now(),
  primary key (org_id, metric, period, period_start, slot)
);
comment on table public.usage_counters is
  'Usage per organization, metric and period (UTC day or month), split in slots to spread row locks.';
comment on column public.usage_counters.slot is
  'Which of 8 rows of the period took this increment (by backend); usage is their sum.';
revoke all on public.usage_counters from anon, authenticated, service_role;
grant select on public.usage_counters to authenticated, service_role;
alter table public.usage_counters enable row level security;
create policy "Members read their organization's usage"
  on public.usage_counters for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('org:read'))::uuid[]));

-- One row per threshold crossed per period: the primary key is what makes the
-- notification happen once, however many concurrent requests cross together.
create table public.quota_notifications (
  org_id uuid not null references public.organizations (id) on delete cascade,
  metric public.usage_metric not null,
  period public.quota_period not null,
  period_start date not null,
  threshold smallint not null constraint quota_notifications_threshold_check check (threshold in (80, 100)),
  quota bigint not null,
  used bigint not null,
  notified_at timestamptz not null default now(),
  primary key (org_id, metric, period, period_start, threshold)
);
comment on table public.quota_notifications is 'Quota thresholds (80%, 100%) crossed, once per organization, metric and period.';
revoke all on public.quota_notifications from anon, authenticated, service_role;
grant select on public.quota_notifications to authenticated, service_role;
alter table public.quota_notifications enable row level security;
create policy "Members read their organization's quota notifications"
  on public.quota_notifications for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('org:read'))::uuid[]));

-- FUNCTIONS --------------------------------------------------------------------------
create function private.quota_period_start(p_period public.quota_period, p_at timestamptz default now())
returns date
language plpgsql
stable
set search_path = ''
as $$
begin
  return pg_catalog.date_trunc(p_period::text, p_at at time zone 'UTC')::date;
end;
$$;
comment on function private.quota_period_start(public.quota_period, timestamptz) is
  'First day of the UTC day or month containing p_at.';

-- These helpers are plpgsql, not SQL: an SQL function with SET search_path is
-- planned afresh on every call (measured at 0.3-0.45 ms each), and plpgsql
-- keeps its plans. get_usage reads them; metering, which runs in every
-- ingestion transaction, reads everything at once through quota_state below.

-- The quota in force: the organization's override, else its plan's, else none.
create function private.quota_for(p_org_id uuid, p_metric public.usage_metric, p_period public.quota_period,
                                  out quota bigint, out hard boolean, out limited boolean)
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  select coalesce(ov.quota, pq.quota),
         coalesce(ov.hard, pq.hard, false),
         case when ov.org_id is not null then ov.quota is not null else pq.quota is not null end
    into quota, hard, limited
  from public.organizations o
  left join public.org_quota_overrides ov
    on ov.org_id = o.id and ov.metric = p_metric and ov.period = p_period
  left join public.plan_quotas pq
    on pq.plan = o.plan and pq.metric = p_metric and pq.period = p_period
  where o.id = p_org_id;
end;
$$;
comment on function private.quota_for(uuid, public.usage_metric, public.quota_period) is
  'The quota in force for a metric and period: the organization''s override, else its plan''s; limited is false when none.';

create function private.usage_of(p_org_id uuid, p_metric public.usage_metric,
                                 p_period public.quota_period, p_period_start date)
returns bigint
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return (select coalesce(sum(u.used), 0)::bigint from public.usage_counters u
          where u.org_id = p_org_id and u.metric = p_metric and u.period = p_period
            and u.period_start = p_period_start);
end;
$$;
comment on function private.usage_of(uuid, public.usage_metric, public.quota_period, date) is
  'Usage of a metric in one period, summed over the counter slots.';

-- Every limited period of a metric with its quota and usage, in one query:
-- metering runs in every ingestion transaction, so it reads its state once.
create function private.quota_state(p_org_id uuid, p_metric public.usage_metric)
returns table (period public.quota_period, period_start date, quota bigint, hard boolean, used bigint)
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return query
  select p.period, s.start, coalesce(ov.quota, pq.quota), coalesce(ov.hard, pq.hard, false),
         (select coalesce(sum(u.used), 0)::bigint from public.usage_counters u
          where u.org_id = p_org_id and u.metric = p_metric and u.period = p.period
            and u.period_start = s.start)
  from public.organizations o
  cross join unnest(enum_range(null::public.quota_period)) p (period)
  cross join lateral (
    select pg_catalog.date_trunc(p.period::text, now() at time zone 'UTC')::date as start) s
  left join public.org_quota_overrides ov
    on ov.org_id = o.id and ov.metric = p_metric and ov.period = p.period
  left join public.plan_quotas pq
    on pq.plan = o.plan and pq.metric = p_metric and pq.period = p.period
  where o.id = p_org_id
    and case when ov.org_id is not null then ov.quota is not null else pq.quota is not null end;
end;
$$;
comment on function private.quota_state(uuid, public.usage_metric) is
  'Every limited period of a metric with its quota, hardness and usage, in one query.';

-- Refuses up front when a hard quota is already used up, so refused work costs
-- nothing. SQLSTATE MQ001 is Meridian's "quota exceeded" (edge functions answer
-- 429 quota_exceeded); the detail names the metric and period.
create function private.assert_quota_available(p_org_id uuid, p_metric public.usage_metric)
returns void
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_state record;
begin
  for v_state in select * from private.quota_state(p_org_id, p_metric) q
                 where q.hard and q.used >= q.quota loop
    raise exception 'quota exceeded: % of % % per % used', v_state.used, v_state.quota, p_metric,
                    v_state.period
      using errcode = 'MQ001',
            detail = format('%s:%s', p_metric, v_state.period),
            hint = 'Upgrade the plan or wait for the next period.';
  end loop;
end;
$$;
comment on function private.assert_quota_available(uuid, public.usage_metric) is
  'Raises MQ001 when a hard quota of the metric is already used up.';

-- Counts p_amount of work done in this transaction. Refuses (MQ001, rolling the
-- work back) when the hard quota had been reached before this work began;
-- the work that reaches a quota is admitted whole, so a batch is never split.
-- Concurrent transactions do not see each other's uncommitted counts, so usage
-- can pass a hard quota by the work in flight at the moment it is reached.
create function private.meter_usage(p_org_id uuid, p_metric public.usage_metric, p_amount bigint)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_state record;
  v_threshold smallint;
begin
  if p_amount is null or p_amount <= 0 then
    return;
  end if;
  insert into public.usage_counters as u (org_id, metric, period, period_start, slot, used)
  select p_org_id, p_metric, p.period, pg_catalog.date_trunc(p.period::text, now() at time zone 'UTC')::date,
         pg_backend_pid() % 8, p_amount
  from unnest(enum_range(null::public.quota_period)) p (period)
  on conflict (org_id, metric, period, period_start, slot)
  do update set used = u.used + excluded.used, updated_at = now();

  for v_state in select * from private.quota_state(p_org_id, p_metric) loop
    if v_state.hard and v_state.used - p_amount >= v_state.quota then
      raise exception 'quota exceeded: % of % % per % used', v_state.used - p_amount, v_state.quota,
                      p_metric, v_state.period
        using errcode = 'MQ001',
              detail = format('%s:%s', p_metric, v_state.period),
              hint = 'Upgrade the plan or wait for the next period.';
    end if;
    foreach v_threshold in array array[80, 100]::smallint[] loop
      continue when v_state.used * 100 < v_state.quota * v_threshold;
      insert into public.quota_notifications (org_id, metric, period, period_start, threshold, quota, used)
      values (p_org_id, p_metric, v_state.period, v_state.period_start, v_threshold, v_state.quota,
              v_state.used)
      on conflict do nothing;
      if found then
        perform private.emit_webhook_event(p_org_id, 'quota.threshold_reached', jsonb_build_object(
          'metric', p_metric, 'period', v_state.period, 'period_start', v_state.period_start,
          'threshold_percent', v_threshold, 'quota', v_state.quota, 'used', v_state.used,
          'hard', v_state.hard));
        perform private.append_audit(p_org_id, 'quota.threshold_reached', 'quota',
          p_metric || ':' || v_state.period,
          null,
          jsonb_build_object('threshold_percent', v_threshold, 'quota', v_state.quota,
                             'used', v_state.used, 'period_start', v_state.period_start,
                             'hard', v_state.hard),
          case when v_threshold = 100 then 'medium' else 'low' end::public.audit_risk,
          'success', array['quota'], jsonb_build_object('type', 'system'));
      end if;
    end loop;
  end loop;
end;
$$;
comment on function private.meter_usage(uuid, public.usage_metric, bigint) is
  'Adds work done in this transaction to the day and month usage; refuses past a hard quota; notifies at 80% and 100%.';

-- Ingestion counts the events it stored (duplicates are not new work).
create function private.ingest_batch_metered(p_org_id uuid, p_source_id uuid, p_messages jsonb)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_result jsonb;
begin
  perform private.assert_quota_available(p_org_id, 'events');
  v_result := private.ingest_batch(p_org_id, p_source_id, p_messages);
  perform private.meter_usage(p_org_id, 'events', (v_result ->> 'accepted')::bigint);
  return v_result;
end;
$$;
comment on function private.ingest_batch_metered(uuid, uuid, jsonb) is
  'private.ingest_batch within the organization''s events quota, counting the events stored.';

-- ADMISSION --------------------------------------------------------------------------
-- The one call an edge function makes before any work when Postgres decides:
-- the policy, the rate-limit decision and, for metered calls, the quota, in one
-- round trip. A quota refusal raises MQ001 and rolls the rate-limit hit back.
create function private.admit_request(p_principal jsonb, p_endpoint text, p_cost int default 1,
                                      p_meter public.usage_metric default null)
returns table (allowed boolean, remaining int, reset_at timestamptz, retry_after_ms int,
               request_limit int, window_ms int, scope public.rate_limit_scope, bucket text)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_policy record;
  v_decision record;
  v_org uuid := (p_principal ->> 'org_id')::uuid;
begin
  select * into v_policy from private.rate_limit_policy_for(p_principal, p_endpoint);
  if v_policy.bucket is not null then
    select * into v_decision
    from public.check_rate_limit(v_policy.bucket, v_policy.request_limit, v_policy.window_ms,
                                 least(p_cost, v_policy.request_limit));
    allowed := v_decision.allowed;
    remaining := v_decision.remaining;
    reset_at := v_decision.reset_at;
    retry_after_ms := v_decision.retry_after_ms;
    request_limit := v_policy.request_limit;
    window_ms := v_policy.window_ms;
    scope := v_policy.scope;
    bucket := v_policy.bucket;
  else
    allowed := true;
  end if;
  if allowed and p_meter is not null and v_org is not null then
    perform private.meter_usage(v_org, p_meter, 1);
  end if;
  return next;
end;
$$;
comment on function private.admit_request(jsonb, text, int, public.usage_metric) is
  'Rate-limit decision (and optional quota metering) for a request, before any work.';

-- USAGE FOR ADMINS AND ANALYSTS ------------------------------------------------------
create view analytics.usage_daily
with (security_invoker = true)
as
select u.org_id, u.metric, u.period_start as day, sum(u.used)::bigint as used,
       max(u.updated_at) as updated_at
from public.usage_counters u
where u.period = 'day'
group by u.org_id, u.metric, u.period_start;
comment on view analytics.usage_daily is 'Usage per organization, metric and UTC day.';
grant usage on schema analytics to authenticated, service_role;
grant select on analytics.usage_daily to authenticated, service_role;

create function public.get_usage(p_org_id uuid)
returns table (metric public.usage_metric, period public.quota_period, period_start date,
               resets_at timestamptz, used bigint, quota bigint, hard boolean, percent_used numeric)
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  perform private.require_permission(p_org_id, 'org:read');
  return query
  select m.metric, p.period, s.start,
         ((s.start + ('1 ' || p.period::text)::interval)::timestamp at time zone 'UTC'),
         private.usage_of(p_org_id, m.metric, p.period, s.start),
         q.quota, q.hard,
         case when q.quota > 0
           then round(100.0 * private.usage_of(p_org_id, m.metric, p.period, s.start) / q.quota, 1)
         end
  from unnest(enum_range(null::public.usage_metric)) m(metric)
  cross join unnest(enum_range(null::public.quota_period)) p(period)
  cross join lateral (select private.quota_period_start(p.period) as start) s
  cross join lateral private.quota_for(p_org_id, m.metric, p.period) q
  order by m.metric, p.period;
end;
$$;
comment on function public.get_usage(uuid) is
  'Current usage against the quota in force per metric and period (day and month, UTC); needs org:read.';

-- Old daily counters: the monthly ones keep the totals; a year of days is plenty.
create function private.sweep_usage_counters()
returns bigint
language sql
security definer
set search_path = ''
as $$
  with gone as (
    delete from public.usage_counters u
    where u.period = 'day' and u.period_start < (now() at time zone 'UTC')::date - 400
    returning 1)
  select count(*) from gone
$$;
comment on function private.sweep_usage_counters() is
  'Deletes daily usage counters older than 400 days; run daily by pg_cron.';
select cron.schedule('meridian-sweep-usage-counters', '41 3 * * *',
                     'select private.sweep_usage_counters()');

revoke execute on function public.get_usage(uuid) from public, anon;
grant execute on function public.get_usage(uuid) to authenticated, service_role;
grant execute on function
  private.quota_period_start(public.quota_period, timestamptz),
  private.quota_for(uuid, public.usage_metric, public.quota_period),
  private.usage_of(uuid, public.usage_metric, public.quota_period, date),
  private.quota_state(uuid, public.usage_metric),
  private.assert_quota_available(uuid, public.usage_metric),
  private.meter_usage(uuid, public.usage_metric, bigint),
  private.ingest_batch_metered(uuid, uuid, jsonb),
  private.admit_request(jsonb, text, int, public.usage_metric)
to service_role;

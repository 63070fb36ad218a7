-- Every limited period of a metric with its quota and usage, in one query:
-- metering runs in every ingestion transaction, so it reads its state once.
create or replace function private.quota_state(p_org_id uuid, p_metric public.usage_metric)
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

grant execute on function private.quota_state(uuid, public.usage_metric) to service_role;

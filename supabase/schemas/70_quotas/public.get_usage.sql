-- Usage against the quota in force, per metric and period, for an
-- organization's members. Security definer: its first statement checks
-- org:read.
create or replace function public.get_usage(p_org_id uuid)
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

revoke execute on function public.get_usage(uuid) from public, anon;

grant execute on function public.get_usage(uuid) to authenticated, service_role;

-- Daily usage for admins and analysts, the counter slots summed.
-- security_invoker, so usage_counters' RLS applies to whoever reads it.
create view analytics.usage_daily
with (security_invoker = true)
as
select u.org_id, u.metric, u.period_start as day, sum(u.used)::bigint as used,
       max(u.updated_at) as updated_at
from public.usage_counters u
where u.period = 'day'
group by u.org_id, u.metric, u.period_start;

comment on view analytics.usage_daily is 'Usage per organization, metric and UTC day.';

grant select on analytics.usage_daily to authenticated, service_role;

-- Each stored run's credit per channel and conversion day (rule-based runs;
-- data-driven ones credit the whole period, day null).
create view analytics.attribution_by_channel_daily
with (security_invoker = true)
as
select r.org_id, r.id as run_id, r.model, a.day, a.channel, sum(a.conversions) as conversions,
       sum(a.value) as value, r.base_currency as currency
from public.attribution_runs r
join public.attribution_results a on a.org_id = r.org_id and a.run_id = r.id
group by r.org_id, r.id, r.model, a.day, a.channel, r.base_currency;

comment on view analytics.attribution_by_channel_daily is 'Attributed conversions and value per run, channel and day.';

grant select on analytics.attribution_by_channel_daily to authenticated, service_role;

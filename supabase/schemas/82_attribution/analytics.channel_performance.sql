-- Per stored run and channel: attributed conversions and revenue next to the
-- channel's spend, impressions and clicks over the run's period, and ROAS
-- (revenue / spend), ROI ((revenue - spend) / spend), CPA (spend /
-- conversions) and CTR (clicks / impressions); null where a divisor is 0.
-- spend_rows_without_rate counts spend that could not be converted.
create view analytics.channel_performance
with (security_invoker = true)
as
with credit as (
  select r.org_id, r.id as run_id, r.model, r.period_from, r.period_to, r.base_currency, a.channel,
         sum(a.conversions) as conversions, sum(a.value) as revenue
  from public.attribution_runs r
  join public.attribution_results a on a.org_id = r.org_id and a.run_id = r.id
  group by r.org_id, r.id, r.model, r.period_from, r.period_to, r.base_currency, a.channel
),
spend as (
  select c.run_id, c.channel, sum(s.amount_base) as spend, sum(s.impressions) as impressions,
         sum(s.clicks) as clicks, count(*) filter (where s.amount_base is null) as spend_rows_without_rate
  from credit c
  join analytics.spend_in_base_currency s
    on s.org_id = c.org_id and s.channel = c.channel
   and s.day >= (c.period_from at time zone 'UTC')::date and s.day < (c.period_to at time zone 'UTC')::date
  group by c.run_id, c.channel
)
select c.org_id, c.run_id, c.model, c.channel, c.conversions, c.revenue, coalesce(s.spend, 0) as spend,
       s.impressions, s.clicks, c.base_currency as currency,
       c.revenue / nullif(s.spend, 0) as roas,
       (c.revenue - s.spend) / nullif(s.spend, 0) as roi,
       s.spend / nullif(c.conversions, 0) as cpa,
       s.clicks::numeric / nullif(s.impressions, 0) as ctr,
       coalesce(s.spend_rows_without_rate, 0) as spend_rows_without_rate
from credit c
left join spend s on s.run_id = c.run_id and s.channel = c.channel;

comment on view analytics.channel_performance is
  'Per run and channel: attributed conversions and revenue, spend, ROAS, ROI, CPA, CTR.';

grant select on analytics.channel_performance to authenticated, service_role;

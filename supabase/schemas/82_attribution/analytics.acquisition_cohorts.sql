-- Customers by acquisition channel (their profile's first touch) and the
-- month of their first conversion: how many, what acquiring them cost (the
-- channel's spend that month / customers: CAC), what they have earned since
-- (revenue to date, in the base currency) and whether that has paid back the
-- spend. Reads every conversion of the organization: filter on org_id.
create view analytics.acquisition_cohorts
with (security_invoker = true)
as
with settings as (
  select o.id as org_id, coalesce(st.base_currency, 'USD') as base_currency,
         coalesce(st.conversion_events, array['Order Completed']) as conversion_events
  from public.organizations o
  left join public.attribution_settings st on st.org_id = o.id
),
conversions as (
  select e.org_id, coalesce(p.merged_into, e.profile_id) as pid, e.timestamp as at,
         private.convert_currency(coalesce(e.revenue, e.value, 0), coalesce(upper(e.currency), s.base_currency),
                                  s.base_currency, (e.timestamp at time zone 'UTC')::date) as value
  from settings s
  join public.events e on e.org_id = s.org_id
  left join public.profiles p on p.org_id = e.org_id and p.id = e.profile_id
  where e.type = 'track' and e.event = any (s.conversion_events) and e.profile_id is not null
),
customers as (
  select c.org_id, c.pid, min(c.at) as first_at, sum(c.value) as revenue,
         count(*) filter (where c.value is null) as values_without_rate
  from conversions c
  group by c.org_id, c.pid
),
cohorts as (
  select cu.org_id, coalesce(pr.first_touch ->> 'channel', '(none)') as channel,
         date_trunc('month', cu.first_at at time zone 'UTC')::date as month,
         count(*) as customers, sum(cu.revenue) as revenue_to_date,
         sum(cu.values_without_rate) as values_without_rate
  from customers cu
  join public.profiles pr on pr.org_id = cu.org_id and pr.id = cu.pid
  group by 1, 2, 3
),
spend as (
  select s.org_id, s.channel, date_trunc('month', s.day)::date as month, sum(s.amount_base) as spend
  from analytics.spend_in_base_currency s
  group by 1, 2, 3
)
select c.org_id, c.channel, c.month, c.customers, coalesce(s.spend, 0) as spend,
       s.spend / nullif(c.customers, 0) as cac, c.revenue_to_date,
       c.revenue_to_date >= coalesce(s.spend, 0) as paid_back,
       c.revenue_to_date / nullif(s.spend, 0) as payback_ratio,
       c.values_without_rate, st.base_currency as currency
from cohorts c
join settings st on st.org_id = c.org_id
left join spend s on s.org_id = c.org_id and s.channel = c.channel and s.month = c.month;

comment on view analytics.acquisition_cohorts is
  'Customers, CAC, revenue to date and payback by acquisition channel and month of first conversion.';

grant select on analytics.acquisition_cohorts to authenticated, service_role;

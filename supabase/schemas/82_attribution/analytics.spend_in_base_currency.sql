-- Spend converted to the organization's base currency per row (null amount
-- where a rate is missing, with the row's currency kept to report it).
create view analytics.spend_in_base_currency
with (security_invoker = true)
as
select s.org_id, s.day, s.campaign_id, s.source, coalesce(s.channel, c.channel) as channel, s.amount,
       s.currency, coalesce(st.base_currency, 'USD') as base_currency,
       private.convert_currency(s.amount, s.currency, coalesce(st.base_currency, 'USD'), s.day) as amount_base,
       s.impressions, s.clicks
from public.ad_spend s
join public.campaigns c on c.org_id = s.org_id and c.id = s.campaign_id
left join public.attribution_settings st on st.org_id = s.org_id;

comment on view analytics.spend_in_base_currency is
  'Ad spend rows with the amount in the base currency (null without an exchange rate).';

grant select on analytics.spend_in_base_currency to authenticated, service_role;

-- Marketing touches for analysts: every event with a channel or UTM source,
-- linked to the campaign its UTM values identify (the most specific match).
-- security_invoker: events' and campaigns' RLS apply to the reader. Filter
-- on timestamp: events are partitioned by it.
create view analytics.touchpoints
with (security_invoker = true)
as
select e.org_id, e.timestamp, e.id as event_id, e.profile_id, e.type, e.event,
       coalesce(e.channel, 'unknown') as channel, e.utm_source, e.utm_medium, e.utm_campaign,
       c.id as campaign_id, c.key as campaign_key
from public.events e
left join lateral (
  select cp.id, cp.key from public.campaigns cp
  where cp.org_id = e.org_id and cp.utm_campaign = e.utm_campaign
    and (cp.utm_source is null or cp.utm_source = e.utm_source)
    and (cp.utm_medium is null or cp.utm_medium = e.utm_medium)
  order by (cp.utm_source is not null)::int + (cp.utm_medium is not null)::int desc
  limit 1
) c on true
where e.channel is not null or e.utm_source is not null;

comment on view analytics.touchpoints is 'Events with a channel or UTM source, and the campaign they belong to.';

grant select on analytics.touchpoints to authenticated, service_role;

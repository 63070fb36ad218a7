-- Each endpoint's last 24 hours: attempts, success rate, latency p50 and p95
-- (upper bounds from the hourly histograms), deliveries that ended succeeded
-- or dead, and the age of its oldest delivery still waiting. Read from the
-- hourly rollup, never from the attempts themselves. security_invoker, so the
-- tables' RLS applies to whoever reads it.
create view analytics.webhook_endpoint_stats
with (security_invoker = true)
as
select e.org_id, e.id as endpoint_id, e.url, e.enabled,
       coalesce(s.attempts, 0) as attempts_24h,
       case when s.attempts > 0 then round(s.succeeded::numeric / s.attempts, 4) end as success_rate_24h,
       private.webhook_latency_percentile(s.buckets, 0.5) as latency_p50_ms,
       private.webhook_latency_percentile(s.buckets, 0.95) as latency_p95_ms,
       coalesce(s.succeeded, 0) as succeeded_24h,
       coalesce(s.failed, 0) as failed_attempts_24h,
       coalesce(s.dead, 0) as dead_24h,
       now() - (select min(d.created_at) from public.webhook_deliveries d
                where d.org_id = e.org_id and d.endpoint_id = e.id
                  and d.status in ('pending', 'failed', 'delivering')) as oldest_pending_age
from public.webhook_endpoints e
left join lateral (
  select sum(h.attempts)::int as attempts, sum(h.succeeded)::int as succeeded,
         sum(h.failed)::int as failed, sum(h.dead)::int as dead,
         array(select sum(b.n)::int from public.webhook_endpoint_hourly_stats h2,
                      unnest(h2.latency_buckets) with ordinality b (n, i)
               where h2.org_id = e.org_id and h2.endpoint_id = e.id
                 and h2.hour >= date_trunc('hour', now()) - interval '23 hours'
               group by b.i order by b.i) as buckets
  from public.webhook_endpoint_hourly_stats h
  where h.org_id = e.org_id and h.endpoint_id = e.id
    and h.hour >= date_trunc('hour', now()) - interval '23 hours'
) s on true;

comment on view analytics.webhook_endpoint_stats is
  'Per webhook endpoint over 24 h: attempts, success rate, latency p50/p95 (ms, bucket bounds), deliveries succeeded and dead, oldest pending age.';

grant select on analytics.webhook_endpoint_stats to authenticated, service_role;

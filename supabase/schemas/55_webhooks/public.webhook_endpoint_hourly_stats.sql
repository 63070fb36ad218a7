-- Per endpoint and hour: attempts by outcome and a latency histogram, kept up
-- by private.record_webhook_results as it records each batch, so the stats
-- view reads a day as 24 rows per endpoint instead of scanning attempts.
-- latency_buckets counts attempts whose duration fell under each edge of
-- private.webhook_latency_edges() (the last bucket is everything slower).
create table public.webhook_endpoint_hourly_stats (
  org_id uuid not null,
  endpoint_id uuid not null,
  hour timestamptz not null,
  attempts int not null default 0,
  succeeded int not null default 0,
  failed int not null default 0,
  dead int not null default 0,
  latency_buckets int[] not null,
  primary key (org_id, endpoint_id, hour),
  foreign key (org_id, endpoint_id) references public.webhook_endpoints (org_id, id) on delete cascade
);

comment on table public.webhook_endpoint_hourly_stats is
  'Webhook attempts per endpoint and hour, by outcome, with a latency histogram: the rollup behind analytics.webhook_endpoint_stats.';

create index webhook_endpoint_hourly_stats_hour_idx on public.webhook_endpoint_hourly_stats (hour);

revoke all on public.webhook_endpoint_hourly_stats from anon, authenticated, service_role;
grant select on public.webhook_endpoint_hourly_stats to authenticated, service_role;

alter table public.webhook_endpoint_hourly_stats enable row level security;

create policy "Webhook readers can read their organization's delivery stats"
  on public.webhook_endpoint_hourly_stats for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('webhooks:read'))::uuid[]));

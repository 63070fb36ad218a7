-- A run's credit: conversions and value attributed per channel, and for the
-- rule-based models per campaign (the touch's UTM values) and conversion day
-- too; the data-driven models credit channels over the period, with a 95%
-- bootstrap interval of the share. Read with analytics:read.
create table public.attribution_results (
  org_id uuid not null,
  run_id uuid not null,
  id bigint generated always as identity,
  channel text not null,
  utm_campaign text,
  campaign_id uuid,
  day date,
  conversions numeric not null,
  value numeric not null,
  share numeric,
  share_lo numeric,
  share_hi numeric,
  primary key (org_id, run_id, id),
  foreign key (org_id, run_id) references public.attribution_runs (org_id, id) on delete cascade,
  foreign key (org_id, campaign_id) references public.campaigns (org_id, id) on delete set null (campaign_id)
);

comment on table public.attribution_results is
  'Attributed conversions and value per run and channel (rule-based: also per campaign and conversion day).';

create index attribution_results_run_channel_idx on public.attribution_results (org_id, run_id, channel);
create index attribution_results_campaign_idx on public.attribution_results (org_id, campaign_id)
  where campaign_id is not null;

revoke all on public.attribution_results from anon, authenticated, service_role;
grant select on public.attribution_results to authenticated, service_role;

alter table public.attribution_results enable row level security;

create policy "Analysts can read attribution results"
  on public.attribution_results for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('analytics:read'))::uuid[]));

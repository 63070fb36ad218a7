-- What each campaign cost per day, from each source (an API sync, a CSV
-- upload, a platform's name): idempotent by (organization, day, campaign,
-- source), so uploading the same export again replaces its rows. Amounts are
-- in the row's currency; reports convert to the base currency with
-- exchange_rates. Read with campaigns:read or analytics:read; written through
-- upsert_ad_spend (analytics:manage).
create table public.ad_spend (
  org_id uuid not null,
  day date not null,
  campaign_id uuid not null,
  source text not null constraint ad_spend_source_format check (source ~ '^[a-z0-9][a-z0-9_.-]{0,49}$'),
  channel text constraint ad_spend_channel_length check (char_length(channel) between 1 and 50),
  amount numeric not null constraint ad_spend_amount_nonnegative check (amount >= 0),
  currency text not null constraint ad_spend_currency_format check (currency ~ '^[A-Z]{3}$'),
  impressions bigint constraint ad_spend_impressions_nonnegative check (impressions >= 0),
  clicks bigint constraint ad_spend_clicks_nonnegative check (clicks >= 0),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (org_id, day, campaign_id, source),
  foreign key (org_id, campaign_id) references public.campaigns (org_id, id) on delete cascade
);

comment on table public.ad_spend is
  'Daily spend, impressions and clicks per campaign and source; idempotent upserts by (org, day, campaign, source).';

create index ad_spend_campaign_idx on public.ad_spend (org_id, campaign_id, day);

create trigger ad_spend_set_updated_at before update on public.ad_spend
  for each row execute function private.set_updated_at();

revoke all on public.ad_spend from anon, authenticated, service_role;
grant select on public.ad_spend to authenticated, service_role;

alter table public.ad_spend enable row level security;

create policy "Campaign readers and analysts can read spend"
  on public.ad_spend for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('campaigns:read'))::uuid[])
         or org_id = any ((select private.org_ids_with_permission('analytics:read'))::uuid[]));

-- An organization's marketing campaigns and the UTM values that identify
-- their traffic: an event belongs to a campaign when its utm_campaign matches
-- (and its source and medium, where the campaign names them; the most
-- specific campaign wins). The link is made when attribution reads events,
-- not stored on them, so ingestion pays nothing for it and a campaign
-- defined or corrected later applies to its whole history (no re-linking).
-- Read with campaigns:read, written with campaigns:create (directly, under
-- RLS, as a marketer does with supabase-js).
create table public.campaigns (
  org_id uuid not null references public.organizations (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  key text not null constraint campaigns_key_format check (key ~ '^[a-z0-9][a-z0-9_.-]{0,99}$'),
  name text not null constraint campaigns_name_length check (char_length(btrim(name)) between 1 and 200),
  channel text constraint campaigns_channel_length check (char_length(channel) between 1 and 50),
  utm_campaign text not null constraint campaigns_utm_campaign_length check (char_length(utm_campaign) between 1 and 200),
  utm_source text constraint campaigns_utm_source_length check (char_length(utm_source) between 1 and 200),
  utm_medium text constraint campaigns_utm_medium_length check (char_length(utm_medium) between 1 and 200),
  objective text constraint campaigns_objective_check
    check (objective in ('awareness', 'traffic', 'engagement', 'leads', 'sales', 'retention')),
  status text not null default 'active' constraint campaigns_status_check
    check (status in ('draft', 'active', 'paused', 'ended')),
  starts_on date,
  ends_on date,
  budget numeric constraint campaigns_budget_nonnegative check (budget >= 0),
  currency text constraint campaigns_currency_format check (currency ~ '^[A-Z]{3}$'),
  created_by uuid references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (org_id, id),
  unique (org_id, key),
  constraint campaigns_dates_order check (ends_on is null or starts_on is null or ends_on >= starts_on),
  constraint campaigns_budget_currency check (budget is null or currency is not null)
);

comment on table public.campaigns is
  'Marketing campaigns and the UTM values (campaign, and optionally source and medium) that identify their events.';

-- One campaign per UTM combination: the link from events must be unambiguous.
create unique index campaigns_utm_unique on public.campaigns
  (org_id, utm_campaign, coalesce(utm_source, ''), coalesce(utm_medium, ''));
create index campaigns_created_by_idx on public.campaigns (created_by) where created_by is not null;

create trigger campaigns_set_updated_at before update on public.campaigns
  for each row execute function private.set_updated_at();

create trigger campaigns_audit after insert or update or delete on public.campaigns
  for each row execute function private.audit_row_change('org_id', 'id', 'low');

revoke all on public.campaigns from anon, authenticated, service_role;
grant select, insert, update, delete on public.campaigns to authenticated;
grant select on public.campaigns to service_role;

alter table public.campaigns enable row level security;

create policy "Campaign readers can read campaigns"
  on public.campaigns for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('campaigns:read'))::uuid[]));

create policy "Campaign editors can add campaigns"
  on public.campaigns for insert to authenticated
  with check (org_id = any ((select private.org_ids_with_permission('campaigns:create'))::uuid[]));

create policy "Campaign editors can change campaigns"
  on public.campaigns for update to authenticated
  using (org_id = any ((select private.org_ids_with_permission('campaigns:create'))::uuid[]))
  with check (org_id = any ((select private.org_ids_with_permission('campaigns:create'))::uuid[]));

create policy "Campaign editors can delete campaigns"
  on public.campaigns for delete to authenticated
  using (org_id = any ((select private.org_ids_with_permission('campaigns:create'))::uuid[]));

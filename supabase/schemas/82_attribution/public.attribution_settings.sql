-- How an organization's attribution is computed, one row per organization
-- (defaults apply while it has none): the base currency reports convert to,
-- the events that count as conversions (valued by revenue, else value), which
-- channels count as touches (null: every event with a channel or UTM source),
-- the window before a conversion in which touches count, and whether a
-- conversion starts the next one's path afresh. Read with analytics:read,
-- changed with analytics:manage (set_attribution_settings).
create table public.attribution_settings (
  org_id uuid primary key references public.organizations (id) on delete cascade,
  base_currency text not null default 'USD'
    constraint attribution_settings_currency_format check (base_currency ~ '^[A-Z]{3}$'),
  conversion_events text[] not null default array['Order Completed']
    constraint attribution_settings_conversion_events_count check (cardinality(conversion_events) between 1 and 50),
  touch_channels text[] constraint attribution_settings_touch_channels_count
    check (touch_channels is null or cardinality(touch_channels) between 1 and 100),
  window_days int not null default 30
    constraint attribution_settings_window_days_range check (window_days between 1 and 365),
  reset_after_conversion boolean not null default true,
  updated_at timestamptz not null default now()
);

comment on table public.attribution_settings is
  'Per organization: base currency, conversion events, touch channels, attribution window, path reset; defaults while absent.';

create trigger attribution_settings_set_updated_at before update on public.attribution_settings
  for each row execute function private.set_updated_at();

create trigger attribution_settings_audit after insert or update or delete on public.attribution_settings
  for each row execute function private.audit_row_change('org_id', 'org_id', 'low');

revoke all on public.attribution_settings from anon, authenticated, service_role;
grant select on public.attribution_settings to authenticated, service_role;

alter table public.attribution_settings enable row level security;

create policy "Analysts can read their organization's attribution settings"
  on public.attribution_settings for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('analytics:read'))::uuid[]));

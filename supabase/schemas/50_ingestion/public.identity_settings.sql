-- Per-organization identity rules (Segment Unify's identity resolution settings).
-- Absent row = Segment's defaults.
create table public.identity_settings (
  org_id uuid primary key references public.organizations (id) on delete cascade,
  -- Most identifiers of a type one profile may hold; '*' is every other type.
  limits jsonb not null default '{"user_id": 1, "*": 5}'
    constraint identity_settings_limits_is_object check (jsonb_typeof(limits) = 'object'),
  -- Lower is stronger; types not listed come after, in the built-in order.
  priorities jsonb not null default '{"user_id": 1, "email": 2}'
    constraint identity_settings_priorities_is_object check (jsonb_typeof(priorities) = 'object'),
  blocked_values text[] not null default '{}'
    constraint identity_settings_blocked_values_size check (cardinality(blocked_values) <= 10000),
  fold_gmail_addresses boolean not null default false,
  updated_at timestamptz not null default now(),
  constraint identity_settings_valid check (private.check_identity_settings(limits, priorities))
);

comment on table public.identity_settings is
  'Identity resolution rules per organization: limits and priorities per identifier type, blocked values, Gmail folding.';

revoke all on public.identity_settings from anon, authenticated;

grant all on public.identity_settings to service_role;

grant select on public.identity_settings to authenticated;

grant insert, update (limits, priorities, blocked_values, fold_gmail_addresses)
  on public.identity_settings to authenticated;

alter table public.identity_settings enable row level security;

create policy "Members can read identity settings"
  on public.identity_settings for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('org:read'))::uuid[]));

create policy "Admins can create identity settings"
  on public.identity_settings for insert to authenticated
  with check (org_id = any ((select private.org_ids_with_permission('settings:manage'))::uuid[]));

create policy "Admins can change identity settings"
  on public.identity_settings for update to authenticated
  using (org_id = any ((select private.org_ids_with_permission('settings:manage'))::uuid[]))
  with check (org_id = any ((select private.org_ids_with_permission('settings:manage'))::uuid[]));

create trigger identity_settings_audit after insert or update or delete on public.identity_settings
  for each row execute function private.audit_row_change('org_id', 'org_id', 'medium');

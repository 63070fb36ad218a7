-- Tenants, modelled on basejump's accounts.
create table public.organizations (
  id uuid primary key default gen_random_uuid(),
  name text not null constraint organizations_name_length
    check (char_length(btrim(name)) between 1 and 200),
  slug public.slug not null constraint organizations_slug_key unique,
  plan public.org_plan not null default 'free',
  seat_limit_override int constraint organizations_seat_limit_override_check
    check (seat_limit_override is null or seat_limit_override > 0),
  seat_limit int not null generated always as
    (coalesce(seat_limit_override, private.plan_seat_limit(plan))) stored,
  data_region public.data_region not null default 'us-east',
  settings jsonb not null default '{}'::jsonb
    constraint organizations_settings_is_object check (jsonb_typeof(settings) = 'object')
    constraint organizations_settings_valid check (private.check_organization_settings(settings)),
  sso_enforced boolean not null default false,
  mfa_required boolean not null default false,
  allowed_email_domains text[] not null default '{}'
    constraint organizations_allowed_email_domains_format check (
      array_to_string(allowed_email_domains, ',') ~ '^([a-z0-9.-]+(,[a-z0-9.-]+)*)?$'),
  audit_retention interval not null default '7 years'
    constraint organizations_audit_retention_check
      check (audit_retention between '30 days' and '20 years'),
  audit_masked_keys text[] not null default '{}'
    constraint organizations_audit_masked_keys_format check (
      array_to_string(audit_masked_keys, ',') ~ '^([a-z0-9_]+(,[a-z0-9_]+)*)?$'),
  created_by uuid references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

comment on table public.organizations is
  'Tenants. Every tenant-owned row carries the org_id of one of these.';

comment on column public.organizations.seat_limit is
  'Active members allowed: seat_limit_override, else the plan''s seats.';

comment on column public.organizations.allowed_email_domains is
  'When not empty, only these email domains may be invited or accept an invitation.';

comment on column public.organizations.mfa_required is
  'When true, members act only with an aal2 (MFA-verified) session.';

comment on column public.organizations.audit_retention is
  'How long audit rows of this organization are kept (default 7 years).';

comment on column public.organizations.audit_masked_keys is
  'Extra JSON keys masked in audit before/after images, on top of the built-in list.';

-- Rows in tables without a cascading key to organizations go in the background.
create trigger organizations_queue_purge after delete on public.organizations
  for each row execute function private.queue_organization_purge();

create trigger organizations_set_updated_at before update on public.organizations
  for each row execute function private.set_updated_at();

revoke all on public.organizations from anon, authenticated;

grant all on public.organizations to service_role;

grant select, delete on public.organizations to authenticated;

-- Plan and seat override are billing's (service role); the rest is settings.
grant update (name, data_region, settings, sso_enforced, mfa_required,
              allowed_email_domains, audit_retention, audit_masked_keys)
  on public.organizations to authenticated;

alter table public.organizations enable row level security;

create policy "Members can read their organizations"
  on public.organizations for select to authenticated
  using (id = any ((select private.org_ids_with_permission('org:read'))::uuid[]));

create policy "Admins can update their organization's settings"
  on public.organizations for update to authenticated
  using (id = any ((select private.org_ids_with_permission('settings:manage'))::uuid[]))
  with check (id = any ((select private.org_ids_with_permission('settings:manage'))::uuid[]));

create policy "Owners can delete their organization"
  on public.organizations for delete to authenticated
  using (id = any ((select private.org_ids_with_permission('org:delete'))::uuid[]));

create trigger organizations_audit after insert or update or delete on public.organizations
  for each row execute function private.audit_row_change('id', 'id', 'medium');

-- Each foreign key has an index that covers it: deleting or re-keying the row
-- it references finds the rows that point at it without a scan.
create index organizations_created_by_idx on public.organizations (created_by) where created_by is not null;

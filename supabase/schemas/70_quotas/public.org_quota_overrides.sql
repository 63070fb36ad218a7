-- Per-organization contract terms, set by Meridian's operators (service role).
-- quota null means unlimited.
create table public.org_quota_overrides (
  org_id uuid not null references public.organizations (id) on delete cascade,
  metric public.usage_metric not null,
  period public.quota_period not null,
  quota bigint constraint org_quota_overrides_quota_check check (quota is null or quota >= 0),
  hard boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (org_id, metric, period)
);

comment on table public.org_quota_overrides is 'An organization''s quota in place of its plan''s (null quota: unlimited).';

create trigger org_quota_overrides_updated_at before update on public.org_quota_overrides
  for each row execute function private.set_updated_at();

create trigger org_quota_overrides_audit after insert or update or delete on public.org_quota_overrides
  for each row execute function private.audit_row_change('org_id', 'metric', 'high');

revoke all on public.org_quota_overrides from anon, authenticated, service_role;

grant select on public.org_quota_overrides to authenticated;

grant select, insert, update, delete on public.org_quota_overrides to service_role;

alter table public.org_quota_overrides enable row level security;

create policy "Members read their organization's quota overrides"
  on public.org_quota_overrides for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('org:read'))::uuid[]));

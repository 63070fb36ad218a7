create table public.workspaces (
  org_id uuid not null references public.organizations (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  name text not null constraint workspaces_name_length
    check (char_length(btrim(name)) between 1 and 200),
  slug public.slug not null,
  settings jsonb not null default '{}'::jsonb
    constraint workspaces_settings_is_object check (jsonb_typeof(settings) = 'object'),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (org_id, id),
  constraint workspaces_org_slug_key unique (org_id, slug)
);

comment on table public.workspaces is
  'A division of an organization (brand, region, environment) that data can be scoped to.';

create trigger workspaces_set_updated_at before update on public.workspaces
  for each row execute function private.set_updated_at();

revoke all on public.workspaces from anon, authenticated;

grant all on public.workspaces to service_role;

grant select, insert, delete on public.workspaces to authenticated;

grant update (name, slug, settings) on public.workspaces to authenticated;

alter table public.workspaces enable row level security;

create policy "Members can read their organization's workspaces"
  on public.workspaces for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('org:read'))::uuid[]));

create policy "Admins can create workspaces"
  on public.workspaces for insert to authenticated
  with check (org_id = any ((select private.org_ids_with_permission('workspaces:manage'))::uuid[]));

create policy "Admins can update workspaces"
  on public.workspaces for update to authenticated
  using (org_id = any ((select private.org_ids_with_permission('workspaces:manage'))::uuid[]))
  with check (org_id = any ((select private.org_ids_with_permission('workspaces:manage'))::uuid[]));

create policy "Admins can delete workspaces"
  on public.workspaces for delete to authenticated
  using (org_id = any ((select private.org_ids_with_permission('workspaces:manage'))::uuid[]));

create trigger workspaces_audit after insert or update or delete on public.workspaces
  for each row execute function private.audit_row_change('org_id', 'id', 'low');

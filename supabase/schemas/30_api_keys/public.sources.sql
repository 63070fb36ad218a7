-- Where events come from (a website, a backend, an app), as in Segment. Write
-- keys are bound to one source, so every event knows its origin.
create table public.sources (
  org_id uuid not null references public.organizations (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  workspace_id uuid,
  name text not null constraint sources_name_length check (char_length(btrim(name)) between 1 and 120),
  kind public.source_kind not null default 'server',
  enabled boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (org_id, id),
  foreign key (org_id, workspace_id) references public.workspaces (org_id, id) on delete cascade
);

comment on table public.sources is
  'Event sources (web, server, mobile). Write keys belong to one; a disabled source accepts nothing.';

create trigger sources_set_updated_at before update on public.sources
  for each row execute function private.set_updated_at();

create trigger sources_audit after insert or update or delete on public.sources
  for each row execute function private.audit_row_change('org_id', 'id', 'low');

revoke all on public.sources from anon, authenticated;

grant all on public.sources to service_role;

grant select, insert, delete on public.sources to authenticated;

grant update (name, enabled, workspace_id) on public.sources to authenticated;

alter table public.sources enable row level security;

create policy "Members can read their organization's sources"
  on public.sources for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('org:read'))::uuid[]));

create policy "Admins can create sources"
  on public.sources for insert to authenticated
  with check (org_id = any ((select private.org_ids_with_permission('settings:manage'))::uuid[]));

create policy "Admins can update sources"
  on public.sources for update to authenticated
  using (org_id = any ((select private.org_ids_with_permission('settings:manage'))::uuid[]))
  with check (org_id = any ((select private.org_ids_with_permission('settings:manage'))::uuid[]));

create policy "Admins can delete sources"
  on public.sources for delete to authenticated
  using (org_id = any ((select private.org_ids_with_permission('settings:manage'))::uuid[]));

-- Each foreign key has an index that covers it: deleting or re-keying the row
-- it references finds the rows that point at it without a scan.
create index sources_workspace_idx on public.sources (org_id, workspace_id) where workspace_id is not null;

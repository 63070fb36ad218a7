create table public.workspace_members (
  org_id uuid not null,
  workspace_id uuid not null,
  user_id uuid not null,
  role public.org_role not null,
  created_at timestamptz not null default now(),
  primary key (org_id, workspace_id, user_id),
  foreign key (org_id, workspace_id) references public.workspaces (org_id, id) on delete cascade,
  foreign key (org_id, user_id) references public.organization_members (org_id, user_id)
    on delete cascade
);

comment on table public.workspace_members is
  'Optional narrower role of an organization member within one workspace.';

revoke all on public.workspace_members from anon, authenticated;

grant all on public.workspace_members to service_role;

grant select, insert, delete on public.workspace_members to authenticated;

grant update (role) on public.workspace_members to authenticated;

alter table public.workspace_members enable row level security;

create policy "Members can read their organization's workspace roles"
  on public.workspace_members for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('members:read'))::uuid[]));

create policy "Admins can grant workspace roles"
  on public.workspace_members for insert to authenticated
  with check (org_id = any ((select private.org_ids_with_permission('members:manage'))::uuid[]));

create policy "Admins can change workspace roles"
  on public.workspace_members for update to authenticated
  using (org_id = any ((select private.org_ids_with_permission('members:manage'))::uuid[]))
  with check (org_id = any ((select private.org_ids_with_permission('members:manage'))::uuid[]));

create policy "Admins can remove workspace roles"
  on public.workspace_members for delete to authenticated
  using (org_id = any ((select private.org_ids_with_permission('members:manage'))::uuid[]));

create trigger workspace_members_audit after insert or update or delete on public.workspace_members
  for each row execute function private.audit_row_change('org_id', 'user_id', 'low');

-- Each foreign key has an index that covers it: deleting or re-keying the row
-- it references finds the rows that point at it without a scan.
create index workspace_members_member_idx on public.workspace_members (org_id, user_id);

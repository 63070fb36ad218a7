-- Members with roles. The rules (owners make owners, an active owner remains,
-- seats) are enforced by the triggers below, in the database, so no client can
-- route around them.
create table public.organization_members (
  org_id uuid not null references public.organizations (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  role public.org_role not null default 'member',
  status public.member_status not null default 'active',
  email text,
  invited_by uuid references auth.users (id) on delete set null,
  joined_at timestamptz,
  deactivated_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (org_id, user_id)
);

comment on table public.organization_members is
  'Who belongs to an organization, with which role. Only active members have access.';

create index organization_members_user_idx on public.organization_members (user_id, org_id)
  where status = 'active';

create trigger organization_members_set_updated_at before update on public.organization_members
  for each row execute function private.set_updated_at();

create trigger organization_members_enforce_rules
  before insert or update or delete on public.organization_members
  for each row execute function private.enforce_member_rules();

create trigger organization_members_keep_an_owner
  after update or delete on public.organization_members
  for each row execute function private.ensure_an_owner_remains();

revoke all on public.organization_members from anon, authenticated;

grant all on public.organization_members to service_role;

-- Members join through invitations (accept_invitation), never by direct insert.
grant select, delete on public.organization_members to authenticated;

grant update (role, status) on public.organization_members to authenticated;

alter table public.organization_members enable row level security;

create policy "Members can read their organization's members"
  on public.organization_members for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('members:read'))::uuid[]));

create policy "Admins can change members"
  on public.organization_members for update to authenticated
  using (org_id = any ((select private.org_ids_with_permission('members:manage'))::uuid[]))
  with check (org_id = any ((select private.org_ids_with_permission('members:manage'))::uuid[]));

create policy "Admins can remove members and members can leave"
  on public.organization_members for delete to authenticated
  using (org_id = any ((select private.org_ids_with_permission('members:manage'))::uuid[])
         or user_id = (select auth.uid()));

create trigger organization_members_audit after insert or update or delete on public.organization_members
  for each row execute function private.audit_row_change('org_id', 'user_id', 'medium');

-- Each foreign key has an index that covers it: deleting or re-keying the row
-- it references finds the rows that point at it without a scan.
create index organization_members_invited_by_idx on public.organization_members (invited_by) where invited_by is not null;

-- Webhook events for membership changes (member.added, .removed, .role_changed).
create trigger organization_members_webhook_events
  after insert or update of status, role or delete on public.organization_members
  for each row execute function private.emit_change_events();

-- A member who stops being active loses every SSO session at once.
create trigger organization_members_revoke_sessions
  after update of status or delete on public.organization_members
  for each row execute function private.revoke_sessions_of_inactive_member();

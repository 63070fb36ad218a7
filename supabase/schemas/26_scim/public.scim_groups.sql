-- Groups an identity provider pushes through SCIM, and their members (users
-- provisioned through SCIM). A group's display name is what the
-- organization's SSO connections map to a role (group_role_map): a member's
-- role follows their groups (private.scim_apply_group_roles), owners excepted.
create table public.scim_groups (
  org_id uuid not null references public.organizations (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  display_name text not null constraint scim_groups_display_name_length check (char_length(display_name) between 1 and 255),
  external_id text constraint scim_groups_external_id_length check (char_length(external_id) <= 255),
  member_ids uuid[] not null default '{}' constraint scim_groups_members_count check (cardinality(member_ids) <= 10000),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (org_id, id)
);

comment on table public.scim_groups is
  'Groups provisioned through SCIM with their members (scim_users ids); connections map their names to roles.';
comment on column public.scim_groups.member_ids is
  'The ids of the group''s members in scim_users.';

create unique index scim_groups_display_name_key on public.scim_groups (org_id, lower(display_name));

create trigger scim_groups_set_updated_at before update on public.scim_groups
  for each row execute function private.set_updated_at();

revoke all on public.scim_groups from anon, authenticated, service_role;
grant select on public.scim_groups to authenticated, service_role;

alter table public.scim_groups enable row level security;

create policy "Member readers can read their organization's provisioned groups"
  on public.scim_groups for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('members:read'))::uuid[]));

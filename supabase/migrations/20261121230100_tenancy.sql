-- Tenancy: organizations, workspaces, members with roles, invitations, and the
-- permission matrix every policy and RPC asks. Modelled on basejump's accounts,
-- with the rules (last owner, owners make owners, seats, read-only, deactivation)
-- enforced here so no client can route around them.

-- TYPES -------------------------------------------------------------------------
create type public.org_plan as enum ('free', 'starter', 'professional', 'enterprise');
create type public.org_role as enum ('owner', 'admin', 'manager', 'member', 'read_only');
create type public.member_status as enum ('invited', 'active', 'deactivated');
create type public.data_region as enum ('us-east', 'eu-west', 'apac-southeast');

create domain public.slug as text
  constraint slug_format check (value ~ '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$');
comment on domain public.slug is
  'URL-safe identifier: 1-63 lowercase letters, digits and inner hyphens.';

-- Seats each plan includes; an organization may carry an override.
create function private.plan_seat_limit(p_plan public.org_plan)
returns int
language sql
immutable
set search_path = ''
as $$
  select case p_plan
    when 'free' then 3
    when 'starter' then 10
    when 'professional' then 50
    when 'enterprise' then 1000
  end
$$;
comment on function private.plan_seat_limit(public.org_plan) is
  'Seats included in a plan (free 3, starter 10, professional 50, enterprise 1000).';

-- ORGANIZATIONS -------------------------------------------------------------------
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
    constraint organizations_settings_is_object check (jsonb_typeof(settings) = 'object'),
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

create trigger organizations_set_updated_at before update on public.organizations
  for each row execute function private.set_updated_at();

-- WORKSPACES ----------------------------------------------------------------------
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

-- MEMBERS -------------------------------------------------------------------------
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

-- INVITATIONS ---------------------------------------------------------------------
create table public.invitations (
  org_id uuid not null references public.organizations (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  email text not null constraint invitations_email_format
    check (email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' and email = lower(email)),
  role public.org_role not null default 'member',
  invited_by uuid references auth.users (id) on delete set null,
  expires_at timestamptz not null default now() + interval '7 days',
  accepted_at timestamptz,
  accepted_by uuid references auth.users (id) on delete set null,
  revoked_at timestamptz,
  created_at timestamptz not null default now(),
  primary key (org_id, id)
);
comment on table public.invitations is
  'Pending, accepted and revoked invitations. The token is shown once; only its hash is kept.';
create index invitations_org_email_idx on public.invitations (org_id, email);

-- Token hashes live apart so no client query can ever return them.
create table private.invitation_tokens (
  token_hash bytea primary key,
  org_id uuid not null,
  invitation_id uuid not null,
  foreign key (org_id, invitation_id) references public.invitations (org_id, id) on delete cascade
);
comment on table private.invitation_tokens is
  'SHA-256 of invitation tokens. Looked up by hash before the organization is known.';

-- PERMISSION MATRIX ---------------------------------------------------------------
-- Reference tables (no org_id): the same for every tenant.
create table public.permissions (
  key text primary key constraint permissions_key_format check (key ~ '^[a-z_]+:[a-z_]+$'),
  description text not null
);
comment on table public.permissions is 'Catalogue of permissions roles grant and API keys are scoped to.';

create table public.role_permissions (
  role public.org_role not null,
  permission text not null references public.permissions (key) on delete cascade,
  primary key (role, permission)
);
comment on table public.role_permissions is 'Which permissions each organization role grants.';

insert into public.permissions (key, description) values
  ('org:read', 'See the organization, its workspaces and settings'),
  ('org:delete', 'Delete the organization'),
  ('settings:manage', 'Change organization and workspace settings'),
  ('billing:manage', 'Change plan and billing'),
  ('members:read', 'See members and their roles'),
  ('members:manage', 'Invite, change roles of and deactivate members'),
  ('workspaces:manage', 'Create, rename and delete workspaces'),
  ('api_keys:manage', 'Create, rotate and revoke API keys'),
  ('audit:read', 'Search and export the audit log'),
  ('events:write', 'Send events (ingestion)'),
  ('customers:read', 'Read profiles and events'),
  ('customers:export', 'Export profiles and events'),
  ('campaigns:read', 'Read campaigns'),
  ('campaigns:create', 'Create and edit campaigns'),
  ('segments:read', 'Read segments'),
  ('segments:write', 'Create and edit segments'),
  ('experiments:read', 'Read experiments'),
  ('experiments:manage', 'Create, start and stop experiments'),
  ('webhooks:read', 'Read webhook endpoints and deliveries'),
  ('webhooks:manage', 'Create and change webhook endpoints'),
  ('privacy:manage', 'Manage consent and data-subject requests');

insert into public.role_permissions (role, permission)
select r.role::public.org_role, p.key
from (values
  ('owner', '*'),
  ('admin', '*'),
  ('manager', 'org:read,members:read,events:write,customers:read,customers:export,campaigns:read,campaigns:create,segments:read,segments:write,experiments:read,experiments:manage,webhooks:read'),
  ('member', 'org:read,members:read,customers:read,campaigns:read,campaigns:create,segments:read,segments:write,experiments:read,webhooks:read'),
  ('read_only', 'org:read,members:read,customers:read,campaigns:read,segments:read,experiments:read,webhooks:read')
) as r (role, grants)
join public.permissions p
  on r.grants = '*' and (r.role = 'owner' or p.key not in ('org:delete', 'billing:manage'))
  or p.key = any (string_to_array(r.grants, ','));

-- PRINCIPAL -----------------------------------------------------------------------
-- An API-key principal is set by edge functions for the transaction
-- (meridian.principal). It is honoured only for trusted roles, so a user session
-- cannot claim to be a key by setting the same variable.
-- Server-side callers: the service role, or the database owner that edge
-- functions and pg_cron connect as. The SET ROLE in force wins over the login.
create function private.is_trusted_caller()
returns boolean
language sql
stable
set search_path = ''
as $$
  select coalesce(nullif(current_setting('role', true), 'none'), current_user::text)
         in ('service_role', 'postgres')
$$;
comment on function private.is_trusted_caller() is
  'Whether the caller acts as service_role or the database owner (server side), never a user session.';

create function private.api_key_principal()
returns jsonb
language sql
stable
set search_path = ''
as $$
  select case when private.is_trusted_caller()
    then nullif(current_setting('meridian.principal', true), '')::jsonb
  end
$$;
comment on function private.api_key_principal() is
  'The API key acting in this transaction (set by an edge function), or null.';

-- PERMISSION CHECKS -----------------------------------------------------------------
create function private.has_permission(p_org_id uuid, p_permission text)
returns boolean
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_uid uuid := auth.uid();
  v_key jsonb;
begin
  if v_uid is not null then
    return exists (
      select 1
      from public.organization_members m
      join public.organizations o on o.id = m.org_id
      join public.role_permissions rp on rp.role = m.role
      where m.org_id = p_org_id
        and m.user_id = v_uid
        and m.status = 'active'
        and rp.permission = p_permission
        and (not o.mfa_required or coalesce(auth.jwt() ->> 'aal', 'aal1') = 'aal2')
    );
  end if;
  v_key := private.api_key_principal();
  return v_key is not null
    and (v_key ->> 'org_id')::uuid = p_org_id
    and coalesce(v_key -> 'scopes', '[]'::jsonb) ? p_permission;
end;
$$;
comment on function private.has_permission(uuid, text) is
  'Whether the caller (user session or API key) holds the permission in the organization.';

-- For RLS: the set is computed once per statement when wrapped in (select ...).
create function private.org_ids_with_permission(p_permission text)
returns uuid[]
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(array_agg(m.org_id), '{}')
  from public.organization_members m
  join public.organizations o on o.id = m.org_id
  join public.role_permissions rp on rp.role = m.role
  where m.user_id = (select auth.uid())
    and m.status = 'active'
    and rp.permission = p_permission
    and (not o.mfa_required or coalesce((select auth.jwt()) ->> 'aal', 'aal1') = 'aal2')
$$;
comment on function private.org_ids_with_permission(text) is
  'Organizations in which the signed-in user holds the permission (RLS helper).';

-- A workspace role can only narrow: the member needs the permission in the
-- organization and, when they hold a role in that workspace, in that role too.
create function private.has_workspace_permission(
  p_org_id uuid,
  p_workspace_id uuid,
  p_permission text
)
returns boolean
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_uid uuid := auth.uid();
  v_key jsonb;
begin
  if not private.has_permission(p_org_id, p_permission) then
    return false;
  end if;
  if v_uid is null then
    -- An API key bound to a workspace acts only there.
    v_key := private.api_key_principal();
    return v_key ->> 'workspace_id' is null or (v_key ->> 'workspace_id')::uuid = p_workspace_id;
  end if;
  return not exists (
    select 1 from public.workspace_members wm
    where wm.org_id = p_org_id and wm.workspace_id = p_workspace_id and wm.user_id = v_uid
      and not exists (
        select 1 from public.role_permissions rp
        where rp.role = wm.role and rp.permission = p_permission));
end;
$$;
comment on function private.has_workspace_permission(uuid, uuid, text) is
  'Whether the caller holds the permission in the organization and, if a narrower workspace role applies, in that workspace.';

create function private.is_active_owner(p_org_id uuid, p_user_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.organization_members
    where org_id = p_org_id and user_id = p_user_id and role = 'owner' and status = 'active')
$$;

create function private.require_permission(p_org_id uuid, p_permission text)
returns void
language plpgsql
stable
set search_path = ''
as $$
begin
  if p_org_id is null then
    raise exception 'org_id is required' using errcode = '22023', detail = 'field: org_id';
  end if;
  if not private.has_permission(p_org_id, p_permission) then
    raise exception 'permission denied: % on organization %', p_permission, p_org_id
      using errcode = '42501', hint = 'Ask an owner or admin for a role that grants it.';
  end if;
end;
$$;
comment on function private.require_permission(uuid, text) is
  'Raises 42501 naming the permission unless the caller holds it.';

grant execute on function
  private.is_trusted_caller(),
  private.api_key_principal(),
  private.has_permission(uuid, text),
  private.has_workspace_permission(uuid, uuid, text),
  private.org_ids_with_permission(text),
  private.is_active_owner(uuid, uuid),
  private.require_permission(uuid, text),
  private.plan_seat_limit(public.org_plan)
  to authenticated, service_role;

-- Public wrapper so web clients can hide buttons they cannot use.
create function public.has_permission(p_org_id uuid, p_permission text)
returns boolean
language sql
stable
set search_path = ''
as $$
  select private.has_permission(p_org_id, p_permission)
$$;
comment on function public.has_permission(uuid, text) is
  'Whether the caller holds the permission in the organization.';
grant execute on function public.has_permission(uuid, text) to authenticated, service_role;

-- MEMBER RULES ---------------------------------------------------------------------
-- Owners make owners; seats are enforced when a member becomes active. Trusted
-- callers (service role, migrations, cron) have no auth.uid() and pass.
create function private.enforce_member_rules()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_uid uuid := auth.uid();
  v_org public.organizations;
  v_active int;
begin
  -- The organization itself is being deleted: its members go with it.
  if tg_op = 'DELETE' and not exists (select 1 from public.organizations where id = old.org_id) then
    return old;
  end if;

  -- OWNERS MAKE OWNERS
  if tg_op in ('INSERT', 'UPDATE') and new.role = 'owner'
     and (tg_op = 'INSERT' or old.role <> 'owner')
     and v_uid is not null
     and not private.is_active_owner(new.org_id, v_uid)
     -- bootstrap: the creator of a new organization becomes its first owner
     and exists (select 1 from public.organization_members
                 where org_id = new.org_id and role = 'owner' and status = 'active')
  then
    raise exception 'only an owner can make another member an owner'
      using errcode = '42501', detail = 'field: role';
  end if;
  if tg_op in ('UPDATE', 'DELETE') and old.role = 'owner' and old.status = 'active'
     and (tg_op = 'DELETE' or new.role <> 'owner' or new.status <> 'active')
     and v_uid is not null
     and not private.is_active_owner(old.org_id, v_uid)
  then
    raise exception 'only an owner can change or remove an owner'
      using errcode = '42501', detail = 'field: role';
  end if;

  -- SEATS
  if tg_op in ('INSERT', 'UPDATE') and new.status = 'active'
     and (tg_op = 'INSERT' or old.status <> 'active')
  then
    -- Serialize activations per organization so concurrent accepts cannot overshoot.
    select * into v_org from public.organizations where id = new.org_id for update;
    select count(*) into v_active from public.organization_members
    where org_id = new.org_id and status = 'active' and user_id <> new.user_id;
    if v_active >= v_org.seat_limit then
      raise exception 'seat limit reached: % of % seats on the % plan are in use',
        v_active, v_org.seat_limit, v_org.plan
        using errcode = '23514', hint = 'Upgrade the plan or deactivate a member.';
    end if;
    new.joined_at := coalesce(new.joined_at, now());
    new.deactivated_at := null;
  end if;
  if tg_op = 'UPDATE' and new.status = 'deactivated' and old.status <> 'deactivated' then
    new.deactivated_at := now();
  end if;
  return case when tg_op = 'DELETE' then old else new end;
end;
$$;

create trigger organization_members_enforce_rules
  before insert or update or delete on public.organization_members
  for each row execute function private.enforce_member_rules();

-- LAST OWNER: checked after the change, so role swaps within one statement work.
create function private.ensure_an_owner_remains()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if exists (select 1 from public.organizations where id = old.org_id)
     and not exists (select 1 from public.organization_members
                     where org_id = old.org_id and role = 'owner' and status = 'active')
  then
    raise exception 'an organization must keep at least one active owner'
      using errcode = '23514', hint = 'Make another member an owner first.';
  end if;
  return null;
end;
$$;

create trigger organization_members_keep_an_owner
  after update or delete on public.organization_members
  for each row execute function private.ensure_an_owner_remains();

-- GRANTS ----------------------------------------------------------------------------
revoke all on public.organizations, public.workspaces, public.organization_members,
  public.workspace_members, public.invitations, public.permissions, public.role_permissions
  from anon, authenticated;
grant all on public.organizations, public.workspaces, public.organization_members,
  public.workspace_members, public.invitations, public.permissions, public.role_permissions
  to service_role;

grant select, delete on public.organizations to authenticated;
-- Plan and seat override are billing's (service role); the rest is settings.
grant update (name, data_region, settings, sso_enforced, mfa_required,
              allowed_email_domains, audit_retention, audit_masked_keys)
  on public.organizations to authenticated;
grant select, insert, delete on public.workspaces to authenticated;
grant update (name, slug, settings) on public.workspaces to authenticated;
-- Members join through invitations (accept_invitation), never by direct insert.
grant select, delete on public.organization_members to authenticated;
grant update (role, status) on public.organization_members to authenticated;
grant select, insert, delete on public.workspace_members to authenticated;
grant update (role) on public.workspace_members to authenticated;
grant select, delete on public.invitations to authenticated;
grant select on public.permissions, public.role_permissions to authenticated;

-- ROW-LEVEL SECURITY -------------------------------------------------------------------
alter table public.organizations enable row level security;
alter table public.workspaces enable row level security;
alter table public.organization_members enable row level security;
alter table public.workspace_members enable row level security;
alter table public.invitations enable row level security;
alter table public.permissions enable row level security;
alter table public.role_permissions enable row level security;
alter table private.invitation_tokens enable row level security;

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

create policy "Admins can read invitations"
  on public.invitations for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('members:manage'))::uuid[]));
create policy "Admins can delete invitations"
  on public.invitations for delete to authenticated
  using (org_id = any ((select private.org_ids_with_permission('members:manage'))::uuid[]));

create policy "Signed-in users can read the permission catalogue"
  on public.permissions for select to authenticated using (true);
create policy "Signed-in users can read the role matrix"
  on public.role_permissions for select to authenticated using (true);

-- RPC: ORGANIZATIONS AND WORKSPACES ------------------------------------------------------
create function private.require_user()
returns uuid
language plpgsql
stable
set search_path = ''
as $$
declare
  v_uid uuid := auth.uid();
begin
  if v_uid is null then
    raise exception 'this action requires a signed-in user' using errcode = '42501';
  end if;
  return v_uid;
end;
$$;
grant execute on function private.require_user() to authenticated, service_role;

create function public.create_organization(
  p_name text,
  p_slug text,
  p_data_region public.data_region default 'us-east'
)
returns public.organizations
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_uid uuid := private.require_user();
  v_org public.organizations;
begin
  -- VALIDATION
  if p_name is null or char_length(btrim(p_name)) not between 1 and 200 then
    raise exception 'name must be 1 to 200 characters' using errcode = '22023', detail = 'field: name';
  end if;
  if p_slug is null or p_slug !~ '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$' then
    raise exception 'slug must be 1-63 lowercase letters, digits and inner hyphens'
      using errcode = '22023', detail = 'field: slug';
  end if;
  if exists (select 1 from public.organizations where slug = p_slug) then
    raise exception 'slug "%" is taken', p_slug using errcode = '23505', detail = 'field: slug';
  end if;

  -- CREATE, CALLER BECOMES OWNER
  insert into public.organizations (name, slug, data_region, created_by)
  values (btrim(p_name), p_slug, p_data_region, v_uid)
  returning * into v_org;
  insert into public.organization_members (org_id, user_id, role, status, email)
  values (v_org.id, v_uid, 'owner', 'active', auth.jwt() ->> 'email');
  insert into public.workspaces (org_id, name, slug) values (v_org.id, 'Default', 'default');
  return v_org;
end;
$$;
comment on function public.create_organization(text, text, public.data_region) is
  'Creates an organization with a default workspace; the caller becomes its owner.';
grant execute on function public.create_organization(text, text, public.data_region) to authenticated;

create function public.create_workspace(p_org_id uuid, p_name text, p_slug text)
returns public.workspaces
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_ws public.workspaces;
begin
  perform private.require_permission(p_org_id, 'workspaces:manage');
  if p_slug is null or p_slug !~ '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$' then
    raise exception 'slug must be 1-63 lowercase letters, digits and inner hyphens'
      using errcode = '22023', detail = 'field: slug';
  end if;
  insert into public.workspaces (org_id, name, slug)
  values (p_org_id, btrim(p_name), p_slug)
  returning * into v_ws;
  return v_ws;
end;
$$;
comment on function public.create_workspace(uuid, text, text) is
  'Creates a workspace in the organization (workspaces:manage).';
grant execute on function public.create_workspace(uuid, text, text) to authenticated, service_role;

-- RPC: INVITATIONS ----------------------------------------------------------------------
create function private.email_domain_allowed(p_org_id uuid, p_email text)
returns boolean
language sql
stable
set search_path = ''
as $$
  select cardinality(o.allowed_email_domains) = 0
      or split_part(lower(p_email), '@', 2) = any (o.allowed_email_domains)
  from public.organizations o where o.id = p_org_id
$$;

create function public.invite_member(
  p_org_id uuid,
  p_email text,
  p_role public.org_role default 'member',
  p_expires_in interval default '7 days'
)
returns table (invitation_id uuid, token text, expires_at timestamptz)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_uid uuid := private.require_user();
  v_email text := lower(btrim(p_email));
  v_token text;
  v_invitation public.invitations;
begin
  -- VALIDATION
  perform private.require_permission(p_org_id, 'members:manage');
  if v_email is null or v_email !~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' then
    raise exception 'email is not a valid address' using errcode = '22023', detail = 'field: email';
  end if;
  if p_role = 'owner' and not private.is_active_owner(p_org_id, v_uid) then
    raise exception 'only an owner can invite an owner' using errcode = '42501', detail = 'field: role';
  end if;
  if not private.email_domain_allowed(p_org_id, v_email) then
    raise exception 'email domain of % is not allowed in this organization', v_email
      using errcode = '22023', detail = 'field: email';
  end if;
  if p_expires_in is null or p_expires_in not between '1 hour' and '30 days' then
    raise exception 'expires_in must be between 1 hour and 30 days'
      using errcode = '22023', detail = 'field: expires_in';
  end if;
  if exists (select 1 from public.organization_members m
             where m.org_id = p_org_id and lower(m.email) = v_email and m.status = 'active') then
    raise exception '% is already a member', v_email using errcode = '23505', detail = 'field: email';
  end if;

  -- ISSUE: the token is returned once; only its hash is stored.
  v_token := 'inv_' || translate(encode(extensions.gen_random_bytes(24), 'base64'), '+/=', '-_');
  insert into public.invitations (org_id, email, role, invited_by, expires_at)
  values (p_org_id, v_email, p_role, v_uid, now() + p_expires_in)
  returning * into v_invitation;
  insert into private.invitation_tokens (token_hash, org_id, invitation_id)
  values (extensions.digest(v_token, 'sha256'), p_org_id, v_invitation.id);

  invitation_id := v_invitation.id;
  token := v_token;
  expires_at := v_invitation.expires_at;
  return next;
end;
$$;
comment on function public.invite_member(uuid, text, public.org_role, interval) is
  'Invites an email address with a role (members:manage). Returns the token once.';
grant execute on function public.invite_member(uuid, text, public.org_role, interval) to authenticated;

create function public.accept_invitation(p_token text)
returns public.organization_members
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_uid uuid := private.require_user();
  v_email text := lower(auth.jwt() ->> 'email');
  v_invitation public.invitations;
  v_member public.organization_members;
begin
  select i.* into v_invitation
  from private.invitation_tokens t
  join public.invitations i on i.org_id = t.org_id and i.id = t.invitation_id
  where t.token_hash = extensions.digest(coalesce(p_token, ''), 'sha256')
  for update of i;

  -- VALIDATION
  if v_invitation.id is null then
    raise exception 'invitation not found' using errcode = 'P0002', detail = 'field: token';
  end if;
  if v_invitation.accepted_at is not null or v_invitation.revoked_at is not null then
    raise exception 'invitation is no longer valid' using errcode = '22023', detail = 'field: token';
  end if;
  if v_invitation.expires_at <= now() then
    raise exception 'invitation expired at %', v_invitation.expires_at
      using errcode = '22023', detail = 'field: token';
  end if;
  if v_email is distinct from v_invitation.email then
    raise exception 'invitation was sent to another email address'
      using errcode = '42501', detail = 'field: email';
  end if;
  if not private.email_domain_allowed(v_invitation.org_id, v_email) then
    raise exception 'email domain is not allowed in this organization'
      using errcode = '42501', detail = 'field: email';
  end if;

  -- JOIN (seat limit and owner rules are enforced by the member triggers)
  insert into public.organization_members (org_id, user_id, role, status, email, invited_by)
  values (v_invitation.org_id, v_uid, v_invitation.role, 'active', v_email, v_invitation.invited_by)
  on conflict (org_id, user_id) do update
    set role = excluded.role, status = 'active', email = excluded.email
    where public.organization_members.status <> 'active'
  returning * into v_member;
  if v_member.user_id is null then
    raise exception 'already a member of this organization' using errcode = '23505';
  end if;
  update public.invitations set accepted_at = now(), accepted_by = v_uid
  where org_id = v_invitation.org_id and id = v_invitation.id;
  return v_member;
end;
$$;
comment on function public.accept_invitation(text) is
  'Joins the organization of the invitation; the session email must match it.';
grant execute on function public.accept_invitation(text) to authenticated;

-- RPC: MEMBERS ---------------------------------------------------------------------------
create function public.change_member_role(p_org_id uuid, p_user_id uuid, p_role public.org_role)
returns public.organization_members
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_member public.organization_members;
begin
  perform private.require_permission(p_org_id, 'members:manage');
  if p_role is null then
    raise exception 'role is required' using errcode = '22023', detail = 'field: role';
  end if;
  update public.organization_members set role = p_role
  where org_id = p_org_id and user_id = p_user_id
  returning * into v_member;
  if v_member.user_id is null then
    raise exception 'member not found' using errcode = 'P0002', detail = 'field: user_id';
  end if;
  return v_member;
end;
$$;
comment on function public.change_member_role(uuid, uuid, public.org_role) is
  'Changes a member''s role (members:manage; only owners grant or revoke owner).';
grant execute on function public.change_member_role(uuid, uuid, public.org_role) to authenticated;

create function public.deactivate_member(p_org_id uuid, p_user_id uuid)
returns public.organization_members
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_member public.organization_members;
begin
  perform private.require_permission(p_org_id, 'members:manage');
  update public.organization_members set status = 'deactivated'
  where org_id = p_org_id and user_id = p_user_id
  returning * into v_member;
  if v_member.user_id is null then
    raise exception 'member not found' using errcode = 'P0002', detail = 'field: user_id';
  end if;
  return v_member;
end;
$$;
comment on function public.deactivate_member(uuid, uuid) is
  'Deactivates a member: access ends with the next statement (members:manage).';
grant execute on function public.deactivate_member(uuid, uuid) to authenticated;

create function public.leave_organization(p_org_id uuid)
returns void
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_uid uuid := private.require_user();
begin
  delete from public.organization_members where org_id = p_org_id and user_id = v_uid;
  if not found then
    raise exception 'not a member of this organization' using errcode = 'P0002', detail = 'field: org_id';
  end if;
end;
$$;
comment on function public.leave_organization(uuid) is
  'Removes the caller from the organization (the last owner cannot leave).';
grant execute on function public.leave_organization(uuid) to authenticated;

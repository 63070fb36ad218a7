-- Members an identity provider provisions through SCIM 2.0, one row per
-- organization and user: the SCIM id clients address, their externalId and
-- userName, and the attributes Meridian keeps as sent (name, emails, the
-- enterprise extension). The member itself is the organization_members row;
-- active here is that membership's status.
create table public.scim_users (
  org_id uuid not null references public.organizations (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  user_name text not null constraint scim_users_user_name_length check (char_length(user_name) between 1 and 320),
  external_id text constraint scim_users_external_id_length check (char_length(external_id) <= 255),
  display_name text constraint scim_users_display_name_length check (char_length(display_name) <= 255),
  attributes jsonb not null default '{}' constraint scim_users_attributes_object
    check (jsonb_typeof(attributes) = 'object' and octet_length(attributes::text) <= 16384),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (org_id, id),
  constraint scim_users_member_key unique (org_id, user_id)
);

comment on table public.scim_users is
  'Members provisioned through SCIM: SCIM id, userName, externalId and the attributes as sent; the membership is organization_members.';

-- userName is unique per organization, case-insensitively (SCIM: caseExact false).
create unique index scim_users_user_name_key on public.scim_users (org_id, lower(user_name));
create index scim_users_external_id_idx on public.scim_users (org_id, external_id) where external_id is not null;
create index scim_users_user_idx on public.scim_users (user_id);
-- SCIM pages list in creation order.
create index scim_users_page_idx on public.scim_users (org_id, created_at, id);

create trigger scim_users_set_updated_at before update on public.scim_users
  for each row execute function private.set_updated_at();

revoke all on public.scim_users from anon, authenticated, service_role;
grant select on public.scim_users to authenticated, service_role;

alter table public.scim_users enable row level security;

create policy "Member readers can read their organization's provisioned users"
  on public.scim_users for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('members:read'))::uuid[]));

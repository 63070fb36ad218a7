-- The role matrix: a reference table (no org_id), the same for every tenant;
-- its rows are in 90_reference_data.
create table public.role_permissions (
  role public.org_role not null,
  permission text not null references public.permissions (key) on delete cascade,
  primary key (role, permission)
);

comment on table public.role_permissions is 'Which permissions each organization role grants.';

revoke all on public.role_permissions from anon, authenticated;

grant all on public.role_permissions to service_role;

grant select on public.role_permissions to authenticated;

alter table public.role_permissions enable row level security;

create policy "Signed-in users can read the role matrix"
  on public.role_permissions for select to authenticated using (true);

-- Each foreign key has an index that covers it: deleting or re-keying the row
-- it references finds the rows that point at it without a scan.
create index role_permissions_permission_idx on public.role_permissions (permission);

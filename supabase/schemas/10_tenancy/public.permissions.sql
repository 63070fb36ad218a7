-- The permission catalogue every policy and RPC asks about, through
-- private.has_permission and org_ids_with_permission. A reference table (no
-- org_id), the same for every tenant; its rows are in 90_reference_data.
create table public.permissions (
  key text primary key constraint permissions_key_format check (key ~ '^[a-z_]+:[a-z_]+$'),
  description text not null
);

comment on table public.permissions is 'Catalogue of permissions roles grant and API keys are scoped to.';

revoke all on public.permissions from anon, authenticated;

grant all on public.permissions to service_role;

grant select on public.permissions to authenticated;

alter table public.permissions enable row level security;

create policy "Signed-in users can read the permission catalogue"
  on public.permissions for select to authenticated using (true);

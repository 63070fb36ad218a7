-- Public wrapper so web clients can hide buttons they cannot use.
create or replace function public.has_permission(p_org_id uuid, p_permission text)
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

create or replace function private.is_active_owner(p_org_id uuid, p_user_id uuid)
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

grant execute on function private.is_active_owner(uuid, uuid) to authenticated, service_role;

-- For RLS: the set is computed once per statement when wrapped in (select ...).
create or replace function private.org_ids_with_permission(p_permission text)
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
    and private.session_meets_org_policy(o.sso_enforced, o.mfa_required)
$$;

comment on function private.org_ids_with_permission(text) is
  'Organizations in which the signed-in user holds the permission (RLS helper).';

grant execute on function private.org_ids_with_permission(text) to authenticated, service_role;

create or replace function private.has_permission(p_org_id uuid, p_permission text)
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
        and private.session_meets_org_policy(o.sso_enforced, o.mfa_required)
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

grant execute on function private.has_permission(uuid, text) to authenticated, service_role;

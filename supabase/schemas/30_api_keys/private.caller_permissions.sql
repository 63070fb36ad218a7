create or replace function private.caller_permissions(p_org_id uuid)
returns text[]
language sql
stable
security definer
set search_path = ''
as $$
  select case
    when auth.uid() is not null then (
      select coalesce(array_agg(p.key order by p.key), '{}')
      from public.permissions p where private.has_permission(p_org_id, p.key))
    else (
      select coalesce(array_agg(s order by s), '{}')
      from jsonb_array_elements_text(private.api_key_principal() -> 'scopes') s
      where (private.api_key_principal() ->> 'org_id')::uuid = p_org_id)
  end
$$;

comment on function private.caller_permissions(uuid) is
  'Permissions the caller (user or API key) holds in the organization.';

grant execute on function private.caller_permissions(uuid) to authenticated, service_role;

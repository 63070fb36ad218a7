create or replace function private.require_permission(p_org_id uuid, p_permission text)
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

grant execute on function private.require_permission(uuid, text) to authenticated, service_role;

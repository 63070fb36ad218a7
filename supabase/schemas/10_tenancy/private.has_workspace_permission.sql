-- A workspace role can only narrow: the member needs the permission in the
-- organization and, when they hold a role in that workspace, in that role too.
create or replace function private.has_workspace_permission(
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

grant execute on function private.has_workspace_permission(uuid, uuid, text) to authenticated, service_role;

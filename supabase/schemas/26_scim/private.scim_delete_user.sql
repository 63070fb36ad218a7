-- Deprovisions a user: the membership is removed (its sessions revoked by the
-- members trigger) and the SCIM record with it. The auth user stays: it may
-- belong to other organizations.
create or replace function private.scim_delete_user(p_org_id uuid, p_id uuid)
returns boolean
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_user_id uuid;
begin
  delete from public.scim_users u where u.org_id = p_org_id and u.id = p_id returning u.user_id into v_user_id;
  if v_user_id is null then
    return false;
  end if;
  delete from public.organization_members m where m.org_id = p_org_id and m.user_id = v_user_id;
  return true;
end;
$$;

comment on function private.scim_delete_user(uuid, uuid) is
  'Deprovisions a SCIM user: removes the membership (revoking its sessions) and the SCIM record.';

grant execute on function private.scim_delete_user(uuid, uuid) to service_role;

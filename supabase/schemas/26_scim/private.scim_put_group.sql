-- Creates (p_id null) or replaces a SCIM group from its resource: display
-- name, externalId, members (ids of provisioned users; others are refused),
-- then re-derives members' roles. A display name the organization has is a
-- conflict (23505). Returns the group's id.
create or replace function private.scim_put_group(p_org_id uuid, p_id uuid, p_resource jsonb)
returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_name text := btrim(p_resource ->> 'displayName');
  v_members uuid[];
  v_id uuid;
begin
  if v_name is null or v_name = '' then
    raise exception 'displayName is required' using errcode = '22023', detail = 'field: displayName';
  end if;
  begin
    select coalesce(array_agg(distinct (m ->> 'value')::uuid), '{}') into v_members
    from jsonb_array_elements(coalesce(p_resource -> 'members', '[]')) m;
  exception when invalid_text_representation then
    raise exception 'members[].value must be user ids' using errcode = '22023', detail = 'field: members';
  end;
  if exists (select 1 from unnest(v_members) x where not exists (
               select 1 from public.scim_users u where u.org_id = p_org_id and u.id = x)) then
    raise exception 'members[] names a user that is not provisioned' using errcode = '22023',
      detail = 'field: members';
  end if;
  if p_id is null then
    insert into public.scim_groups (org_id, display_name, external_id, member_ids)
    values (p_org_id, v_name, p_resource ->> 'externalId', v_members)
    returning id into v_id;
  else
    update public.scim_groups g set display_name = v_name, external_id = p_resource ->> 'externalId',
      member_ids = v_members
    where g.org_id = p_org_id and g.id = p_id
    returning id into v_id;
    if v_id is null then
      raise exception 'Group % not found', p_id using errcode = 'PT404';
    end if;
  end if;
  perform private.scim_apply_group_roles(p_org_id);
  return v_id;
end;
$$;

comment on function private.scim_put_group(uuid, uuid, jsonb) is
  'Creates or replaces a SCIM group and re-derives its members'' roles; returns its id.';

grant execute on function private.scim_put_group(uuid, uuid, jsonb) to service_role;

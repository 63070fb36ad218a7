create or replace function public.change_member_role(p_org_id uuid, p_user_id uuid, p_role public.org_role)
returns public.organization_members
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_member public.organization_members;
begin
  perform private.require_permission(p_org_id, 'members:manage');
  if p_role is null then
    raise exception 'role is required' using errcode = '22023', detail = 'field: role';
  end if;
  update public.organization_members set role = p_role
  where org_id = p_org_id and user_id = p_user_id
  returning * into v_member;
  if v_member.user_id is null then
    raise exception 'member not found' using errcode = 'PT404', detail = 'field: user_id';
  end if;
  return v_member;
end;
$$;

comment on function public.change_member_role(uuid, uuid, public.org_role) is
  'Changes a member''s role (members:manage; only owners grant or revoke owner).';

grant execute on function public.change_member_role(uuid, uuid, public.org_role) to authenticated;

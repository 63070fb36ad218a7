create or replace function public.deactivate_member(p_org_id uuid, p_user_id uuid)
returns public.organization_members
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_member public.organization_members;
begin
  perform private.require_permission(p_org_id, 'members:manage');
  update public.organization_members set status = 'deactivated'
  where org_id = p_org_id and user_id = p_user_id
  returning * into v_member;
  if v_member.user_id is null then
    raise exception 'member not found' using errcode = 'PT404', detail = 'field: user_id';
  end if;
  return v_member;
end;
$$;

comment on function public.deactivate_member(uuid, uuid) is
  'Deactivates a member: access ends with the next statement (members:manage).';

grant execute on function public.deactivate_member(uuid, uuid) to authenticated;

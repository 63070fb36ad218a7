create or replace function public.leave_organization(p_org_id uuid)
returns void
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_uid uuid := private.require_user();
begin
  delete from public.organization_members where org_id = p_org_id and user_id = v_uid;
  if not found then
    raise exception 'not a member of this organization' using errcode = 'PT404', detail = 'field: org_id';
  end if;
end;
$$;

comment on function public.leave_organization(uuid) is
  'Removes the caller from the organization (the last owner cannot leave).';

grant execute on function public.leave_organization(uuid) to authenticated;

create or replace function public.create_workspace(p_org_id uuid, p_name text, p_slug text)
returns public.workspaces
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_ws public.workspaces;
begin
  perform private.require_permission(p_org_id, 'workspaces:manage');
  if p_slug is null or p_slug !~ '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$' then
    raise exception 'slug must be 1-63 lowercase letters, digits and inner hyphens'
      using errcode = '22023', detail = 'field: slug';
  end if;
  insert into public.workspaces (org_id, name, slug)
  values (p_org_id, btrim(p_name), p_slug)
  returning * into v_ws;
  return v_ws;
end;
$$;

comment on function public.create_workspace(uuid, text, text) is
  'Creates a workspace in the organization (workspaces:manage).';

grant execute on function public.create_workspace(uuid, text, text) to authenticated, service_role;

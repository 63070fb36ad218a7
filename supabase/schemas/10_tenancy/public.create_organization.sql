create or replace function public.create_organization(
  p_name text,
  p_slug text,
  p_data_region public.data_region default 'us-east'
)
returns public.organizations
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_uid uuid := private.require_user();
  v_org public.organizations;
begin
  -- VALIDATION
  if p_name is null or char_length(btrim(p_name)) not between 1 and 200 then
    raise exception 'name must be 1 to 200 characters' using errcode = '22023', detail = 'field: name';
  end if;
  if p_slug is null or p_slug !~ '^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$' then
    raise exception 'slug must be 1-63 lowercase letters, digits and inner hyphens'
      using errcode = '22023', detail = 'field: slug';
  end if;
  if exists (select 1 from public.organizations where slug = p_slug) then
    raise exception 'slug "%" is taken', p_slug using errcode = '23505', detail = 'field: slug';
  end if;

  -- CREATE, CALLER BECOMES OWNER
  insert into public.organizations (name, slug, data_region, created_by)
  values (btrim(p_name), p_slug, p_data_region, v_uid)
  returning * into v_org;
  insert into public.organization_members (org_id, user_id, role, status, email)
  values (v_org.id, v_uid, 'owner', 'active', auth.jwt() ->> 'email');
  insert into public.workspaces (org_id, name, slug) values (v_org.id, 'Default', 'default');
  return v_org;
end;
$$;

comment on function public.create_organization(text, text, public.data_region) is
  'Creates an organization with a default workspace; the caller becomes its owner.';

grant execute on function public.create_organization(text, text, public.data_region) to authenticated;

-- A SCIM 2.0 Group resource.
create or replace function private.scim_group_resource(p_org_id uuid, p_id uuid, p_base text)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select jsonb_build_object(
    'schemas', jsonb_build_array('urn:ietf:params:scim:schemas:core:2.0:Group'),
    'id', g.id,
    'displayName', g.display_name,
    'members', coalesce((select jsonb_agg(jsonb_build_object('value', u.id, 'display', u.user_name,
                                                             '$ref', p_base || '/Users/' || u.id) order by u.user_name)
                         from public.scim_users u where u.org_id = g.org_id and u.id = any (g.member_ids)), '[]'),
    'meta', jsonb_build_object('resourceType', 'Group', 'location', p_base || '/Groups/' || g.id)) ||
    case when g.external_id is null then '{}' else jsonb_build_object('externalId', g.external_id) end
  from public.scim_groups g where g.org_id = p_org_id and g.id = p_id
$$;

comment on function private.scim_group_resource(uuid, uuid, text) is
  'A SCIM-provisioned group as a SCIM 2.0 Group resource.';

grant execute on function private.scim_group_resource(uuid, uuid, text) to service_role;

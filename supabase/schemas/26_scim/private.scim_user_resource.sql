-- A provisioned user as a SCIM 2.0 User resource (RFC 7643): the attributes
-- as sent, with id, userName, externalId, active (the membership's status)
-- and meta set by Meridian. p_base is the resource's base URL.
create or replace function private.scim_user_resource(p_org_id uuid, p_id uuid, p_base text)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select u.attributes || jsonb_build_object(
    'schemas', coalesce(u.attributes -> 'schemas', '["urn:ietf:params:scim:schemas:core:2.0:User"]'),
    'id', u.id,
    'userName', u.user_name,
    'active', m.status = 'active') ||
    case when u.external_id is null then '{}' else jsonb_build_object('externalId', u.external_id) end ||
    case when u.display_name is null then '{}' else jsonb_build_object('displayName', u.display_name) end ||
    jsonb_build_object('meta', jsonb_build_object(
      'resourceType', 'User',
      'created', to_char(u.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
      'lastModified', to_char(u.updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
      'location', p_base || '/Users/' || u.id,
      'version', 'W/"' || extract(epoch from u.updated_at)::bigint || '"'))
  from public.scim_users u
  join public.organization_members m on m.org_id = u.org_id and m.user_id = u.user_id
  where u.org_id = p_org_id and u.id = p_id
$$;

comment on function private.scim_user_resource(uuid, uuid, text) is
  'A provisioned user as a SCIM 2.0 User resource (attributes as sent, active from the membership).';

grant execute on function private.scim_user_resource(uuid, uuid, text) to service_role;

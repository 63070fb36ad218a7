-- The check of sso_connections.group_role_map: an object of IdP group names
-- (1-255 characters) to organization roles other than owner, 200 at most.
create or replace function private.sso_group_role_map_valid(p_map jsonb)
returns boolean
language sql
immutable
set search_path = ''
as $$
  select pg_catalog.jsonb_typeof(p_map) = 'object'
     and (select count(*) from pg_catalog.jsonb_object_keys(p_map)) <= 200
     and not exists (
       select 1 from pg_catalog.jsonb_each(p_map) e
       where pg_catalog.char_length(e.key) not between 1 and 255
          or pg_catalog.jsonb_typeof(e.value) <> 'string'
          or e.value #>> '{}' not in ('admin', 'manager', 'member', 'read_only'))
$$;

comment on function private.sso_group_role_map_valid(jsonb) is
  'Whether an IdP group -> role map is valid: string roles other than owner, 200 groups at most.';

grant execute on function private.sso_group_role_map_valid(jsonb) to authenticated, service_role;

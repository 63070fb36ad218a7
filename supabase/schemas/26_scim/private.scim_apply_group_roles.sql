-- Gives each SCIM-provisioned member of an organization the strongest role
-- its groups map to in the organization's connections (group_role_map, by
-- group display name); members in no mapped group keep their role, and owners
-- are never changed (ownership is not an identity provider's to give or take).
create or replace function private.scim_apply_group_roles(p_org_id uuid)
returns int
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_changed int;
begin
  with mapped as (
    select u.user_id,
           (array_agg(c.group_role_map ->> g.display_name
              order by array_position(array['admin', 'manager', 'member', 'read_only'],
                                      c.group_role_map ->> g.display_name)))[1] as role
    from public.scim_groups g
    cross join lateral unnest(g.member_ids) as mid (id)
    join public.scim_users u on u.org_id = g.org_id and u.id = mid.id
    join public.sso_connections c on c.org_id = g.org_id and c.group_role_map ? g.display_name
    where g.org_id = p_org_id
    group by u.user_id
  )
  update public.organization_members m set role = mapped.role::public.org_role
  from mapped
  where m.org_id = p_org_id and m.user_id = mapped.user_id
    and m.role <> 'owner' and m.role <> mapped.role::public.org_role;
  get diagnostics v_changed = row_count;
  return v_changed;
end;
$$;

comment on function private.scim_apply_group_roles(uuid) is
  'Sets SCIM-provisioned members'' roles from their groups as the connections map them (owners untouched).';

grant execute on function private.scim_apply_group_roles(uuid) to service_role;

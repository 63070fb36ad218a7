-- A page of provisioned users as SCIM resources, filtered by one attribute
-- (userName case-insensitively, externalId or id exactly: the filters
-- provisioning clients send), 1-based startIndex as SCIM pages.
create or replace function private.scim_list_users(
  p_org_id uuid,
  p_base text,
  p_attribute text default null,
  p_value text default null,
  p_start_index int default 1,
  p_count int default 100
)
returns table (total bigint, resources jsonb)
language sql
stable
security definer
set search_path = ''
as $$
  with matched as (
    select u.id, u.created_at from public.scim_users u
    where u.org_id = p_org_id
      and (p_attribute is null
           or (p_attribute = 'username' and lower(u.user_name) = lower(p_value))
           or (p_attribute = 'externalid' and u.external_id = p_value)
           or (p_attribute = 'id' and u.id::text = p_value))
  )
  select (select count(*) from matched),
         coalesce((select jsonb_agg(private.scim_user_resource(p_org_id, p.id, p_base) order by p.created_at, p.id)
                   from (select m.id, m.created_at from matched m order by m.created_at, m.id
                         offset greatest(coalesce(p_start_index, 1), 1) - 1
                         limit least(greatest(coalesce(p_count, 100), 0), 500)) p), '[]')
$$;

comment on function private.scim_list_users(uuid, text, text, text, int, int) is
  'A SCIM ListResponse page of provisioned users, filtered by userName (case-insensitive), externalId or id.';

grant execute on function private.scim_list_users(uuid, text, text, text, int, int) to service_role;

-- A survivor and every profile merged into it (directly or through a chain).
create or replace function private.profile_lineage(p_org_id uuid, p_profile_id uuid)
returns uuid[]
language sql
stable
set search_path = ''
as $$
  with recursive lineage as (
    select p_profile_id as id
    union
    select p.id from public.profiles p join lineage l on p.merged_into = l.id
    where p.org_id = p_org_id
  )
  select array_agg(id) from lineage
$$;

comment on function private.profile_lineage(uuid, uuid) is
  'The profile and all profiles merged into it; events of any of them belong to the profile.';

grant execute on function private.profile_lineage(uuid, uuid) to authenticated, service_role;

-- The live profile a profile id stands for: itself, or the survivor it was
-- merged into (a merge repoints the profiles merged into the loser, so
-- merged_into names a live profile).
create or replace function private.survivor_of(p_org_id uuid, p_profile_id uuid)
returns uuid
language sql
stable
set search_path = ''
as $$
  select coalesce(p.merged_into, p.id) from public.profiles p
  where p.org_id = p_org_id and p.id = p_profile_id
$$;

grant execute on function private.survivor_of(uuid, uuid) to authenticated, service_role;

-- A profile and every profile merged into it, directly or through others, by
-- merges still standing: whose events are the profile's own.
create or replace function private.profile_and_merged(p_org_id uuid, p_profile_id uuid, p_except_merge uuid)
returns setof uuid
language sql
stable
set search_path = ''
as $$
  with recursive tree as (
    select p_profile_id as id, 1 as depth
    union all
    select m.loser_id, t.depth + 1 from tree t
    join public.profile_merges m
      on m.org_id = p_org_id and m.winner_id = t.id and m.unmerged_at is null
     and m.id is distinct from p_except_merge
    where t.depth < 1000 -- merges into the older profile make no cycle; this guards anyway
  )
  select t.id from tree t
$$;

comment on function private.profile_and_merged(uuid, uuid, uuid) is
  'The profile and those merged into it by standing merges (bar one being undone): whose events are its own.';

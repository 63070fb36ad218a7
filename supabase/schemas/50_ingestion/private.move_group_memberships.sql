-- Moves one profile's group memberships to another (a merge, from
-- resolve_profile) and returns them as they were, for
-- profile_merges.moved_memberships, so unmerge_profiles can give them back. A
-- group both belong to keeps one membership spanning both. plpgsql so its
-- plans last the connection: a SQL function that cannot be inlined is
-- planned again on every call.
create or replace function private.move_group_memberships(p_org_id uuid, p_from uuid, p_to uuid)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_moved jsonb;
begin
  with mine as (
    delete from public.group_memberships m
    where m.org_id = p_org_id and m.profile_id = p_from
    returning m.group_id, m.first_seen_at, m.last_seen_at
  ), noted as (
    -- Read before the insert below: this statement's snapshot predates it.
    select mine.*, not exists (
             select 1 from public.group_memberships w
             where w.org_id = p_org_id and w.group_id = mine.group_id and w.profile_id = p_to) as joined
    from mine
  ), moved as (
    insert into public.group_memberships as gm (org_id, group_id, profile_id, first_seen_at, last_seen_at)
    select p_org_id, n.group_id, p_to, n.first_seen_at, n.last_seen_at from noted n order by n.group_id
    on conflict (org_id, group_id, profile_id) do update set
      first_seen_at = least(gm.first_seen_at, excluded.first_seen_at),
      last_seen_at = greatest(gm.last_seen_at, excluded.last_seen_at)
  )
  select coalesce(jsonb_agg(jsonb_build_object('group_id', n.group_id, 'first_seen_at', n.first_seen_at,
                                               'last_seen_at', n.last_seen_at, 'joined', n.joined)
                            order by n.group_id), '[]')
    into v_moved
  from noted n;
  return v_moved;
end;
$$;

comment on function private.move_group_memberships(uuid, uuid, uuid) is
  'Moves a merged profile''s group memberships to the survivor; returns them as they were, for unmerge.';

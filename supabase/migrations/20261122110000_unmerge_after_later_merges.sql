-- Undoing a merge after the survivor has itself been merged (issue 4: merges are
-- "reversible by an admin RPC").
--
-- A merge of A into B records what moved from A to B. If B is later merged into
-- C, all of it moves on to C, and every profile that pointed at B (A among
-- them) now points at C. unmerge_profiles assumed nothing had moved since:
--
-- 1. Undoing A->B took A's memberships back from B, which no longer held them:
--    C kept them, so A and C were both members.
-- 2. Undoing B->C gave B every identity and membership the B->C merge had moved,
--    A's included: if A->B had been undone first, B took A's identities back
--    from A.
-- 3. Undoing B->C while A->B stood left A pointing at C, not at B, so A's
--    events were C's while A's identities were B's.
--
-- Now an unmerge works from where things are:
-- - The holder is the profile that now holds what the merge moved: the end of
--   the survivor's chain of later merges (the survivor itself if it is live).
-- - Identities go back only from the holder: one that an earlier unmerge already
--   gave back stays where it is.
-- - Memberships go back only if the holder still has them, and not those the
--   merged profile had only through a merge into it that was undone since. The
--   holder gives up a membership only if the merged profile brought it along
--   the whole chain (the group was new to each survivor in turn) and nobody
--   called the group since, the rule the one-step case already had.
-- - The profiles merged into the merged profile (through merges still standing)
--   point at it again.
-- - It takes ingestion's locks on the holder's identifiers first, so no batch
--   merges the holder or moves its identities meanwhile, and two unmerges on
--   one chain take turns.

-- The chain is followed by loser, through standing merges only: an index probe
-- per step, not a scan of the organization's merges.
create index profile_merges_standing_loser_idx on public.profile_merges (org_id, loser_id)
  where unmerged_at is null;

create or replace function public.unmerge_profiles(p_org_id uuid, p_merge_id uuid)
returns public.profile_merges
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_merge public.profile_merges;
  -- the later merges the survivor went through, oldest first, and where they end
  v_later jsonb[];
  v_holder uuid;
  v_locked uuid;  -- the holder whose identifiers are locked
begin
  perform private.require_permission(p_org_id, 'privacy:manage');
  select * into v_merge from public.profile_merges
  where org_id = p_org_id and id = p_merge_id for update;
  if v_merge.id is null then
    raise exception 'merge not found' using errcode = 'P0002', detail = 'field: merge_id';
  end if;
  if v_merge.unmerged_at is not null then
    raise exception 'this merge was already undone' using errcode = '22023', detail = 'field: merge_id';
  end if;

  -- WHERE THINGS ARE: a live profile is the loser of no standing merge, so the
  -- chain from the survivor follows one standing merge per step. The depth
  -- bound only guards against a cycle, which merges into the oldest cannot make.
  -- Then ingestion's locks on the holder's identifiers, in ingest_batch's
  -- order: a batch can merge the holder or move its identities only through
  -- one of them, and another unmerge on this chain takes them too. What
  -- committed while this waited (a merge of the holder, the undoing of a later
  -- merge) can move the holder: look again until it stays put.
  loop
    with recursive later as (
      select m.winner_id, m.moved_memberships, 1 as depth from public.profile_merges m
      where m.org_id = p_org_id and m.loser_id = v_merge.winner_id and m.unmerged_at is null
      union all
      select m.winner_id, m.moved_memberships, l.depth + 1 from later l
      join public.profile_merges m
        on m.org_id = p_org_id and m.loser_id = l.winner_id and m.unmerged_at is null
      where l.depth < 1000
    )
    select array_agg(l.moved_memberships order by l.depth),
           coalesce((array_agg(l.winner_id order by l.depth desc))[1], v_merge.winner_id)
      into v_later, v_holder
    from later l;
    exit when v_holder = v_locked;
    perform pg_advisory_xact_lock(l.h)
    from (
      select distinct hashtextextended(p_org_id::text || ':' || i.type || ':' || i.value, 0) as h
      from public.identities i
      where i.org_id = p_org_id and i.profile_id = v_holder
      order by 1
    ) l;
    v_locked := v_holder;
  end loop;

  -- IDENTITIES the merge moved, from the holder only.
  update public.identities set profile_id = v_merge.loser_id
  where org_id = p_org_id and id = any (v_merge.moved_identity_ids) and profile_id = v_holder;

  -- MEMBERSHIPS the merged profile brought go back to it, if the holder still
  -- has them, except those it had only through a merge into it that has been
  -- undone since (that undo gave them to their owner). The holder keeps a group
  -- it had of its own along the way (not joined at some step), or has been
  -- seen in since.
  insert into public.group_memberships (org_id, group_id, profile_id, first_seen_at, last_seen_at)
  select p_org_id, m.group_id, v_merge.loser_id, m.first_seen_at, m.last_seen_at
  from jsonb_to_recordset(v_merge.moved_memberships)
         m (group_id text, first_seen_at timestamptz, last_seen_at timestamptz, joined boolean)
  join public.group_memberships h
    on h.org_id = p_org_id and h.group_id = m.group_id and h.profile_id = v_holder
  where not exists (
    select 1 from public.profile_merges e
    cross join lateral jsonb_to_recordset(e.moved_memberships) x (group_id text, last_seen_at timestamptz, joined boolean)
    where e.org_id = p_org_id and e.winner_id = v_merge.loser_id and e.unmerged_at is not null
      and x.group_id = m.group_id and x.joined and m.last_seen_at <= x.last_seen_at)
  on conflict do nothing;
  delete from public.group_memberships h
  using jsonb_to_recordset(v_merge.moved_memberships) m (group_id text, last_seen_at timestamptz, joined boolean)
  where h.org_id = p_org_id and h.profile_id = v_holder and h.group_id = m.group_id
    and m.joined and h.last_seen_at <= m.last_seen_at
    and not exists (
      select 1 from unnest(v_later) s (moved)
      where not s.moved @> jsonb_build_array(jsonb_build_object('group_id', m.group_id, 'joined', true)));

  -- POINTERS: the merged profile stands alone again, and the profiles merged
  -- into it by merges still standing point at it, not at the holder.
  update public.profiles set merged_into = null where org_id = p_org_id and id = v_merge.loser_id;
  with recursive under as (
    select m.loser_id, 1 as depth from public.profile_merges m
    where m.org_id = p_org_id and m.winner_id = v_merge.loser_id and m.unmerged_at is null
    union all
    select m.loser_id, u.depth + 1 from under u
    join public.profile_merges m
      on m.org_id = p_org_id and m.winner_id = u.loser_id and m.unmerged_at is null
    where u.depth < 1000
  )
  update public.profiles p set merged_into = v_merge.loser_id
  from under u
  where p.org_id = p_org_id and p.id = u.loser_id;

  update public.profiles p set identified = exists (
    select 1 from public.identities i
    where i.org_id = p_org_id and i.profile_id = p.id and i.type in ('user_id', 'email'))
  where p.org_id = p_org_id and p.id in (v_merge.loser_id, v_holder);
  update public.profile_merges set unmerged_at = now(), unmerged_by = auth.uid()
  where org_id = p_org_id and id = p_merge_id
  returning * into v_merge;
  return v_merge;
end;
$$;

-- Undoing a merge takes the merged profile's numbers back out of the survivor
-- (issue 4: merges are "reversible by an admin RPC").
--
-- A merge folds the merged profile's row into the survivor: counts add up,
-- revenue adds up, engagement adds up (each decayed to the later time), and
-- traits, first and last seen, touches and contact fields keep one side or
-- the other. Undoing the merge gave identities, memberships and pointers back,
-- but left the survivor with the merged profile's numbers: after undoing a
-- wrong merge of a big customer into a visitor, the visitor still showed the
-- customer's event count, revenue, engagement and lifecycle stage.
--
-- The merged profile's row still holds what it brought (no batch writes to a
-- merged profile), so the sums can be taken back exactly, from every profile
-- the merge's numbers reached: the survivor and, if it was merged in turn,
-- each later survivor up to the profile that holds them now. Lifecycle stages
-- are recomputed from the new numbers. What was folded by keeping one side
-- cannot be subtracted and stays with the survivor, as do the events written to
-- it while the merge stood (and their counts); the README says so.
--
-- supabase/tests/ingestion/unmerge_numbers.test.sql checks one merge (counts,
-- revenue, engagement, stages); unmerge_chain.test.sql checks the counts after
-- undoing a chain of two merges in either order.

-- unmerge_profiles as in 20261122110000, with the NUMBERS step and the
-- lifecycle stages after it.
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
  v_chain uuid[]; -- the survivor, then each later survivor, to the holder
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
           coalesce((array_agg(l.winner_id order by l.depth desc))[1], v_merge.winner_id),
           v_merge.winner_id || coalesce(array_agg(l.winner_id order by l.depth)
                                         filter (where l.winner_id is not null), '{}')
      into v_later, v_holder, v_chain
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

  -- NUMBERS the merge added: the merged profile's counts, revenue and
  -- engagement come out of the survivor, and out of each later survivor to the
  -- holder, as every merge along the chain folded in the whole row. The merged
  -- profile's row still has them: no batch writes to a merged profile. Its
  -- engagement is decayed to each profile's own time, as the fold added it.
  -- What a merge folded by keeping one side (traits, first and last seen,
  -- touches, contact fields) cannot be taken back by subtraction and stays.
  -- The rows are locked as they are read, so the sums start from their
  -- latest versions.
  with taken as (
    select p.id,
           greatest(p.event_count - l.event_count, 0) as event_count,
           (select coalesce(jsonb_object_agg(c.key, c.n), '{}')
            from (select e.key, e.value::bigint - coalesce((l.event_counts ->> e.key)::bigint, 0) as n
                  from jsonb_each_text(p.event_counts) e) c
            where c.n > 0) as event_counts,
           greatest(p.revenue - l.revenue, 0) as revenue,
           greatest(p.engagement_raw
                    - private.decayed_engagement(l.engagement_raw, l.engagement_at,
                                                 greatest(p.engagement_at, l.engagement_at)),
                    0) as raw
    from public.profiles p
    join public.profiles l on l.org_id = p_org_id and l.id = v_merge.loser_id
    where p.org_id = p_org_id and p.id = any (v_chain)
    for no key update of p
  )
  update public.profiles p set
    event_count = t.event_count,
    event_counts = t.event_counts,
    revenue = t.revenue,
    engagement_raw = t.raw,
    engagement_score = private.engagement_score(t.raw)
  from taken t
  where p.org_id = p_org_id and p.id = t.id;

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
  update public.profiles p
  set lifecycle_stage = private.lifecycle_stage_of(p.revenue, p.identified, p.engagement_score)
  where p.org_id = p_org_id and (p.id = v_merge.loser_id or p.id = any (v_chain));
  update public.profile_merges set unmerged_at = now(), unmerged_by = auth.uid()
  where org_id = p_org_id and id = p_merge_id
  returning * into v_merge;
  return v_merge;
end;
$$;

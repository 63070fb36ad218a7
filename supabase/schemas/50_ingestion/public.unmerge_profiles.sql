-- Undoes a profile merge: merges are reversible by an admin (privacy:manage,
-- checked first, as this is a security definer). The survivor may have been
-- merged in turn since, so it works from where things are now: the holder, the
-- end of the survivor's chain of later merges, gives back identities and
-- memberships, and ingestion's locks on the holder's identifiers keep batches
-- from merging it meanwhile (two unmerges on one chain take turns). Then, step
-- by step: the numbers the merged profile brought, the events written to the
-- chain while the merge stood, pointers, the survivors' fields that were the
-- merged profile's, its own row, and groups.
-- Tests: supabase/tests/ingestion/unmerge_*.test.sql.
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
  -- the events moved back: the profile each was on, and what it counted
  v_moved_was uuid[];
  v_moved_type text[];
  v_moved_at timestamptz[];
  v_moved_revenue numeric[];
  v_moved_weight double precision[];
  v_moved_traits jsonb[]; -- an identify's traits, else null
  v_moved_touch jsonb[];  -- the touch an event with a channel makes, else null
  v_moved_channel text[];
  v_moved_group text[];
  v_moved_left jsonb;     -- the traits the moved identify calls leave
  v_member uuid;
begin
  perform private.require_permission(p_org_id, 'privacy:manage');
  select * into v_merge from public.profile_merges
  where org_id = p_org_id and id = p_merge_id for update;
  if v_merge.id is null then
    raise exception 'merge not found' using errcode = 'PT404', detail = 'field: merge_id';
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
           private.subtract_event_counts(p.event_counts, l.event_counts) as event_counts,
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

  -- EVENTS written to the chain while the merge stood, with the merged
  -- profile's ids alone, go back to it. An event goes when each of its
  -- anonymous and user ids that identifies anyone identifies the merged
  -- profile (its identities are back, above); one with an id of each side
  -- stays. The merged profile's own earlier events were written to it, so only
  -- events of the merge's time match.
  with moved as (
    update public.events e set profile_id = v_merge.loser_id
    from (
      select c.timestamp, c.id, c.profile_id as was
      from public.events c
      left join public.identities a
        on a.org_id = p_org_id and a.type = 'anonymous_id'
       and a.value = private.normalize_identifier('anonymous_id', c.anonymous_id)
      left join public.identities u
        on u.org_id = p_org_id and u.type = 'user_id'
       and u.value = private.normalize_identifier('user_id', c.user_id)
      where c.org_id = p_org_id and c.profile_id = any (v_chain)
        and v_merge.loser_id in (a.profile_id, u.profile_id)
        and coalesce(a.profile_id, v_merge.loser_id) = v_merge.loser_id
        and coalesce(u.profile_id, v_merge.loser_id) = v_merge.loser_id
    ) s
    where e.org_id = p_org_id and e.timestamp = s.timestamp and e.id = s.id
    returning s.was, e.type, e.event, e.timestamp, e.revenue, e.traits, e.channel, e.utm_source,
              e.utm_medium, e.utm_campaign, e.group_id
  )
  select array_agg(m.was), array_agg(m.type), array_agg(m.timestamp), array_agg(m.revenue),
         array_agg(private.engagement_weight(m.type, m.event, m.revenue, private.usable_numbers(o.settings -> 'engagement_weights'))),
         array_agg(case when m.type = 'identify' then m.traits end),
         array_agg(private.touch_of(m.channel, m.utm_source, m.utm_medium, m.utm_campaign, m.timestamp)),
         array_agg(m.channel), array_agg(m.group_id)
    into v_moved_was, v_moved_type, v_moved_at, v_moved_revenue, v_moved_weight, v_moved_traits,
         v_moved_touch, v_moved_channel, v_moved_group
  from moved m
  join public.organizations o on o.id = p_org_id;

  v_moved_left := private.traits_from_identifies(v_moved_traits, v_moved_at);

  if v_moved_was is not null then
    -- Out of the profile each was written to and every later one in the chain
    -- (locked above), engagement decayed to each profile's own time.
    with m as (
      select x.type, x.at, x.revenue, x.weight, c.n as written_at
      from unnest(v_moved_was, v_moved_type, v_moved_at, v_moved_revenue, v_moved_weight)
             x (was, type, at, revenue, weight)
      join unnest(v_chain) with ordinality c (id, n) on c.id = x.was
    ), per_type as (
      select c.id, m.type, count(*) as n,
             coalesce(sum(m.revenue) filter (where m.revenue > 0), 0) as revenue,
             sum(private.decayed_engagement(m.weight, m.at, p.engagement_at)) as raw
      from unnest(v_chain) with ordinality c (id, n)
      join m on m.written_at <= c.n
      join public.profiles p on p.org_id = p_org_id and p.id = c.id
      group by c.id, m.type
    ), taken as (
      select t.id, sum(t.n) as n, jsonb_object_agg(t.type, t.n) as counts,
             sum(t.revenue) as revenue, sum(t.raw) as raw
      from per_type t group by t.id
    )
    update public.profiles p set
      event_count = greatest(p.event_count - t.n, 0),
      event_counts = private.subtract_event_counts(p.event_counts, t.counts),
      revenue = greatest(p.revenue - t.revenue, 0),
      engagement_raw = greatest(p.engagement_raw - t.raw, 0),
      engagement_score = private.engagement_score(greatest(p.engagement_raw - t.raw, 0))
    from taken t
    where p.org_id = p_org_id and p.id = t.id;
  end if;

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

  -- THE SURVIVORS' FIELDS that came from the merged profile, in the survivor
  -- and each later one (each merge folded in the whole row). A merge kept one
  -- side's traits (per key, the later), touches and contact fields, and the
  -- merged profile's calls written meanwhile set more. A trait key whose
  -- timestamp is the merged profile's own, or that of one of the events that
  -- went back to it, is the merged profile's: it takes the profile's own
  -- latest value, from the identify calls written to it and to the profiles
  -- merged into it by merges still standing, or goes. Contact fields that were
  -- the merged profile's, or that follow a key that went back, follow the
  -- traits; a touch that was the merged profile's is found again among the
  -- profile's own events; last seen is its latest event. (First seen stands:
  -- merges keep the older profile, and events past retention are gone.)
  foreach v_member in array v_chain loop
    with own_events as (
      -- (the merge being undone is marked so only at the end)
      select e.type, e.timestamp, e.traits, e.channel, e.utm_source, e.utm_medium, e.utm_campaign
      from public.events e
      where e.org_id = p_org_id
        and e.profile_id in (select private.profile_and_merged(p_org_id, v_member, p_merge_id))
    ), own as (
      select private.traits_from_identifies(array_agg(o.traits) filter (where o.type = 'identify'),
                                            array_agg(o.timestamp) filter (where o.type = 'identify')) as traits,
             (array_agg(private.touch_of(o.channel, o.utm_source, o.utm_medium, o.utm_campaign, o.timestamp)
                order by o.timestamp) filter (where o.channel is not null))[1] as first_touch,
             (array_agg(private.touch_of(o.channel, o.utm_source, o.utm_medium, o.utm_campaign, o.timestamp)
                order by o.timestamp desc) filter (where o.channel is not null and o.channel <> 'direct'))[1]
               as last_touch,
             max(o.timestamp) as last_seen
      from own_events o
    ), theirs as (
      -- this profile's trait keys that are the merged profile's
      select coalesce(array_agg(k.key), '{}') as keys
      from public.profiles h
      cross join pg_catalog.jsonb_each_text(h.trait_timestamps) k
      join public.profiles l on l.org_id = p_org_id and l.id = v_merge.loser_id
      where h.org_id = p_org_id and h.id = v_member
        and (k.value = l.trait_timestamps ->> k.key
             or k.value = v_moved_left -> 'timestamps' ->> k.key)
    ), fixed as (
      select h.id,
             (h.traits - th.keys) || coalesce((select jsonb_object_agg(x.key, x.value)
                                               from jsonb_each(ow.traits -> 'traits') x
                                               where x.key = any (th.keys)), '{}') as traits,
             (h.trait_timestamps - th.keys) || coalesce((select jsonb_object_agg(x.key, x.value)
                                                         from jsonb_each(ow.traits -> 'timestamps') x
                                                         where x.key = any (th.keys)), '{}') as stamps,
             th.keys,
             h.first_touch is not distinct from l.first_touch as first_touch_theirs,
             h.last_touch is not distinct from l.last_touch or h.last_touch = any (v_moved_touch)
               as last_touch_theirs,
             ow.first_touch, ow.last_touch, ow.last_seen,
             l.email is not null and h.email = l.email as email_theirs,
             l.phone is not null and h.phone = l.phone as phone_theirs,
             l.name is not null and h.name = l.name as name_theirs
      from public.profiles h
      join public.profiles l on l.org_id = p_org_id and l.id = v_merge.loser_id
      cross join theirs th
      cross join own ow
      where h.org_id = p_org_id and h.id = v_member
    )
    update public.profiles p set
      traits = f.traits,
      trait_timestamps = f.stamps,
      email = case when f.email_theirs or 'email' = any (f.keys) then f.traits ->> 'email' else p.email end,
      phone = case when f.phone_theirs or 'phone' = any (f.keys) then f.traits ->> 'phone' else p.phone end,
      name = case when f.name_theirs or f.keys && '{name, firstName, lastName, first_name, last_name}'
                  then private.name_from_traits(f.traits) else p.name end,
      first_touch = case when f.first_touch_theirs then f.first_touch else p.first_touch end,
      last_touch = case when f.last_touch_theirs then f.last_touch else p.last_touch end,
      last_seen_at = coalesce(f.last_seen, p.last_seen_at)
    from fixed f
    where p.org_id = p_org_id and p.id = f.id;
  end loop;

  -- THE MERGED PROFILE: its row is as the merge left it (no batch writes to a
  -- merged profile). The events that came back add to it as the profile fold
  -- adds a batch: counts, revenue, engagement (decayed to the later of its time
  -- and the latest event's), traits, touches, contact fields and seen times.
  if v_moved_was is not null then
    with m as (
      select * from unnest(v_moved_type, v_moved_at, v_moved_revenue, v_moved_weight, v_moved_touch,
                           v_moved_channel) x (type, at, revenue, weight, touch, channel)
    ), added as (
      select count(*) as n,
             count(*) filter (where m.type = 'track') as n_track,
             count(*) filter (where m.type = 'page') as n_page,
             count(*) filter (where m.type = 'screen') as n_screen,
             count(*) filter (where m.type = 'identify') as n_identify,
             count(*) filter (where m.type = 'group') as n_group,
             count(*) filter (where m.type = 'alias') as n_alias,
             coalesce(sum(m.revenue) filter (where m.revenue > 0), 0) as revenue,
             min(m.at) as first_at, max(m.at) as last_at,
             (array_agg(m.touch order by m.at) filter (where m.touch is not null))[1] as first_touch,
             (array_agg(m.touch order by m.at desc)
                filter (where m.touch is not null and m.channel <> 'direct'))[1] as last_touch
      from m
    ), next as (
      select a.*, greatest(l.engagement_at, a.last_at) as at,
             private.decayed_engagement(l.engagement_raw, l.engagement_at, greatest(l.engagement_at, a.last_at))
               + (select sum(private.decayed_engagement(m.weight, m.at, greatest(l.engagement_at, a.last_at)))
                  from m) as new_raw,
             private.merge_traits(l.traits, l.trait_timestamps, v_moved_left -> 'traits',
                                  v_moved_left -> 'timestamps') as t
      from added a
      join public.profiles l on l.org_id = p_org_id and l.id = v_merge.loser_id
    )
    update public.profiles p set
      event_count = p.event_count + n.n,
      event_counts = private.add_event_counts(p.event_counts, n.n_track, n.n_page, n.n_screen,
                                              n.n_identify, n.n_group, n.n_alias),
      revenue = p.revenue + n.revenue,
      engagement_raw = n.new_raw,
      engagement_at = n.at,
      engagement_score = private.engagement_score(n.new_raw),
      first_seen_at = least(p.first_seen_at, n.first_at),
      last_seen_at = greatest(p.last_seen_at, n.last_at),
      traits = n.t -> 'traits',
      trait_timestamps = n.t -> 'timestamps',
      email = coalesce(n.t -> 'traits' ->> 'email', p.email),
      phone = coalesce(n.t -> 'traits' ->> 'phone', p.phone),
      name = coalesce(private.name_from_traits(n.t -> 'traits'), p.name),
      first_touch = case when n.first_touch is not null and (p.first_touch is null
                      or (n.first_touch ->> 'at') < (p.first_touch ->> 'at')) then n.first_touch
                      else p.first_touch end,
      last_touch = case when n.last_touch is not null and (p.last_touch is null
                      or (n.last_touch ->> 'at') >= (p.last_touch ->> 'at')) then n.last_touch
                      else p.last_touch end
    from next n
    where p.org_id = p_org_id and p.id = v_merge.loser_id;
  end if;

  -- GROUPS the merged profile joined by calls written to a survivor while the
  -- merge stood (those calls came back above) are its: it becomes a member,
  -- and a survivor stays one only if a group call of its own joined it.
  -- Memberships are written in key order, as ingestion writes them.
  if 'group' = any (v_moved_type) then
    with calls as (
      select btrim(x.group_id) as group_id, min(x.at) as first_at, max(x.at) as last_at
      from unnest(v_moved_type, v_moved_group, v_moved_at) x (type, group_id, at)
      where x.type = 'group' and btrim(coalesce(x.group_id, '')) <> ''
      group by 1
    ), joined as (
      insert into public.group_memberships as gm (org_id, group_id, profile_id, first_seen_at, last_seen_at)
      select p_org_id, c.group_id, v_merge.loser_id, c.first_at, c.last_at
      from calls c
      order by c.group_id
      on conflict (org_id, group_id, profile_id) do update set
        first_seen_at = least(gm.first_seen_at, excluded.first_seen_at),
        last_seen_at = greatest(gm.last_seen_at, excluded.last_seen_at)
    )
    delete from public.group_memberships h
    using calls c
    where h.org_id = p_org_id and h.profile_id = any (v_chain) and h.group_id = c.group_id
      and not exists (
        select 1 from public.events e
        where e.org_id = p_org_id
          and e.profile_id in (select private.profile_and_merged(p_org_id, h.profile_id, p_merge_id))
          and e.type = 'group' and btrim(e.group_id) = h.group_id);
  end if;

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

comment on function public.unmerge_profiles(uuid, uuid) is
  'Undoes a profile merge (privacy:manage): the merged profile gets its identities back.';

grant execute on function public.unmerge_profiles(uuid, uuid) to authenticated, service_role;

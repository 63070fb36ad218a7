-- Resolves one set of identifiers (normalized, unblocked, strongest first) to a
-- profile: none known -> a new profile; one -> it; several -> the younger ones
-- merge into the oldest, their identities and group memberships moving to it
-- and recorded in profile_merges (for unmerge_profiles). When attaching or
-- merging would give a profile more identifiers of a type than its limit
-- allows, the weakest identifier is dropped (recorded in identity_conflicts)
-- and matching starts again, as Segment Unify does. ingest_batch calls it only
-- for the identifier sets that need such a decision.
create or replace function private.resolve_profile(
  p_org_id uuid,
  p_ids jsonb,                -- [{"type": ..., "value": ...}] strongest first
  p_limits jsonb,
  p_source_id uuid,
  p_at timestamptz,
  p_message_id text
)
returns uuid
language plpgsql
set search_path = ''
as $$
declare
  v_ids jsonb := p_ids;
  v_profiles uuid[];
  v_target uuid;
  v_losers uuid[];
  v_violation boolean;
  v_dropped jsonb;
  v_moved uuid[];
  v_moved_memberships jsonb;
  v_loser uuid;
begin
  loop
    -- PROFILES THAT OWN ANY OF THE IDENTIFIERS (survivors, oldest first)
    -- Oldest = first seen (several may be created in one transaction).
    -- An index probe per identifier whatever the plan cache decides: a generic
    -- plan otherwise hash-joins all of the organization's identities (measured).
    select array_agg(o.id order by o.first_seen_at, o.created_at, o.id) into v_profiles
    from (
      select distinct s.id, s.first_seen_at, s.created_at
      from jsonb_array_elements(v_ids) x
      cross join lateral (
        select i.profile_id from public.identities i
        where i.org_id = p_org_id and i.type = x ->> 'type' and i.value = x ->> 'value'
        offset 0 -- optimization fence: keep the per-identifier index probe
      ) i
      cross join lateral (
        select coalesce(pr.merged_into, pr.id) as survivor from public.profiles pr
        where pr.org_id = p_org_id and pr.id = i.profile_id
        offset 0
      ) pr
      cross join lateral (
        select s.id, s.first_seen_at, s.created_at from public.profiles s
        where s.org_id = p_org_id and s.id = pr.survivor
        offset 0
      ) s
    ) o;

    -- LIMITS: would the survivor hold too many identifiers of one type?
    select exists (
      select 1
      from (
        select i.type, i.value
        from unnest(coalesce(v_profiles, '{}')) pid
        cross join lateral (
          select i.type, i.value from public.identities i
          where i.org_id = p_org_id and i.profile_id = pid
          offset 0
        ) i
        union
        select x ->> 'type', x ->> 'value' from jsonb_array_elements(v_ids) x
      ) held
      group by held.type
      having count(*) > coalesce((p_limits ->> held.type)::int, (p_limits ->> '*')::int, 5)
    ) into v_violation;

    exit when not v_violation or jsonb_array_length(v_ids) <= 1;
    v_dropped := v_ids -> (jsonb_array_length(v_ids) - 1);
    v_ids := v_ids - (jsonb_array_length(v_ids) - 1);
    insert into public.identity_conflicts (org_id, message_id, type, value, profile_id, reason)
    values (p_org_id, p_message_id, v_dropped ->> 'type', v_dropped ->> 'value', v_profiles[1],
            'limit exceeded: identifier dropped and message matched again');
  end loop;

  if v_violation then
    -- A single identifier that still exceeds a limit (its profile is full): keep
    -- the profile it already belongs to, if any, and attach nothing new.
    v_ids := '[]'::jsonb;
  end if;

  -- TARGET
  if v_profiles is null then
    insert into public.profiles (org_id, first_seen_at, last_seen_at)
    values (p_org_id, p_at, p_at)
    returning id into v_target;
  else
    v_target := v_profiles[1];
    v_losers := v_profiles[2:];
  end if;

  -- MERGE the younger profiles into the oldest.
  if cardinality(v_losers) > 0 then
    foreach v_loser in array v_losers loop
      with moved as (
        update public.identities set profile_id = v_target
        where org_id = p_org_id and profile_id = v_loser
        returning id
      )
      select coalesce(array_agg(id), '{}') into v_moved from moved;
      update public.profiles set merged_into = v_target where org_id = p_org_id and id = v_loser;
      -- Profiles already merged into the loser now point at the survivor.
      update public.profiles set merged_into = v_target
      where org_id = p_org_id and merged_into = v_loser;
      v_moved_memberships := private.move_group_memberships(p_org_id, v_loser, v_target);
      insert into public.profile_merges (org_id, winner_id, loser_id, reason, message_id, moved_identity_ids,
                                         moved_memberships)
      values (p_org_id, v_target, v_loser,
              'identifiers of one message belonged to both profiles', p_message_id, v_moved,
              v_moved_memberships);
      perform private.fold_profile_into(p_org_id, v_loser, v_target);
    end loop;
  end if;

  -- ATTACH the identifiers the survivor does not hold yet.
  insert into public.identities as i (org_id, type, value, profile_id, source_id, first_seen_at, last_seen_at)
  select p_org_id, x ->> 'type', x ->> 'value', v_target, p_source_id, p_at, p_at
  from jsonb_array_elements(v_ids) x
  on conflict (org_id, type, value) do update
    set last_seen_at = greatest(i.last_seen_at, excluded.last_seen_at);
  if exists (select 1 from jsonb_array_elements(v_ids) x where x ->> 'type' in ('user_id', 'email')) then
    update public.profiles set identified = true
    where org_id = p_org_id and id = v_target and not identified;
  end if;
  return v_target;
end;
$$;

comment on function private.resolve_profile(uuid, jsonb, jsonb, uuid, timestamptz, text) is
  'Resolves normalized identifiers to one profile, merging or dropping identifiers per the organization''s limits.';

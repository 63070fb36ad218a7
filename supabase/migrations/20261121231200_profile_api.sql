-- Reading profiles for web clients with customers:read: search with keyset
-- pagination, one profile with its identities and latest events, and its
-- journey (touchpoints in order). Security invoker: RLS decides what is seen.

-- A survivor and every profile merged into it (directly or through a chain).
create function private.profile_lineage(p_org_id uuid, p_profile_id uuid)
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

create function private.survivor_of(p_org_id uuid, p_profile_id uuid)
returns uuid
language sql
stable
set search_path = ''
as $$
  select coalesce(p.merged_into, p.id) from public.profiles p
  where p.org_id = p_org_id and p.id = p_profile_id
$$;
grant execute on function private.survivor_of(uuid, uuid) to authenticated, service_role;

create function public.search_profiles(
  p_org_id uuid,
  p_email text default null,
  p_trait text default null,
  p_trait_value text default null,
  p_after_last_seen_at timestamptz default null,
  p_after_id uuid default null,
  p_limit int default 50
)
returns setof public.profiles
language plpgsql
stable
security invoker
set search_path = ''
as $$
begin
  -- VALIDATION
  perform private.require_permission(p_org_id, 'customers:read');
  if p_limit is null or p_limit not between 1 and 500 then
    raise exception 'limit must be between 1 and 500' using errcode = '22023', detail = 'field: limit';
  end if;
  if (p_trait is null) <> (p_trait_value is null) then
    raise exception 'trait and trait_value go together' using errcode = '22023', detail = 'field: trait';
  end if;
  if (p_after_last_seen_at is null) <> (p_after_id is null) then
    raise exception 'after_last_seen_at and after_id go together'
      using errcode = '22023', detail = 'field: after_id';
  end if;

  -- Newest activity first; pass the last row's (last_seen_at, id) for the next page.
  return query
  select p.* from public.profiles p
  where p.org_id = p_org_id
    and p.merged_into is null
    and (p_email is null or lower(p.email) like lower(p_email) || '%')
    and (p_trait is null or p.traits ->> p_trait = p_trait_value)
    and (p_after_id is null or (p.last_seen_at, p.id) < (p_after_last_seen_at, p_after_id))
  order by p.last_seen_at desc, p.id desc
  limit p_limit;
end;
$$;
comment on function public.search_profiles(uuid, text, text, text, timestamptz, uuid, int) is
  'Profiles by email prefix or trait value (customers:read), newest activity first, keyset pages.';
grant execute on function public.search_profiles(uuid, text, text, text, timestamptz, uuid, int)
  to authenticated, service_role;

create function public.get_profile(p_org_id uuid, p_profile_id uuid)
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  v_id uuid;
  v_profile public.profiles;
  v_lineage uuid[];
begin
  perform private.require_permission(p_org_id, 'customers:read');
  v_id := private.survivor_of(p_org_id, p_profile_id);
  select * into v_profile from public.profiles where org_id = p_org_id and id = v_id;
  if v_profile.id is null then
    raise exception 'profile not found' using errcode = 'P0002', detail = 'field: profile_id';
  end if;
  v_lineage := private.profile_lineage(p_org_id, v_id);
  return jsonb_build_object(
    'profile', to_jsonb(v_profile) || jsonb_build_object(
      'engagement_score_now', private.engagement_score(
        private.decayed_engagement(v_profile.engagement_raw, v_profile.engagement_at, now()))),
    'merged_profile_ids', to_jsonb(array_remove(v_lineage, v_id)),
    'identities', coalesce((
      select jsonb_agg(jsonb_build_object('type', i.type, 'value', i.value,
               'first_seen_at', i.first_seen_at, 'last_seen_at', i.last_seen_at)
             order by i.type, i.value)
      from public.identities i where i.org_id = p_org_id and i.profile_id = v_id), '[]'),
    'events', coalesce((
      select jsonb_agg(to_jsonb(e) - 'org_id' order by e.timestamp desc)
      from (
        select * from public.events e
        where e.org_id = p_org_id and e.profile_id = any (v_lineage)
          and e.timestamp >= v_profile.first_seen_at - interval '1 day'
        order by e.timestamp desc
        limit 100
      ) e), '[]'));
end;
$$;
comment on function public.get_profile(uuid, uuid) is
  'A profile (following merges to the survivor) with its identities and latest 100 events (customers:read).';
grant execute on function public.get_profile(uuid, uuid) to authenticated, service_role;

create function public.profile_journey(p_org_id uuid, p_profile_id uuid, p_limit int default 200)
returns table (
  occurred_at timestamptz, type text, event text, channel text, utm_source text,
  utm_medium text, utm_campaign text, page_url text, referrer text
)
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  v_id uuid;
  v_first timestamptz;
begin
  perform private.require_permission(p_org_id, 'customers:read');
  if p_limit is null or p_limit not between 1 and 1000 then
    raise exception 'limit must be between 1 and 1000' using errcode = '22023', detail = 'field: limit';
  end if;
  v_id := private.survivor_of(p_org_id, p_profile_id);
  select min(p.first_seen_at) into v_first from public.profiles p
  where p.org_id = p_org_id and p.id = any (private.profile_lineage(p_org_id, v_id));
  if v_first is null then
    raise exception 'profile not found' using errcode = 'P0002', detail = 'field: profile_id';
  end if;
  -- Touchpoints: events that say how the person arrived (a channel), oldest first.
  return query
  select e.timestamp, e.type, e.event, e.channel, e.utm_source, e.utm_medium, e.utm_campaign,
         e.context -> 'page' ->> 'url', e.context -> 'page' ->> 'referrer'
  from public.events e
  where e.org_id = p_org_id
    and e.profile_id = any (private.profile_lineage(p_org_id, v_id))
    and e.timestamp >= v_first - interval '1 day'
    and e.channel is not null
  order by e.timestamp
  limit p_limit;
end;
$$;
comment on function public.profile_journey(uuid, uuid, int) is
  'A profile''s touchpoints (events with a channel) in time order (customers:read).';
grant execute on function public.profile_journey(uuid, uuid, int) to authenticated, service_role;

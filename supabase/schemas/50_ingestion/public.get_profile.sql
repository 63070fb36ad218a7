-- One profile for web clients (customers:read): the survivor of the id given,
-- with its identities, groups, latest events and engagement score as of now.
-- Security invoker, so RLS decides what is seen; the private helpers it calls
-- are therefore granted to authenticated.
create or replace function public.get_profile(p_org_id uuid, p_profile_id uuid)
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
    raise exception 'profile not found' using errcode = 'PT404', detail = 'field: profile_id';
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
    'groups', coalesce((
      select jsonb_agg(jsonb_build_object('group_id', g.group_id, 'name', g.name, 'traits', g.traits,
               'first_seen_at', m.first_seen_at, 'last_seen_at', m.last_seen_at)
             order by g.group_id)
      from public.group_memberships m
      join public.groups g on g.org_id = m.org_id and g.group_id = m.group_id
      where m.org_id = p_org_id and m.profile_id = v_id), '[]'),
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

grant execute on function public.get_profile(uuid, uuid) to authenticated, service_role;

comment on function public.get_profile(uuid, uuid) is
  'A profile (following merges to the survivor) with its identities, groups and latest 100 events (customers:read).';

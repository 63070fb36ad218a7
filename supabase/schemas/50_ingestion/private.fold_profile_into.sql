-- Folds a merged profile's aggregates into its survivor (resolve_profile, at each
-- merge): counts, revenue and engagement add up; traits merge per key; seen
-- times, touches and contact fields keep one side. unmerge_profiles undoes it.
create or replace function private.fold_profile_into(p_org_id uuid, p_loser uuid, p_winner uuid)
returns void
language plpgsql
set search_path = ''
as $$
declare
  l public.profiles;
begin
  select * into l from public.profiles where org_id = p_org_id and id = p_loser;
  update public.profiles w set
    traits = t.merged -> 'traits',
    trait_timestamps = t.merged -> 'timestamps',
    first_seen_at = least(w.first_seen_at, l.first_seen_at),
    last_seen_at = greatest(w.last_seen_at, l.last_seen_at),
    first_touch = case when l.first_touch is not null and (w.first_touch is null
                    or (l.first_touch ->> 'at')::timestamptz < (w.first_touch ->> 'at')::timestamptz)
                    then l.first_touch else w.first_touch end,
    last_touch = case when l.last_touch is not null and (w.last_touch is null
                    or (l.last_touch ->> 'at')::timestamptz > (w.last_touch ->> 'at')::timestamptz)
                    then l.last_touch else w.last_touch end,
    event_count = w.event_count + l.event_count,
    event_counts = (select coalesce(jsonb_object_agg(k, n), '{}') from (
                      select k, sum(v::bigint) as n from (
                        select key as k, value as v from jsonb_each_text(w.event_counts)
                        union all
                        select key, value from jsonb_each_text(l.event_counts)) a group by k) s),
    revenue = w.revenue + l.revenue,
    engagement_raw = private.decayed_engagement(w.engagement_raw, w.engagement_at,
                       greatest(w.engagement_at, l.engagement_at))
                   + private.decayed_engagement(l.engagement_raw, l.engagement_at,
                       greatest(w.engagement_at, l.engagement_at)),
    engagement_at = greatest(w.engagement_at, l.engagement_at),
    identified = w.identified or l.identified,
    email = coalesce(w.email, l.email),
    phone = coalesce(w.phone, l.phone),
    name = coalesce(w.name, l.name)
  from (
    select private.merge_traits(w0.traits, w0.trait_timestamps, l.traits, l.trait_timestamps) as merged
    from public.profiles w0 where w0.org_id = p_org_id and w0.id = p_winner
  ) t
  where w.org_id = p_org_id and w.id = p_winner;
end;
$$;

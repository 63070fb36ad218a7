-- Profiles newest activity first, after the cursor: search_profiles' listing
-- (also by trait value, matched while walking). Full sorts are off here, so
-- the plan is the bucket index read backwards, sorted a bucket at a time,
-- whatever the organization's estimate: profiles.org_id is not analyzed, so
-- the planner may expect a page to scan a few dozen rows and rather read the
-- whole organization and sort it.
create or replace function private.profiles_by_recency(
  p_org_id uuid,
  p_trait text,
  p_trait_value text,
  p_after_last_seen_at timestamptz,
  p_after_id uuid,
  p_limit int
)
returns setof public.profiles
language plpgsql
stable
security invoker
set search_path = ''
-- planned for the values at hand, so a missing cursor or trait drops out and
-- the cursor's bucket bounds the index scan
set plan_cache_mode = force_custom_plan
set enable_sort = off
as $$
begin
  return query
  select p.* from public.profiles p
  where p.org_id = p_org_id
    and p.merged_into is null
    and (p_trait is null or p.traits ->> p_trait = p_trait_value)
    and (p_after_id is null
         or (p.last_seen_bucket <= private.last_seen_bucket(p_after_last_seen_at)
             and (p.last_seen_at, p.id) < (p_after_last_seen_at, p_after_id)))
  order by p.last_seen_bucket desc, p.last_seen_at desc, p.id desc
  limit p_limit;
end;
$$;

grant execute on function private.profiles_by_recency(uuid, text, text, timestamptz, uuid, int)
  to authenticated, service_role;

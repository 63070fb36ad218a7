-- Profiles for web clients (customers:read), newest activity first, in keyset
-- pages, by email prefix or trait value. The prefix is matched as typed (LIKE's
-- own characters escaped). Security invoker: RLS decides what is seen.
create or replace function public.search_profiles(
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
-- Planned per call: a rare prefix is best read from the email index, a common
-- one or a trait filter by walking the newest profiles to the page size; a
-- generic plan cannot see the prefix.
set plan_cache_mode = force_custom_plan
as $$
declare
  -- The typed prefix with LIKE's own characters escaped (backslash is LIKE's escape).
  v_pattern text := pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(
                      pg_catalog.lower(p_email), '\', '\\'), '%', '\%'), '_', '\_') || '%';
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

  -- Newest activity first; pass the last row's (last_seen_at, id) for the next
  -- page. The bucket goes first in the order and bounds the cursor's scan: it
  -- is what the index holds, and the same order (see last_seen_bucket).
  if p_email is null then
    return query
    select * from private.profiles_by_recency(p_org_id, p_trait, p_trait_value,
                                              p_after_last_seen_at, p_after_id, p_limit);
    return;
  end if;
  return query
  select p.* from public.profiles p
  where p.org_id = p_org_id
    and p.merged_into is null
    and p.email is not null and pg_catalog.lower(p.email) collate "C" like v_pattern
    and (p_trait is null or p.traits ->> p_trait = p_trait_value)
    and (p_after_id is null
         or (p.last_seen_bucket <= private.last_seen_bucket(p_after_last_seen_at)
             and (p.last_seen_at, p.id) < (p_after_last_seen_at, p_after_id)))
  order by p.last_seen_bucket desc, p.last_seen_at desc, p.id desc
  limit p_limit;
end;
$$;

grant execute on function public.search_profiles(uuid, text, text, text, timestamptz, uuid, int)
  to authenticated, service_role;

comment on function public.search_profiles(uuid, text, text, text, timestamptz, uuid, int) is
  'Profiles by email prefix (as typed, case-insensitive) or trait value (customers:read), newest activity first, keyset pages.';

-- The profile API for web clients (issue 4): get_profile could not run for
-- them, and search by email prefix was neither literal nor indexed.
--
-- 0. GET_PROFILE reports the engagement score as of now, through two private
--    helpers never granted to members, so every call from a user session
--    failed with "permission denied for function engagement_score". (Tests
--    called it only as a member of another organization, refused earlier.)
-- 1. LITERAL. search_profiles matched lower(email) LIKE p_email || '%', so the
--    '_' and '%' a user typed were wildcards: "ann_" found "annx@...", and "%"
--    every profile. The prefix is now escaped and matched as typed.
-- 2. INDEXED. A LIKE prefix can use a b-tree only under the C collation (or a
--    pattern operator class), not under the database's own (C.UTF-8 here, a
--    linguistic one on hosted projects). The email index served only the
--    organization's key, so each search read every email entry of the
--    organization: 31 ms for 7,000 profiles here, so seconds for a million.
--    The index now sorts lower(email) under "C", which turns a prefix into a
--    range. It is rebuilt in this migration's transaction, so ingestion waits
--    for the build (0.2 s for 430,000 profiles, 17,000 with an email, here).
-- 3. PLANNED PER CALL. The best plan depends on the values: a rare prefix reads
--    the email range, a common one or a trait filter walks the newest profiles
--    and stops at the page size. A generic plan cannot see the prefix at all.

grant execute on function private.engagement_score(double precision),
  private.decayed_engagement(double precision, timestamptz, timestamptz)
  to authenticated, service_role;

drop index public.profiles_org_email_idx;
create index profiles_org_email_idx on public.profiles (org_id, (lower(email) collate "C"))
  where merged_into is null and email is not null;

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

  -- Newest activity first; pass the last row's (last_seen_at, id) for the next page.
  return query
  select p.* from public.profiles p
  where p.org_id = p_org_id
    and p.merged_into is null
    and (p_email is null or (p.email is not null and pg_catalog.lower(p.email) collate "C" like v_pattern))
    and (p_trait is null or p.traits ->> p_trait = p_trait_value)
    and (p_after_id is null or (p.last_seen_at, p.id) < (p_after_last_seen_at, p_after_id))
  order by p.last_seen_at desc, p.id desc
  limit p_limit;
end;
$$;
comment on function public.search_profiles(uuid, text, text, text, timestamptz, uuid, int) is
  'Profiles by email prefix (as typed, case-insensitive) or trait value (customers:read), newest activity first, keyset pages.';

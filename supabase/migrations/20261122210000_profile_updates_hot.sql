-- Profiles (issue 4): ingestion's update of a profile is a HOT update, which
-- writes no index entry, instead of one that adds an entry to every index.
--
-- Every batch updates the profile of each event: last_seen_at, counts,
-- engagement. last_seen_at was indexed (profiles_org_last_seen_idx, for
-- search_profiles' newest-first pages), so Postgres could not update in
-- place on the page (HOT): each update wrote a new row version elsewhere and
-- an entry for it into the primary key (a random uuid, a random leaf page),
-- the email index and the last-seen index: about one profile per event.
--
-- Now the index holds last_seen_at rounded down to 15 minutes
-- (last_seen_bucket, a stored generated column), which changes once per
-- quarter hour a profile is active, not on each of its batches. Postgres
-- decides HOT by comparing the indexed values of the old and new row, so an
-- update inside the bucket is HOT when its page has room, which fillfactor 70
-- keeps. `npm run bench -- ingest_instructions`: 82.3 M instructions a batch
-- before, 79.5 M with this migration (78.0 M with no last-seen index at all:
-- new profiles still enter the bucket index, and the column is computed). In
-- `npm run bench -- ingest`, 93-95% of profile updates are HOT (1-2% before),
-- and WAL an event falls from 2.13-2.25 to 1.97-2.08 kB (visits phase) and
-- from 2.23-2.30 to 2.13-2.21 kB (the earlier draw).
--
-- search_profiles keeps its order (last_seen_at desc, id desc) and its cursor.
-- The bucket never goes down as last_seen_at goes up, so ordering by the
-- bucket first changes nothing, and a page is the index read backwards from the
-- cursor's bucket, each bucket's rows sorted as they come (an incremental
-- sort of one bucket's profiles, not of the organization's). The planner
-- estimates an organization at 0.5% of the table (profiles.org_id is not
-- analyzed, see 20261122000300), so it can expect a page's scan to find a few
-- dozen rows and rather read all of them and sort them whole: it did so for
-- an organization of 5,000 profiles, and of 20,000, alone in the table. The
-- listing query therefore runs with enable_sort off, which leaves it the
-- index walk. An email prefix keeps its own query: there the email index and
-- a sort of the matches is the plan to want.
--
-- The ALTER rewrites profiles once, under an exclusive lock, which also packs
-- every existing page to the new fillfactor.

-- The bucket's width in one place: the column and search_profiles' cursor.
-- Immutable (date_bin on timestamptz does not depend on the time zone), as a
-- generated column requires.
create function private.last_seen_bucket(p_at timestamptz)
returns timestamptz
language sql
immutable
parallel safe
return pg_catalog.date_bin('15 minutes', p_at, timestamptz '2000-01-01 00:00:00+00');
-- Evaluated as whoever writes a profile or searches them.
grant execute on function private.last_seen_bucket(timestamptz) to authenticated, service_role;

alter table public.profiles
  set (fillfactor = 70),
  add column last_seen_bucket timestamptz not null
    generated always as (private.last_seen_bucket(last_seen_at)) stored;
comment on column public.profiles.last_seen_bucket is
  'last_seen_at rounded down to 15 minutes, the indexed order of search_profiles: it changes rarely, so ingestion''s updates stay HOT.';

drop index public.profiles_org_last_seen_idx;
create index profiles_org_last_seen_bucket_idx on public.profiles (org_id, last_seen_bucket)
  where merged_into is null;

-- Profiles newest activity first, after the cursor: search_profiles' listing
-- (also by trait value, matched while walking). Full sorts are off here, so
-- the plan is the bucket index read backwards, sorted a bucket at a time,
-- whatever the organization's estimate (see above).
create function private.profiles_by_recency(
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

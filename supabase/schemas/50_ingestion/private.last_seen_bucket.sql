-- last_seen_at rounded down to 15 minutes: profiles.last_seen_bucket, the
-- indexed order of search_profiles. Indexing the bucket rather than
-- last_seen_at, which every event moves, keeps ingestion's profile updates HOT.
-- The bucket's width in one place: the column and search_profiles' cursor.
-- Immutable (date_bin on timestamptz does not depend on the time zone), as a
-- generated column requires.
create or replace function private.last_seen_bucket(p_at timestamptz)
returns timestamptz
language sql
immutable
parallel safe
return pg_catalog.date_bin('15 minutes', p_at, timestamptz '2000-01-01 00:00:00+00');

-- Evaluated as whoever writes a profile or searches them.
grant execute on function private.last_seen_bucket(timestamptz) to authenticated, service_role;

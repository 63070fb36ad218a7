-- Profiles (issue 4): the last-seen index ascends, so each profile a batch
-- touches appends to the end of its organization's range instead of the
-- front, and search_profiles reads it in the order it asks for.
--
-- profiles_org_last_seen_idx was (org_id, last_seen_at DESC, id). Ingestion
-- moves a profile's last_seen_at to about now on every event, and the update
-- cannot be HOT (the column is indexed), so each one adds an entry that sorts
-- first in the organization's range. Ascending, new entries land at the end
-- of the range instead (and, for the organization whose range ends the index,
-- Postgres's rightmost-leaf fast path skips the descent from the root). Both
-- built empty side by side, after the 340 batches of the ingest workload from
-- four sessions at once: 375 pages descending, 345 ascending. The
-- instructions a batch are the same (`npm run bench -- ingest_instructions`:
-- 82.4 M, 82.3 M).
--
-- search_profiles orders by last_seen_at DESC, id DESC and pages by
-- (last_seen_at, id) < (the last row's). The old index matched the first key
-- only (its id ascended), so each page went through an incremental sort (79
-- rows read for a page of 50 in the case above). Read backwards, the new one
-- gives that order as it stands. Behaviour is unchanged;
-- supabase/tests/ingestion/profile_api.test.sql still holds, and now checks
-- that plan (it fails with the descending index).
drop index public.profiles_org_last_seen_idx;
create index profiles_org_last_seen_idx on public.profiles (org_id, last_seen_at, id)
  where merged_into is null;

-- Ingestion (issue 4): private.is_blocked_identifier trims and lower-cases a
-- value once, not four times.
--
-- It runs twice for every identifier of every message (on the value as sent
-- and as normalized), inlined into the batch's statements. Each of its tests
-- trimmed the value again, and two lower-cased it again: 1,766 calls of btrim a
-- batch, 1.8% of the instructions `npm run bench -- ingest_instructions`
-- counts, with lower and the list comparisons another 2%. Now the value is
-- trimmed and lower-cased once and compared with one list (the built-in
-- values, the empty string among them, then the organization's); the
-- all-zeros-or-dashes test allows the surrounding spaces btrim would have
-- removed instead of trimming. The bench: 92.0-92.3 M instructions a batch
-- before, 91.1 M after.
--
-- The same answers as before: supabase/tests/ingestion/blocked_identifiers.test.sql
-- compares it with the previous definition over values at each rule's edges.

create or replace function private.is_blocked_identifier(p_value text, p_extra text[] default '{}')
returns boolean
language sql
immutable
-- No SET search_path: inlined into every ingested row (see 20261121231100).
as $$
  select p_value is null
      or pg_catalog.lower(pg_catalog.btrim(p_value)) = any (
           array['', 'null', 'undefined', 'anonymous', 'guest', '0', '-1', '[object object]', 'none',
                 'nan', 'unknown']
           || coalesce(p_extra, '{}'))
      or p_value ~ '^ *[0-]+ *$'                    -- all zeros or dashes, e.g. 00000000-0000-...
$$;

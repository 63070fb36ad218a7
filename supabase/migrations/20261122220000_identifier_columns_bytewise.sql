-- Ingestion (issue 4): identifiers and message ids compare bytewise.
--
-- Every batch probes and extends two b-trees keyed by identifier text: the
-- identities' (org_id, type, value) for each identifier it resolves and adds,
-- and the dedupe table's (org_id, source_id, message_id, received_day) for each
-- message. Under the database's collation each comparison went through
-- varstr_cmp's locale path (a collation lookup and strcoll), about 10,000
-- comparisons a batch, 3.4% of its instructions. With COLLATE "C" they are a
-- memcmp. `npm run bench -- ingest_instructions`: 79.5 M -> 78.4 M a batch.
--
-- Nothing reads these values in a linguistic order: they are ids, matched for
-- equality (the same under either collation, both being deterministic). Where
-- they are listed in order (a profile's identities), the order becomes byte
-- order, which is the order of the local stack's C.UTF-8 already. Comparisons
-- with other text take the column's collation, so every query keeps its index.
--
-- Only the collation changes, so the tables are not rewritten; the indexes on
-- these columns are rebuilt, under the ALTER's exclusive lock.
alter table public.identities
  alter column type type text collate "C",
  alter column value type text collate "C";
alter table private.ingested_messages
  alter column message_id type text collate "C";

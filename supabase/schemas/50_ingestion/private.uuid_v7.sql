-- Time-ordered ids for profiles and identities (RFC 9562 UUIDv7; Postgres 15
-- has no uuidv7()): each new key lands at the right edge of its index instead
-- of on a random leaf, so a growing organization does not touch a cold page per
-- insert.
create or replace function private.uuid_v7()
returns uuid
language sql
volatile
-- No SET search_path: it would stop the planner inlining the body into each
-- column default and call site (otherwise each call is parsed and planned
-- again). The pin would protect nothing: every function in it is
-- schema-qualified, and it runs with its caller's rights.
-- supabase/tests/ingestion/uuid_v7.test.sql checks that it is inlined;
-- foundation/platform.test.sql exempts it from the search_path rule.
as $$
  -- 48 bits of Unix milliseconds over gen_random_uuid()'s bytes, and the
  -- version nibble turned from 4 (0100) to 7 (0111); the variant bits stay.
  select pg_catalog.encode(
    pg_catalog.set_bit(pg_catalog.set_bit(
      overlay(pg_catalog.uuid_send(pg_catalog.gen_random_uuid())
        placing substring(pg_catalog.int8send(
          pg_catalog.floor(pg_catalog.date_part('epoch', pg_catalog.clock_timestamp()) * 1000)::bigint)
          from 3)
        from 1 for 6),
      52, 1), 53, 1), 'hex')::uuid
$$;

comment on function private.uuid_v7() is
  'A UUIDv7 (RFC 9562): Unix milliseconds then random bits, so new keys sort after older ones.';

grant execute on function private.uuid_v7() to service_role;

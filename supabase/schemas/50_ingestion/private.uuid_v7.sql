create or replace function private.uuid_v7()
returns uuid
language sql
volatile
-- No SET search_path: it would stop the inlining this function exists for
-- (see supabase/tests/foundation/platform.test.sql, which names it).
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

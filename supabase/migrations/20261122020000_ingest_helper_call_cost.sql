-- Ingestion: what two SQL helpers cost per call (issue 4).
--
-- Postgres 15 runs a SQL function it does not inline by parsing, analyzing and
-- planning its body again in every execution of a statement that calls it,
-- then starting an executor for each call. Two helpers on the ingestion path
-- paid that (pg_stat_user_functions, and perf on the backends under load):
--
-- 1. private.uuid_v7, the default of profiles.id and identities.id: about 190
--    calls per batch of 100 fresh visitors. Its SET search_path is what kept
--    the planner from inlining it. Every function in it is schema-qualified
--    (the overlay/substring syntax resolves to pg_catalog's), and it runs with
--    its caller's rights, so the pin protected nothing a caller could not
--    already do. Without it, the body is inlined into each column default
--    and each call site: an INSERT of 3 identities went from 59 to 17 us, and
--    an id from 5.9 to 1.9 us (micro-benchmarks, same session). It also reads
--    the clock as double precision (date_part), not numeric (extract).
-- 2. private.merge_traits (an aggregate over the trait keys, which cannot be
--    inlined) is now plpgsql, whose plan is cached for the session: 124 to
--    30 us per call from a statement of its own, as resolve_profile calls it.
--
-- Behaviour is unchanged; supabase/tests/ingestion/uuid_v7.test.sql checks that
-- the default is inlined.

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

create or replace function private.merge_traits(
  p_traits jsonb, p_stamps jsonb, p_new_traits jsonb, p_new_stamps jsonb
)
returns jsonb
language plpgsql
immutable
set search_path = ''
as $$
begin
  return (
    with keys as (
      select k from jsonb_object_keys(coalesce(p_stamps, '{}') || coalesce(p_new_stamps, '{}')) k
    ), chosen as (
      select k,
        case when (p_new_stamps ->> k) is not null
                  and ((p_stamps ->> k) is null or (p_new_stamps ->> k) >= (p_stamps ->> k))
             then 'new' else 'old' end as side
      from keys
    )
    select jsonb_build_object(
      'traits', coalesce(jsonb_object_agg(c.k,
                  case when c.side = 'new' then p_new_traits -> c.k else p_traits -> c.k end)
                  filter (where (case when c.side = 'new' then p_new_traits ? c.k else p_traits ? c.k end)),
                  '{}'),
      'timestamps', coalesce(jsonb_object_agg(c.k,
                  case when c.side = 'new' then p_new_stamps -> c.k else p_stamps -> c.k end), '{}'))
    from chosen c
  );
end;
$$;

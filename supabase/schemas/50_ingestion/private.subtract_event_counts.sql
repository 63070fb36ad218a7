-- Event counts per type less those taken out (unmerge_profiles: the merged
-- profile's counts, and those of the events that go back to it).
create or replace function private.subtract_event_counts(p_counts jsonb, p_taken jsonb)
returns jsonb
language sql
immutable
-- Every name is schema-qualified, so it needs no SET search_path (which would
-- save and restore the setting on every call).
as $$
  select coalesce(pg_catalog.jsonb_object_agg(c.key, c.n), '{}')
  from (select e.key, e.value::bigint - coalesce((p_taken ->> e.key)::bigint, 0) as n
        from pg_catalog.jsonb_each_text(p_counts) e) c
  where c.n > 0
$$;

comment on function private.subtract_event_counts(jsonb, jsonb) is
  'Event counts per message type less other counts; types that reach 0 are left out.';

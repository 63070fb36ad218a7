-- The number-valued entries of a settings object, the rest dropped (with
-- p_whole, only whole numbers an int holds): what ingestion reads settings
-- through, so that a value it cannot use (written before settings were
-- checked, or by a superuser around the checks) falls back to the default
-- instead of failing every batch of the organization on a cast.
create or replace function private.usable_numbers(p_object jsonb, p_whole boolean default false)
returns jsonb
language sql
immutable
parallel safe
set search_path = ''
as $$
  select coalesce(pg_catalog.jsonb_object_agg(e.key, e.value), '{}')
  from pg_catalog.jsonb_each(case when pg_catalog.jsonb_typeof(p_object) = 'object'
                                  then p_object else '{}' end) e
  where pg_catalog.jsonb_typeof(e.value) = 'number'
    and (not p_whole or ((e.value #>> '{}')::numeric between 0 and 1000000
                         and (e.value #>> '{}')::numeric = pg_catalog.trunc((e.value #>> '{}')::numeric)))
$$;

comment on function private.usable_numbers(jsonb, boolean) is
  'The number-valued entries of a JSON object (whole ones only with p_whole), others dropped: settings ingestion must never fail on.';

grant execute on function private.usable_numbers(jsonb, boolean) to authenticated, service_role;

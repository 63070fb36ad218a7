-- Name from traits: name, else first and last name (camelCase or snake_case)
-- joined as concat_ws(' ', ...) would; concat_ws is only stable, and a stable
-- body would keep this helper from being inlined.
create or replace function private.name_from_traits(p_traits jsonb)
returns text
language sql
immutable
-- No SET search_path, so the planner can inline it into the profile fold: it
-- names only pg_catalog objects, which are searched first.
as $$
  select coalesce(p_traits ->> 'name',
                  nullif(pg_catalog.btrim(pg_catalog.substr(
                    coalesce(' ' || (p_traits ->> 'firstName'), '')
                    || coalesce(' ' || (p_traits ->> 'lastName'), '')
                    || coalesce(' ' || (p_traits ->> 'first_name'), '')
                    || coalesce(' ' || (p_traits ->> 'last_name'), ''), 2)), ''))
$$;

comment on function private.name_from_traits(jsonb) is
  'A display name from traits: name, else first and last name joined.';

grant execute on function private.name_from_traits(jsonb) to service_role;

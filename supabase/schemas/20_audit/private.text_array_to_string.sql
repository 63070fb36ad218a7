-- array_to_string is only STABLE (it can format any element type); for text[]
-- it is immutable, which the generated search column needs. No SET search_path:
-- that would stop the planner inlining it into every audit insert, and the body
-- names its one function by schema.
create or replace function private.text_array_to_string(p_values text[], p_separator text)
returns text
language sql
immutable
parallel safe
as $$
  select pg_catalog.array_to_string(p_values, p_separator)
$$;

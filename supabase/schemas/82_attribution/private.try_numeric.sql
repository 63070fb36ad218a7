-- A finite number from text, or null when it is not one.
create or replace function private.try_numeric(p_value text)
returns numeric
language sql
immutable
set search_path = ''
as $$
  select case when p_value ~ '^\s*-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d{1,3})?\s*$' then p_value::numeric end
$$;

comment on function private.try_numeric(text) is 'A finite decimal number, or null when the text is not one.';

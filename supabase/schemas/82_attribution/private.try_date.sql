-- A date from text, or null when it is not one (2026-02-30 included): bad
-- rows of a batch are reported, not allowed to abort it.
create or replace function private.try_date(p_value text)
returns date
language plpgsql
immutable
set search_path = ''
as $$
begin
  if p_value is null or p_value !~ '^\d{4}-\d{2}-\d{2}$' then
    return null;
  end if;
  return p_value::date;
exception when others then
  return null;
end;
$$;

comment on function private.try_date(text) is 'A YYYY-MM-DD date, or null when the text is not a valid one.';

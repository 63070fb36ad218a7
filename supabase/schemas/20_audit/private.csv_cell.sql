-- Audit rows carry values a caller chose (user agents, request ids, details),
-- and auditors open exports in spreadsheets, which run a cell that begins with
-- =, +, -, @, a tab or a carriage return as a formula (=HYPERLINK(...)). OWASP's
-- advice for CSV injection: prefix such a cell with a single quote, so the
-- spreadsheet shows it as text. Applied to the text columns of a CSV export.
create or replace function private.csv_cell(p_value text)
returns text
language sql
immutable
parallel safe
set search_path = ''
as $$
  select case when p_value ~ '^[=+\-@\t\r]' then '''' || p_value else p_value end
$$;

comment on function private.csv_cell(text) is
  'A text value made safe for a CSV cell opened in a spreadsheet: a leading =, +, -, @, tab or CR is prefixed with a quote (OWASP CSV injection).';

grant execute on function private.csv_cell(text) to authenticated, service_role;

-- Values that never identify anyone, whatever a buggy SDK sends. It runs twice
-- for every identifier (as sent and as normalized), so the value is trimmed
-- and lower-cased once and compared with one list (the built-in values, the
-- empty string among them, then the organization's); the zeros-or-dashes test
-- allows the spaces a trim would remove. blocked_identifiers.test.sql checks
-- values at each rule's edges.
create or replace function private.is_blocked_identifier(p_value text, p_extra text[] default '{}')
returns boolean
language sql
immutable
-- No SET search_path, so the planner can inline it into every ingested row: it
-- names only pg_catalog objects, which are searched first.
as $$
  select p_value is null
      or pg_catalog.lower(pg_catalog.btrim(p_value)) = any (
           array['', 'null', 'undefined', 'anonymous', 'guest', '0', '-1', '[object object]', 'none',
                 'nan', 'unknown']
           || coalesce(p_extra, '{}'))
      or p_value ~ '^ *[0-]+ *$'                    -- all zeros or dashes, e.g. 00000000-0000-...
$$;

comment on function private.is_blocked_identifier(text, text[]) is
  'Whether a value is blocked from identifying anyone (null, undefined, anonymous, guest, 0, -1, [object Object], all-zero or dash-only ids, empty, or per-org additions).';

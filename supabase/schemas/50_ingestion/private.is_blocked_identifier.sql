create or replace function private.is_blocked_identifier(p_value text, p_extra text[] default '{}')
returns boolean
language sql
immutable
-- No SET search_path: inlined into every ingested row (see 20261121231100).
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

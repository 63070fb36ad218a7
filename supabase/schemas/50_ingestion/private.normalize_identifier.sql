create or replace function private.normalize_identifier(p_type text, p_value text, p_fold_gmail boolean default false)
returns text
language sql
immutable
-- No SET search_path, so the planner can inline it into every ingested row: it
-- names only pg_catalog objects, which are searched first.
-- One expression, no FROM, so it inlines; emails must look like a@b.
as $$
  select case
    when p_type = 'email' then
      case
        when pg_catalog.lower(pg_catalog.btrim(p_value)) !~ '^[^@\s]+@[^@\s]+$' then null
        when p_fold_gmail
             and pg_catalog.split_part(pg_catalog.lower(pg_catalog.btrim(p_value)), '@', 2)
                 in ('gmail.com', 'googlemail.com')
          then pg_catalog.replace(pg_catalog.split_part(pg_catalog.split_part(
                 pg_catalog.lower(pg_catalog.btrim(p_value)), '@', 1), '+', 1), '.', '') || '@gmail.com'
        else pg_catalog.lower(pg_catalog.btrim(p_value))
      end
    when p_type = 'phone' then
      -- E.164: '+' and digits; a leading international 00 counts as '+'.
      case
        when pg_catalog.regexp_replace(pg_catalog.regexp_replace(pg_catalog.btrim(p_value), '^00', ''),
               '[^0-9]', '', 'g') ~ '^[0-9]{6,15}$'
          then '+' || pg_catalog.regexp_replace(pg_catalog.regexp_replace(pg_catalog.btrim(p_value), '^00', ''),
               '[^0-9]', '', 'g')
      end
    else pg_catalog.left(pg_catalog.btrim(p_value), 512)
  end
$$;

comment on function private.normalize_identifier(text, text, boolean) is
  'Normal form of an identifier: emails lower-cased and trimmed (optionally Gmail dot/plus folded), phones to +digits (E.164), others trimmed.';

-- Whether an endpoint's event-type filter takes a type: '*' takes all, an
-- exact type itself, and 'profile.*' every type that starts with 'profile.'.
create or replace function private.webhook_type_matches(p_patterns text[], p_type text)
returns boolean
language sql
immutable
parallel safe
set search_path = ''
as $$
  select exists (
    select 1 from pg_catalog.unnest(p_patterns) p
    where p = '*' or p = p_type
       or (p like '%.*' and pg_catalog.starts_with(p_type, pg_catalog.left(p, -1))))
$$;

comment on function private.webhook_type_matches(text[], text) is
  'Whether an event type matches an endpoint''s filter: *, the exact type, or a prefix wildcard like profile.*.';

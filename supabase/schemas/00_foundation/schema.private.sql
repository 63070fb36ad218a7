-- Helpers (RLS predicates, triggers, security definer functions) and internal
-- tables. Not in PostgREST's exposed schemas, so clients cannot call into it.
create schema if not exists private;

comment on schema private is
  'Internal helpers and tables; not exposed through the API. Functions here pin search_path.';

revoke all on schema private from public;

-- RLS policies run as the caller's role, so that role must reach the helpers
-- they call; each helper still grants EXECUTE explicitly.
grant usage on schema private to authenticated, service_role;

-- Foundation: the schemas every capability builds on and the grant defaults that
-- make every later `create function` explicit about who may call it.

-- DEFAULT PRIVILEGES ------------------------------------------------------------
-- Postgres grants EXECUTE on new functions to PUBLIC, and Supabase adds anon,
-- authenticated and service_role in schema public. We revoke both so each function
-- states its callers with its own `grant execute` (basejump does the same).
-- PUBLIC's grant is a global default: a per-schema default can only add to it,
-- so it is revoked without `in schema`.
alter default privileges revoke execute on functions from public;
alter default privileges in schema public
  revoke execute on functions from anon, authenticated, service_role;

-- PRIVATE -------------------------------------------------------------------------
-- Helpers (RLS predicates, triggers, security definer functions) and internal
-- tables. Not in PostgREST's exposed schemas, so clients cannot call into it.
create schema if not exists private;
comment on schema private is
  'Internal helpers and tables; not exposed through the API. Functions here pin search_path.';
revoke all on schema private from public;
-- RLS policies run as the caller's role, so that role must reach the helpers
-- they call; each helper still grants EXECUTE explicitly.
grant usage on schema private to authenticated, service_role;

-- ANALYTICS -----------------------------------------------------------------------
create schema if not exists analytics;
comment on schema analytics is
  'Read-only views for analysts (security_invoker, so RLS of the underlying tables applies).';
revoke all on schema analytics from public;

-- SHARED TRIGGERS -----------------------------------------------------------------
create function private.set_updated_at()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_at := now();
  return new;
end;
$$;
comment on function private.set_updated_at() is
  'Trigger: stamps updated_at on every UPDATE so clients cannot forge it.';

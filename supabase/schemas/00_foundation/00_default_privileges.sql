-- DEFAULT PRIVILEGES ------------------------------------------------------------
-- Postgres grants EXECUTE on new functions to PUBLIC, and Supabase adds anon,
-- authenticated and service_role in schema public. We revoke both so each function
-- states its callers with its own `grant execute` (basejump does the same).
-- PUBLIC's grant is a global default: a per-schema default can only add to it,
-- so it is revoked without `in schema`.
alter default privileges revoke execute on functions from public;

alter default privileges in schema public
  revoke execute on functions from anon, authenticated, service_role;

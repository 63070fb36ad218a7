-- No new function is callable until its own `grant execute` says by whom
-- (basejump does the same). Postgres grants EXECUTE on new functions to PUBLIC,
-- and Supabase adds anon, authenticated and service_role in schema public; both
-- are revoked. PUBLIC's grant is a global default: a per-schema default can
-- only add to it, so it is revoked without `in schema`.
alter default privileges revoke execute on functions from public;

alter default privileges in schema public
  revoke execute on functions from anon, authenticated, service_role;

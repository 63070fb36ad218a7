-- Deletes replay records whose messages have expired (each would be refused
-- for its age anyway).
create or replace function private.sweep_sso_used_assertions()
returns int
language sql
security definer
set search_path = ''
as $$
  with gone as (delete from private.sso_used_assertions u where u.expires_at < now() returning 1)
  select count(*)::int from gone
$$;

comment on function private.sweep_sso_used_assertions() is
  'Deletes expired SSO replay records; run every 10 minutes by pg_cron.';

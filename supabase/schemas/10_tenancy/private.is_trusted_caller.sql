-- Server-side callers: the service role, or the database owner that edge
-- functions and pg_cron connect as. The SET ROLE in force wins over the login.
-- PL/pgSQL, not SQL: a SQL function with a SET clause is never inlined and is
-- planned again on every call, while PL/pgSQL keeps its plan for the
-- connection. append_audit reaches it (through api_key_principal) for each
-- row audited without a user session, such as every merge ingestion makes.
create or replace function private.is_trusted_caller()
returns boolean
language plpgsql
stable
set search_path = ''
as $$
begin
  return coalesce(nullif(current_setting('role', true), 'none'), current_user::text)
         in ('service_role', 'postgres');
end;
$$;

comment on function private.is_trusted_caller() is
  'Whether the caller acts as service_role or the database owner (server side), never a user session.';

grant execute on function private.is_trusted_caller() to authenticated, service_role;

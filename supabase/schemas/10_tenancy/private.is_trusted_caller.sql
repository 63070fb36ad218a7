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

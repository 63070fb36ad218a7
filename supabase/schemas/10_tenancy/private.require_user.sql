create or replace function private.require_user()
returns uuid
language plpgsql
stable
set search_path = ''
as $$
declare
  v_uid uuid := auth.uid();
begin
  if v_uid is null then
    raise exception 'this action requires a signed-in user' using errcode = '42501';
  end if;
  return v_uid;
end;
$$;

grant execute on function private.require_user() to authenticated, service_role;

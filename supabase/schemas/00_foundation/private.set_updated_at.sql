-- The shared BEFORE UPDATE trigger behind tables' updated_at columns.
create or replace function private.set_updated_at()
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

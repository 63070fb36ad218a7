-- Trigger on organization_members (after update, delete): an organization keeps
-- an active owner. Checked after the change, so role swaps within one statement
-- work.
create or replace function private.ensure_an_owner_remains()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if exists (select 1 from public.organizations where id = old.org_id)
     and not exists (select 1 from public.organization_members
                     where org_id = old.org_id and role = 'owner' and status = 'active')
  then
    raise exception 'an organization must keep at least one active owner'
      using errcode = '23514', hint = 'Make another member an owner first.';
  end if;
  return null;
end;
$$;

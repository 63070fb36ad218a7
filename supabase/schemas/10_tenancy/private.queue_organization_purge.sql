-- Trigger on organizations: a deleted organization's remaining rows are queued
-- for removal (see private.organization_purges).
create or replace function private.queue_organization_purge()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into private.organization_purges (org_id) values (old.id)
  on conflict (org_id) do nothing;
  return null;
end;
$$;

comment on function private.queue_organization_purge() is
  'Trigger: queues a deleted organization for private.purge_deleted_organizations.';

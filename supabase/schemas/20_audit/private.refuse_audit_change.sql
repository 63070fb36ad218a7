-- Trigger on audit_log: rows are never updated or truncated, and deleted only
-- when their organization is gone (private.purge_deleted_organizations removes
-- everything a deleted organization owned); otherwise they leave only when
-- retention drops their partition.
create or replace function private.refuse_audit_change()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_op = 'DELETE' and not exists (
    select 1 from public.organizations o where o.id = old.org_id
  ) then
    return old;
  end if;
  raise exception 'audit_log is append-only: % is not allowed', tg_op
    using errcode = '42501', hint = 'Rows leave only when retention drops their partition.';
end;
$$;

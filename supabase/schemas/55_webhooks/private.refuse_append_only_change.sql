-- The trigger for append-only tables (audit_log keeps its own, older copy):
-- the message names the table. A row whose organization is gone may be
-- deleted: private.purge_deleted_organizations removes everything a deleted
-- organization owned. Every table it guards has an org_id.
create or replace function private.refuse_append_only_change()
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
  raise exception '% is append-only: % is not allowed', tg_table_name, tg_op
    using errcode = '42501', hint = 'Rows leave only when retention drops their partition.';
end;
$$;

comment on function private.refuse_append_only_change() is
  'Trigger: refuses UPDATE, DELETE and TRUNCATE on an append-only table, but for the rows of a deleted organization.';

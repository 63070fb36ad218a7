-- The trigger for append-only tables (audit_log keeps its own, older copy):
-- the message names the table.
create or replace function private.refuse_append_only_change()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  raise exception '% is append-only: % is not allowed', tg_table_name, tg_op
    using errcode = '42501', hint = 'Rows leave only when retention drops their partition.';
end;
$$;

comment on function private.refuse_append_only_change() is
  'Trigger: refuses UPDATE, DELETE and TRUNCATE on an append-only table.';

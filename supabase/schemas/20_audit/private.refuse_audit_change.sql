-- Trigger on audit_log: rows are never updated, deleted or truncated; they leave
-- only when retention drops their partition.
create or replace function private.refuse_audit_change()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  raise exception 'audit_log is append-only: % is not allowed', tg_op
    using errcode = '42501', hint = 'Rows leave only when retention drops their partition.';
end;
$$;

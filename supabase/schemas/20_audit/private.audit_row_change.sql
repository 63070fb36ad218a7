-- The generic audit trigger. Attach to any tenant table:
--   audit_row_change(org column, id column, base risk [, 'ignored,columns'])
-- The action is <table>.<insert|update|delete>; deletes count one risk level up.
-- An update that changes only ignored columns (and updated_at) is not audited.
create or replace function private.audit_row_change()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_org_column text := tg_argv[0];
  v_id_column text := tg_argv[1];
  v_risk public.audit_risk := coalesce(tg_argv[2], 'low')::public.audit_risk;
  v_old jsonb := case when tg_op <> 'INSERT' then to_jsonb(old) end;
  v_new jsonb := case when tg_op <> 'DELETE' then to_jsonb(new) end;
  v_row jsonb := coalesce(v_new, v_old);
  v_org_id uuid := (v_row ->> v_org_column)::uuid;
  v_ignored text[] := string_to_array(coalesce(tg_argv[3], ''), ',') || array['updated_at'];
begin
  if tg_op = 'UPDATE' and (v_old - v_ignored) = (v_new - v_ignored) then
    return null;
  end if;
  if tg_op = 'DELETE' then
    v_risk := (enum_range(v_risk, null))[least(2, array_length(enum_range(v_risk, null), 1))];
  end if;
  -- Role changes are what an attacker escalates with.
  if tg_table_name = 'organization_members' and tg_op = 'UPDATE'
     and v_old ->> 'role' is distinct from v_new ->> 'role' then
    v_risk := 'high';
  end if;
  perform private.append_audit(
    v_org_id,
    tg_table_name || '.' || lower(tg_op),
    tg_table_name,
    v_row ->> v_id_column,
    v_old,
    v_new,
    v_risk);
  return null;
end;
$$;

comment on function private.audit_row_change() is
  'Trigger: writes an audit row for each insert, update and delete. Args: org column, id column, base risk, ignored columns.';

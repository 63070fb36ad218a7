-- Checks the audit chain against a checkpoint the customer kept (an
-- audit.checkpoint webhook's seq and hash, held outside this database): the
-- row with that seq must still have that hash, and the chain from it to the
-- head must verify. A superuser who rewrote history before the checkpoint
-- cannot make both hold. audit:read.
create or replace function public.verify_audit_checkpoint(p_org_id uuid, p_seq bigint, p_hash text)
returns table (ok boolean, rows_checked bigint, reason text)
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_row public.audit_log;
  v_chain record;
begin
  perform private.require_permission(p_org_id, 'audit:read');
  if p_hash is null or p_hash !~ '^[0-9a-f]{64}$' then
    raise exception 'hash must be 64 hexadecimal digits, as audit.checkpoint sends it'
      using errcode = '22023', detail = 'field: hash';
  end if;
  select * into v_row from public.audit_log a where a.org_id = p_org_id and a.seq = p_seq;
  if v_row.seq is null then
    if exists (select 1 from private.audit_chain_checkpoints c
               where c.org_id = p_org_id and c.seq >= p_seq) then
      -- Retention dropped it; the chain is checked from its own checkpoint.
      return query select v.ok, v.rows_checked,
        coalesce(v.reason, 'row past retention; the chain since verifies')
        from private.verify_audit_chain(p_org_id) v;
      return;
    end if;
    return query select false, 0::bigint, format('no audit row %s: the chain was cut or never reached it', p_seq);
    return;
  end if;
  if encode(v_row.hash, 'hex') <> p_hash then
    return query select false, 0::bigint, format('row %s no longer has the checkpoint''s hash: history was rewritten', p_seq);
    return;
  end if;
  select * into v_chain from private.verify_audit_chain(p_org_id, v_row.occurred_at) v;
  return query select v_chain.ok, v_chain.rows_checked,
    coalesce(v_chain.reason, 'the checkpoint matches and the chain since verifies');
end;
$$;

comment on function public.verify_audit_checkpoint(uuid, bigint, text) is
  'Checks the audit chain against a checkpoint kept outside the database (seq and hex hash from audit.checkpoint); audit:read.';

grant execute on function public.verify_audit_checkpoint(uuid, bigint, text) to authenticated, service_role;

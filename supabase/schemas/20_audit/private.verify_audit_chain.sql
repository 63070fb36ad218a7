create or replace function private.verify_audit_chain(
  p_org_id uuid,
  p_from timestamptz default '-infinity',
  p_to timestamptz default 'infinity'
)
returns table (ok boolean, rows_checked bigint, broken_seq bigint, broken_id uuid, reason text)
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_row public.audit_log;
  v_prev_seq bigint;
  v_prev_hash bytea;
  v_count bigint := 0;
begin
  -- The link into the range: the row just before it, or the genesis hash.
  select a.seq, a.hash into v_prev_seq, v_prev_hash
  from public.audit_log a
  where a.org_id = p_org_id and a.occurred_at < p_from
  order by a.occurred_at desc, a.seq desc limit 1;
  if v_prev_seq is null and p_from = '-infinity' then
    -- Retention may have dropped the oldest rows: the chain then continues
    -- from the checkpoint recorded when their partition went.
    select c.seq, c.hash into v_prev_seq, v_prev_hash
    from private.audit_chain_checkpoints c where c.org_id = p_org_id;
    if v_prev_seq is null then
      v_prev_seq := 0;
      v_prev_hash := private.audit_genesis_hash(p_org_id);
    end if;
  end if;

  for v_row in
    select * from public.audit_log a
    where a.org_id = p_org_id and a.occurred_at >= p_from and a.occurred_at < p_to
    order by a.seq
  loop
    v_count := v_count + 1;
    if v_prev_seq is not null and v_row.seq <> v_prev_seq + 1 then
      return query select false, v_count, v_row.seq, v_row.id,
        format('sequence gap: expected %s, found %s (rows deleted?)', v_prev_seq + 1, v_row.seq);
      return;
    end if;
    if v_prev_hash is not null and v_row.prev_hash <> v_prev_hash then
      return query select false, v_count, v_row.seq, v_row.id,
        'prev_hash does not match the hash of the previous row'::text;
      return;
    end if;
    if v_row.hash <> extensions.digest(
         v_row.prev_hash || convert_to(private.audit_canonical(v_row), 'UTF8'), 'sha256') then
      return query select false, v_count, v_row.seq, v_row.id,
        'row content does not match its hash (row altered)'::text;
      return;
    end if;
    v_prev_seq := v_row.seq;
    v_prev_hash := v_row.hash;
  end loop;

  -- A deleted tail shows as a head beyond the last row.
  if p_to = 'infinity' and exists (
    select 1 from private.audit_chain_heads h
    where h.org_id = p_org_id and h.last_seq <> coalesce(v_prev_seq, 0)
  ) then
    return query select false, v_count, coalesce(v_prev_seq, 0) + 1, null::uuid,
      'rows missing at the end of the chain'::text;
    return;
  end if;
  return query select true, v_count, null::bigint, null::uuid, null::text;
end;
$$;

comment on function private.verify_audit_chain(uuid, timestamptz, timestamptz) is
  'Recomputes the organization''s audit chain over a time range and reports the first broken link.';

grant execute on function private.verify_audit_chain(uuid, timestamptz, timestamptz) to service_role;

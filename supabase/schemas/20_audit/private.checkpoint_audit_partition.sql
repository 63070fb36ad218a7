-- Called by private.maintain_time_partitions before it drops a partition of
-- audit_log (the registry's before_drop): records, per organization, the
-- newest row about to go, so that verification can start after it.
create or replace function private.checkpoint_audit_partition(p_partition regclass)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  execute format($sql$
    insert into private.audit_chain_checkpoints as c (org_id, seq, hash, occurred_at)
    select distinct on (a.org_id) a.org_id, a.seq, a.hash, a.occurred_at
    from %s a
    order by a.org_id, a.seq desc
    on conflict (org_id) do update
      set seq = excluded.seq, hash = excluded.hash, occurred_at = excluded.occurred_at,
          recorded_at = now()
      where excluded.seq > c.seq
  $sql$, p_partition);
end;
$$;

comment on function private.checkpoint_audit_partition(regclass) is
  'Records each organization''s newest row of an audit_log partition about to be dropped, where its chain continues.';

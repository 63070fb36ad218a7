-- Once a day, to each organization with an endpoint subscribed to
-- audit.checkpoint (or to everything), the head of its audit chain: a
-- customer who keeps these holds an anchor that no database superuser can
-- rewrite, and can check the chain against it (verify_audit_chain).
create or replace function private.emit_audit_checkpoints()
returns int
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_head record;
  v_count int := 0;
begin
  for v_head in
    select h.org_id, h.last_seq, h.last_hash
    from private.audit_chain_heads h
    where exists (
      select 1 from public.webhook_endpoints e
      where e.org_id = h.org_id and e.enabled
        and private.webhook_type_matches(e.event_types, 'audit.checkpoint'))
  loop
    perform private.emit_webhook_event(v_head.org_id, 'audit.checkpoint', jsonb_build_object(
      'seq', v_head.last_seq, 'hash', encode(v_head.last_hash, 'hex'), 'occurred_at', now()));
    v_count := v_count + 1;
  end loop;
  return v_count;
end;
$$;

comment on function private.emit_audit_checkpoints() is
  'Emits audit.checkpoint (the audit chain''s head) to organizations subscribed to it; daily by pg_cron.';

-- The one way rows enter the webhook outbox (public.webhook_events), in the
-- transaction of the change they report. Plan quotas are the first emitter.
create or replace function private.emit_webhook_event(p_org_id uuid, p_type text, p_payload jsonb)
returns uuid
language sql
security definer
set search_path = ''
as $$
  insert into public.webhook_events (org_id, type, payload)
  values (p_org_id, p_type, coalesce(p_payload, '{}'))
  returning id
$$;

comment on function private.emit_webhook_event(uuid, text, jsonb) is
  'Appends an event to the webhook outbox in the caller''s transaction; returns its id.';

grant execute on function private.emit_webhook_event(uuid, text, jsonb) to service_role;

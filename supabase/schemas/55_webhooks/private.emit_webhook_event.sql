-- The one way rows enter the webhook outbox, in the transaction of the change
-- they report: the event (public.webhook_events), and one delivery per enabled
-- endpoint of the organization whose type filter and data filter take it (the
-- fan-out). An organization with no endpoint pays the event's insert and one
-- index probe. A NOTIFY
-- wakes a listening dispatcher at commit (the local scheduler listens; a
-- hosted project polls through pg_cron). The type must be in the catalogue.
create or replace function private.emit_webhook_event(
  p_org_id uuid,
  p_type text,
  p_payload jsonb,
  p_ordering_key text default null
)
returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_event public.webhook_events;
  v_fanned int;
begin
  if not exists (select 1 from public.webhook_event_types t where t.type = p_type) then
    raise exception 'unknown webhook event type "%": add it to public.webhook_event_types', p_type
      using errcode = '22023', detail = 'field: type';
  end if;
  insert into public.webhook_events (org_id, type, payload)
  values (p_org_id, p_type, coalesce(p_payload, '{}'))
  returning * into v_event;

  -- FAN OUT to the endpoints that take it.
  insert into public.webhook_deliveries (org_id, endpoint_id, event_id, event_created_at, event_type, ordering_key)
  select p_org_id, e.id, v_event.id, v_event.created_at, p_type, p_ordering_key
  from public.webhook_endpoints e
  where e.org_id = p_org_id and e.enabled
    and private.webhook_type_matches(e.event_types, p_type)
    and (e.filter is null or v_event.payload @> e.filter);
  get diagnostics v_fanned = row_count;
  if v_fanned > 0 then
    perform pg_catalog.pg_notify('meridian_webhooks', p_org_id::text);
  end if;
  return v_event.id;
end;
$$;

comment on function private.emit_webhook_event(uuid, text, jsonb, text) is
  'Appends an event to the webhook outbox and fans it out to matching endpoints, in the caller''s transaction; returns its id (the webhook-id).';

grant execute on function private.emit_webhook_event(uuid, text, jsonb, text) to service_role;

-- Sends a webhook.test event to one endpoint (webhooks:manage), whatever its
-- type filter: a delivery like any other, visible in its attempts.
create or replace function public.send_test_webhook(p_org_id uuid, p_endpoint_id uuid)
returns uuid
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_event public.webhook_events;
begin
  perform private.require_permission(p_org_id, 'webhooks:manage');
  if not exists (select 1 from public.webhook_endpoints e where e.org_id = p_org_id and e.id = p_endpoint_id) then
    raise exception 'webhook endpoint not found' using errcode = 'PT404', detail = 'field: endpoint_id';
  end if;
  insert into public.webhook_events (org_id, type, payload)
  values (p_org_id, 'webhook.test', jsonb_build_object('endpoint_id', p_endpoint_id, 'sent_by', auth.uid()))
  returning * into v_event;
  insert into public.webhook_deliveries (org_id, endpoint_id, event_id, event_created_at, event_type)
  values (p_org_id, p_endpoint_id, v_event.id, v_event.created_at, 'webhook.test');
  perform pg_catalog.pg_notify('meridian_webhooks', p_org_id::text);
  return v_event.id;
end;
$$;

comment on function public.send_test_webhook(uuid, uuid) is
  'Queues a webhook.test event for one endpoint (webhooks:manage); returns the event id (its webhook-id).';

grant execute on function public.send_test_webhook(uuid, uuid) to authenticated, service_role;

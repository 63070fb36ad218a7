-- Disables an endpoint with its reason: audited, and announced as
-- endpoint.disabled to the organization's other endpoints (the disabled one
-- no longer takes events). Its pending deliveries stay queued: they go out if
-- the endpoint is enabled again.
create or replace function private.disable_webhook_endpoint(p_org_id uuid, p_endpoint_id uuid, p_reason text)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_endpoint public.webhook_endpoints;
begin
  update public.webhook_endpoints e
  set enabled = false, disabled_reason = p_reason, disabled_at = now()
  where e.org_id = p_org_id and e.id = p_endpoint_id and e.enabled
  returning * into v_endpoint;
  if v_endpoint.id is null then
    return;
  end if;
  perform private.append_audit(p_org_id, 'webhook_endpoint.disabled', 'webhook_endpoints',
    p_endpoint_id::text, null, jsonb_build_object('url', v_endpoint.url, 'reason', p_reason),
    'medium', 'success', array['webhooks'], jsonb_build_object('type', 'system'));
  perform private.emit_webhook_event(p_org_id, 'endpoint.disabled', jsonb_build_object(
    'endpoint_id', p_endpoint_id, 'url', v_endpoint.url, 'reason', p_reason));
end;
$$;

comment on function private.disable_webhook_endpoint(uuid, uuid, text) is
  'Disables a webhook endpoint with a reason, audits it and emits endpoint.disabled to the other endpoints.';

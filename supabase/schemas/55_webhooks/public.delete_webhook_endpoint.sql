-- Deletes an endpoint with its secrets and queued deliveries (webhooks:manage).
create or replace function public.delete_webhook_endpoint(p_org_id uuid, p_endpoint_id uuid)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_endpoint public.webhook_endpoints;
begin
  perform private.require_permission(p_org_id, 'webhooks:manage');
  delete from public.webhook_endpoints e
  where e.org_id = p_org_id and e.id = p_endpoint_id
  returning * into v_endpoint;
  if v_endpoint.id is null then
    raise exception 'webhook endpoint not found' using errcode = 'PT404', detail = 'field: endpoint_id';
  end if;
  perform private.append_audit(p_org_id, 'webhook_endpoint.deleted', 'webhook_endpoints',
    p_endpoint_id::text, jsonb_build_object('url', v_endpoint.url), null, 'medium');
end;
$$;

comment on function public.delete_webhook_endpoint(uuid, uuid) is
  'Deletes a webhook endpoint, its secrets and its queued deliveries (webhooks:manage).';

grant execute on function public.delete_webhook_endpoint(uuid, uuid) to authenticated, service_role;

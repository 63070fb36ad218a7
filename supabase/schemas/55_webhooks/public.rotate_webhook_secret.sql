-- A new signing secret for an endpoint (webhooks:manage), returned once; the
-- previous one keeps signing beside it for the endpoint's rotation grace, so
-- receivers switch without a failed delivery (both signatures are sent).
create or replace function public.rotate_webhook_secret(p_org_id uuid, p_endpoint_id uuid)
returns table (secret text, previous_valid_until timestamptz)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_grace interval;
  v_secret text := private.new_webhook_secret();
begin
  perform private.require_permission(p_org_id, 'webhooks:manage');
  select e.secret_rotation_grace into v_grace from public.webhook_endpoints e
  where e.org_id = p_org_id and e.id = p_endpoint_id;
  if v_grace is null then
    raise exception 'webhook endpoint not found' using errcode = 'PT404', detail = 'field: endpoint_id';
  end if;
  update private.webhook_endpoint_secrets s
  set previous_secret = s.secret, previous_valid_until = now() + v_grace,
      secret = v_secret, rotated_at = now()
  where s.org_id = p_org_id and s.endpoint_id = p_endpoint_id;
  perform private.append_audit(p_org_id, 'webhook_endpoint.secret_rotated', 'webhook_endpoints',
    p_endpoint_id::text, null, jsonb_build_object('previous_valid_until', now() + v_grace), 'high');
  secret := v_secret;
  previous_valid_until := now() + v_grace;
  return next;
end;
$$;

comment on function public.rotate_webhook_secret(uuid, uuid) is
  'Rotates an endpoint''s signing secret (webhooks:manage), returned once; the previous one signs too during the grace.';

grant execute on function public.rotate_webhook_secret(uuid, uuid) to authenticated, service_role;

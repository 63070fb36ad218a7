-- Changes an endpoint (webhooks:manage): only the arguments given change.
-- Enabling a disabled endpoint clears its reason and failure run.
create or replace function public.update_webhook_endpoint(
  p_org_id uuid,
  p_endpoint_id uuid,
  p_url text default null,
  p_event_types text[] default null,
  p_description text default null,
  p_filter jsonb default null,
  p_headers jsonb default null,
  p_enabled boolean default null,
  p_timeout_ms int default null,
  p_max_attempts int default null,
  p_rate_limit_per_second int default null,
  p_secret_rotation_grace interval default null
)
returns public.webhook_endpoints
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_before public.webhook_endpoints;
  v_after public.webhook_endpoints;
  v_error text;
begin
  perform private.require_permission(p_org_id, 'webhooks:manage');
  select * into v_before from public.webhook_endpoints e
  where e.org_id = p_org_id and e.id = p_endpoint_id for update;
  if v_before.id is null then
    raise exception 'webhook endpoint not found' using errcode = 'PT404', detail = 'field: endpoint_id';
  end if;
  if p_url is not null then
    v_error := private.webhook_url_error(p_url);
    if v_error is not null then
      raise exception 'url refused (%)', v_error using errcode = '22023', detail = 'field: url';
    end if;
  end if;
  update public.webhook_endpoints e set
    url = coalesce(p_url, e.url),
    event_types = coalesce(p_event_types, e.event_types),
    description = coalesce(p_description, e.description),
    filter = coalesce(p_filter, e.filter),
    headers = coalesce(p_headers, e.headers),
    enabled = coalesce(p_enabled, e.enabled),
    disabled_reason = case when p_enabled then null when p_enabled = false then 'disabled by an admin'
                           else e.disabled_reason end,
    disabled_at = case when p_enabled then null when p_enabled = false then coalesce(e.disabled_at, now())
                       else e.disabled_at end,
    failing_since = case when p_enabled then null else e.failing_since end,
    timeout_ms = coalesce(p_timeout_ms, e.timeout_ms),
    max_attempts = coalesce(p_max_attempts, e.max_attempts),
    rate_limit_per_second = coalesce(p_rate_limit_per_second, e.rate_limit_per_second),
    secret_rotation_grace = coalesce(p_secret_rotation_grace, e.secret_rotation_grace)
  where e.org_id = p_org_id and e.id = p_endpoint_id
  returning * into v_after;
  perform private.append_audit(p_org_id, 'webhook_endpoint.updated', 'webhook_endpoints',
    p_endpoint_id::text, to_jsonb(v_before), to_jsonb(v_after), 'medium');
  return v_after;
end;
$$;

comment on function public.update_webhook_endpoint(uuid, uuid, text, text[], text, jsonb, jsonb, boolean, int, int, int, interval) is
  'Changes a webhook endpoint (webhooks:manage); arguments left null keep their value.';

grant execute on function public.update_webhook_endpoint(uuid, uuid, text, text[], text, jsonb, jsonb, boolean, int, int, int, interval)
  to authenticated, service_role;

-- Creates an endpoint (webhooks:manage) and returns its signing secret, the
-- only time it is shown. The URL passes private.webhook_url_error first.
create or replace function public.create_webhook_endpoint(
  p_org_id uuid,
  p_url text,
  p_event_types text[] default '{*}',
  p_description text default null,
  p_filter jsonb default null,
  p_headers jsonb default '{}',
  p_timeout_ms int default 15000,
  p_max_attempts int default 8,
  p_rate_limit_per_second int default null,
  p_secret_rotation_grace interval default '24 hours'
)
returns table (id uuid, url text, event_types text[], enabled boolean, secret text, created_at timestamptz)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_error text;
  v_endpoint public.webhook_endpoints;
  v_secret text := private.new_webhook_secret();
begin
  -- VALIDATION
  perform private.require_permission(p_org_id, 'webhooks:manage');
  v_error := private.webhook_url_error(p_url);
  if v_error is not null then
    raise exception 'url refused (%)', v_error using errcode = '22023', detail = 'field: url';
  end if;
  if exists (select 1 from unnest(coalesce(p_event_types, '{}')) t
             where t <> '*' and t not like '%.*'
               and not exists (select 1 from public.webhook_event_types c where c.type = t)) then
    raise exception 'event_types names a type that is not in the catalogue (public.webhook_event_types)'
      using errcode = '22023', detail = 'field: event_types';
  end if;

  insert into public.webhook_endpoints (org_id, url, event_types, description, filter, headers,
                                        timeout_ms, max_attempts, rate_limit_per_second,
                                        secret_rotation_grace, created_by)
  values (p_org_id, p_url, coalesce(p_event_types, '{*}'), p_description, p_filter, coalesce(p_headers, '{}'),
          p_timeout_ms, p_max_attempts, p_rate_limit_per_second, p_secret_rotation_grace, auth.uid())
  returning * into v_endpoint;
  insert into private.webhook_endpoint_secrets (org_id, endpoint_id, secret)
  values (p_org_id, v_endpoint.id, v_secret);
  perform private.append_audit(p_org_id, 'webhook_endpoint.created', 'webhook_endpoints',
    v_endpoint.id::text, null, jsonb_build_object('url', p_url, 'event_types', v_endpoint.event_types),
    'medium');

  id := v_endpoint.id;
  url := v_endpoint.url;
  event_types := v_endpoint.event_types;
  enabled := v_endpoint.enabled;
  secret := v_secret;
  created_at := v_endpoint.created_at;
  return next;
end;
$$;

comment on function public.create_webhook_endpoint(uuid, text, text[], text, jsonb, jsonb, int, int, int, interval) is
  'Creates a webhook endpoint (webhooks:manage); returns it with its signing secret, shown only this once.';

grant execute on function public.create_webhook_endpoint(uuid, text, text[], text, jsonb, jsonb, int, int, int, interval)
  to authenticated, service_role;

-- Replays deliveries by query (webhooks:manage): those of an endpoint, of a
-- type, of a status (dead by default: the dead-letter queue) and made within a
-- time range. With p_dry_run (the default) it only counts them. A replay is a
-- new delivery of the same event, so it keeps the webhook-id receivers
-- deduplicate on. At most 10,000 a call, spread at p_per_second so a replay
-- cannot flood the receiver.
create or replace function public.replay_webhook_deliveries(
  p_org_id uuid,
  p_from timestamptz,
  p_to timestamptz,
  p_endpoint_id uuid default null,
  p_event_type text default null,
  p_status text default 'dead',
  p_dry_run boolean default true,
  p_per_second int default 50
)
returns table (matched bigint, replayed bigint)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_matched bigint;
  v_replayed bigint := 0;
begin
  perform private.require_permission(p_org_id, 'webhooks:manage');
  if p_from is null or p_to is null or p_from >= p_to then
    raise exception 'from must be before to' using errcode = '22023', detail = 'field: from';
  end if;
  if p_status not in ('pending', 'failed', 'succeeded', 'dead') then
    raise exception 'status must be one of pending, failed, succeeded, dead'
      using errcode = '22023', detail = 'field: status';
  end if;
  if p_per_second is null or p_per_second not between 1 and 1000 then
    raise exception 'per_second must be from 1 to 1000' using errcode = '22023', detail = 'field: per_second';
  end if;
  select count(*) into v_matched from public.webhook_deliveries d
  where d.org_id = p_org_id and d.created_at >= p_from and d.created_at < p_to
    and d.status = p_status
    and (p_endpoint_id is null or d.endpoint_id = p_endpoint_id)
    and (p_event_type is null or d.event_type = p_event_type);
  if not p_dry_run then
    insert into public.webhook_deliveries (org_id, endpoint_id, event_id, event_created_at, event_type,
                                           ordering_key, replay_of, next_attempt_at)
    select d.org_id, d.endpoint_id, d.event_id, d.event_created_at, d.event_type, d.ordering_key, d.id,
           now() + ((row_number() over (order by d.created_at, d.id) - 1) / p_per_second) * interval '1 second'
    from public.webhook_deliveries d
    where d.org_id = p_org_id and d.created_at >= p_from and d.created_at < p_to
      and d.status = p_status
      and (p_endpoint_id is null or d.endpoint_id = p_endpoint_id)
      and (p_event_type is null or d.event_type = p_event_type)
    order by d.created_at, d.id
    limit 10000;
    get diagnostics v_replayed = row_count;
    perform private.append_audit(p_org_id, 'webhook_deliveries.replayed', 'webhook_deliveries', null, null,
      jsonb_build_object('from', p_from, 'to', p_to, 'endpoint_id', p_endpoint_id,
                         'event_type', p_event_type, 'status', p_status, 'replayed', v_replayed), 'medium');
    perform pg_catalog.pg_notify('meridian_webhooks', p_org_id::text);
  end if;
  matched := v_matched;
  replayed := v_replayed;
  return next;
end;
$$;

comment on function public.replay_webhook_deliveries(uuid, timestamptz, timestamptz, uuid, text, text, boolean, int) is
  'Replays deliveries matching endpoint, type, status and time range (webhooks:manage); a dry run (default) only counts. Replays keep the webhook-id.';

grant execute on function public.replay_webhook_deliveries(uuid, timestamptz, timestamptz, uuid, text, text, boolean, int)
  to authenticated, service_role;

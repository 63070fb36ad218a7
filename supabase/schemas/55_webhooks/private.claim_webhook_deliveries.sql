-- A dispatcher's claim: up to p_limit due deliveries (pending or failed and
-- due, or delivering with an expired lease: a dispatcher died holding them),
-- locked with SKIP LOCKED so any number of dispatchers never take the same
-- row, leased to p_worker for p_lease, each counted as an attempt. A keyed
-- delivery waits while an earlier one of its endpoint and key is unsettled
-- (per-key FIFO). Organizations over their hard webhook quota keep their
-- deliveries queued until the next period or an upgrade. Returns what the
-- dispatcher needs to send: the envelope's parts, the endpoint's settings, its
-- signing secrets, and whether private destinations are allowed (the one
-- switch, private.webhook_delivery_policy, for creation and sending alike).
create or replace function private.claim_webhook_deliveries(
  p_worker text,
  p_limit int default 100,
  p_lease interval default '60 seconds'
)
returns table (
  org_id uuid, delivery_id uuid, endpoint_id uuid, attempt int, max_attempts int,
  event_id uuid, event_type text, event_created_at timestamptz, data jsonb,
  url text, headers jsonb, timeout_ms int, rate_limit_per_second int,
  secrets text[], allow_insecure_destinations boolean
)
language plpgsql
security definer
set search_path = ''
as $$
begin
  return query
  with due as (
    select d.org_id, d.id
    from public.webhook_deliveries d
    join public.webhook_endpoints e on e.org_id = d.org_id and e.id = d.endpoint_id
    where ((d.status in ('pending', 'failed') and d.next_attempt_at <= now())
           or (d.status = 'delivering' and d.lease_expires_at < now()))
      and e.enabled
      and (d.ordering_key is null or not exists (
        select 1 from public.webhook_deliveries o
        where o.org_id = d.org_id and o.endpoint_id = d.endpoint_id
          and o.ordering_key = d.ordering_key
          and o.status in ('pending', 'failed', 'delivering')
          and (o.created_at, o.id) < (d.created_at, d.id)))
      and not private.webhook_quota_exhausted(d.org_id)
    order by d.next_attempt_at
    limit p_limit
    for update of d skip locked
  ),
  claimed as (
    update public.webhook_deliveries d
    set status = 'delivering', lease_owner = p_worker, lease_expires_at = now() + p_lease,
        attempts = d.attempts + 1
    from due
    where d.org_id = due.org_id and d.id = due.id
    returning d.*
  )
  select c.org_id, c.id, c.endpoint_id, c.attempts, e.max_attempts,
         c.event_id, c.event_type, c.event_created_at, ev.payload,
         e.url, e.headers, e.timeout_ms, e.rate_limit_per_second,
         array_remove(array[s.secret,
           case when s.previous_valid_until > now() then s.previous_secret end], null),
         coalesce((select p.allow_insecure_destinations from private.webhook_delivery_policy p), false)
  from claimed c
  join public.webhook_endpoints e on e.org_id = c.org_id and e.id = c.endpoint_id
  join private.webhook_endpoint_secrets s on s.org_id = c.org_id and s.endpoint_id = c.endpoint_id
  join public.webhook_events ev
    on ev.org_id = c.org_id and ev.created_at = c.event_created_at and ev.id = c.event_id;
end;
$$;

comment on function private.claim_webhook_deliveries(text, int, interval) is
  'Claims due webhook deliveries for a dispatcher (SKIP LOCKED, leased, per-key FIFO, quota-aware) with what sending needs.';

grant execute on function private.claim_webhook_deliveries(text, int, interval) to service_role;

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
-- Planned for each call: a generic plan made while the queue was empty (a new
-- project) scanned the whole backlog once it was not.
set plan_cache_mode = force_custom_plan
as $$
declare
  v_exhausted uuid[];
begin
  -- QUOTA, once per organization among the oldest due rows, not per row: an
  -- organization past its hard quota has its due deliveries put back an hour
  -- (checked again then; an upgrade takes effect within the hour), so they
  -- neither reach a receiver nor stay at the head of every claim.
  select coalesce(array_agg(o.org_id), '{}') into v_exhausted
  from (select distinct d.org_id from (
          select d.org_id from public.webhook_deliveries d
          where d.status in ('pending', 'failed') and d.next_attempt_at <= now()
          order by d.next_attempt_at
          limit p_limit) d) o
  where private.webhook_quota_exhausted(o.org_id);
  if cardinality(v_exhausted) > 0 then
    update public.webhook_deliveries d set next_attempt_at = now() + interval '1 hour'
    where d.org_id = any (v_exhausted) and d.status in ('pending', 'failed')
      and d.next_attempt_at <= now();
  end if;

  return query
  -- Two index-ordered branches, each with its own limit, so a claim reads
  -- about p_limit rows whatever the backlog: due rows by next_attempt_at,
  -- and leases a dead dispatcher left.
  with due_now as (
    select d.org_id, d.id
    from public.webhook_deliveries d
    join public.webhook_endpoints e on e.org_id = d.org_id and e.id = d.endpoint_id
    where d.status in ('pending', 'failed') and d.next_attempt_at <= now()
      and e.enabled
      and (d.ordering_key is null or not exists (
        select 1 from public.webhook_deliveries o
        where o.org_id = d.org_id and o.endpoint_id = d.endpoint_id
          and o.ordering_key = d.ordering_key
          and o.status in ('pending', 'failed', 'delivering')
          and (o.created_at, o.id) < (d.created_at, d.id)))
    order by d.next_attempt_at
    limit p_limit
    for update of d skip locked
  ),
  lease_expired as (
    select d.org_id, d.id
    from public.webhook_deliveries d
    where d.status = 'delivering' and d.lease_expires_at < now()
    order by d.lease_expires_at
    limit p_limit
    for update of d skip locked
  ),
  due as (
    select * from due_now
    union all
    select * from lease_expired
  ),
  claimed as (
    update public.webhook_deliveries d
    set status = 'delivering', lease_owner = p_worker, lease_expires_at = now() + p_lease,
        attempts = d.attempts + 1
    from (select * from due limit p_limit) due
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

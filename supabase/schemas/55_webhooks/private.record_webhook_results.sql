-- Settles a dispatcher's batch in one round trip. p_results is an array of
-- {delivery_id, org_id, status_code, duration_ms, address, error_class, error,
--  response_excerpt, response_headers, retry_after_s}, one per claimed
-- delivery. For each: an attempt row; then
--   2xx          succeeded (metered), the endpoint's failure run ends
--                (endpoint.recovered when it had one);
--   410 Gone     dead, and the endpoint is disabled at once;
--   otherwise    failed and retried after private.webhook_retry_delay, or
--                dead once its endpoint's max_attempts are spent; an endpoint
--                failing without a success for 5 days is disabled
--                (endpoint.disabled to the organization's other endpoints,
--                and audited).
-- A result for a delivery this worker no longer leases (its lease expired and
-- another worker took it) is recorded as an attempt but settles nothing.
create or replace function private.record_webhook_results(p_worker text, p_results jsonb)
returns int
language plpgsql
security definer
set search_path = ''
as $$
declare
  r record;
  v_delivery public.webhook_deliveries;
  v_endpoint public.webhook_endpoints;
  v_ok boolean;
  v_settled int := 0;
  -- For the batch's rollup and metering, done once at the end.
  v_stat_org uuid[] := '{}';
  v_stat_endpoint uuid[] := '{}';
  v_stat_ok boolean[] := '{}';
  v_stat_dead boolean[] := '{}';
  v_stat_ms int[] := '{}';
begin
  for r in
    select * from jsonb_to_recordset(p_results) as x (
      delivery_id uuid, org_id uuid, status_code int, duration_ms int, address text,
      error_class text, error text, response_excerpt text, response_headers jsonb, retry_after_s int)
  loop
    select * into v_delivery from public.webhook_deliveries d
    where d.org_id = r.org_id and d.id = r.delivery_id
    for update;
    continue when v_delivery.id is null;

    -- THE ATTEMPT, whatever became of the lease.
    insert into public.webhook_attempts (org_id, delivery_id, endpoint_id, attempt, status_code,
                                         duration_ms, address, error_class, error,
                                         response_excerpt, response_headers)
    values (r.org_id, r.delivery_id, v_delivery.endpoint_id, v_delivery.attempts, r.status_code,
            r.duration_ms, private.parse_ip(r.address), r.error_class, left(r.error, 1000),
            left(r.response_excerpt, 1024), r.response_headers);
    continue when v_delivery.status <> 'delivering' or v_delivery.lease_owner is distinct from p_worker;

    select * into v_endpoint from public.webhook_endpoints e
    where e.org_id = r.org_id and e.id = v_delivery.endpoint_id
    for update;
    v_ok := r.status_code between 200 and 299 and r.error_class is null;

    -- SETTLE THE DELIVERY
    if v_ok then
      update public.webhook_deliveries d
      set status = 'succeeded', finished_at = now(), lease_owner = null, lease_expires_at = null,
          last_status_code = r.status_code, last_error = null
      where d.org_id = r.org_id and d.id = r.delivery_id;
    elsif r.status_code = 410 or v_delivery.attempts >= v_endpoint.max_attempts then
      update public.webhook_deliveries d
      set status = 'dead', finished_at = now(), lease_owner = null, lease_expires_at = null,
          last_status_code = r.status_code, last_error = coalesce(r.error_class, 'http_status')
      where d.org_id = r.org_id and d.id = r.delivery_id;
    else
      update public.webhook_deliveries d
      set status = 'failed', lease_owner = null, lease_expires_at = null,
          next_attempt_at = now() + private.webhook_retry_delay(
            v_delivery.attempts, r.error_class, r.status_code, r.retry_after_s, random() * 2 - 1),
          last_status_code = r.status_code, last_error = coalesce(r.error_class, 'http_status')
      where d.org_id = r.org_id and d.id = r.delivery_id;
    end if;
    v_settled := v_settled + 1;

    v_stat_org := v_stat_org || r.org_id;
    v_stat_endpoint := v_stat_endpoint || v_delivery.endpoint_id;
    v_stat_ok := v_stat_ok || v_ok;
    v_stat_dead := v_stat_dead || (not v_ok and (r.status_code = 410 or v_delivery.attempts >= v_endpoint.max_attempts));
    v_stat_ms := v_stat_ms || r.duration_ms;

    -- THE ENDPOINT'S HEALTH
    if v_ok then
      if v_endpoint.failing_since is not null then
        update public.webhook_endpoints e set failing_since = null
        where e.org_id = r.org_id and e.id = v_endpoint.id;
        perform private.emit_webhook_event(r.org_id, 'endpoint.recovered', jsonb_build_object(
          'endpoint_id', v_endpoint.id, 'url', v_endpoint.url,
          'failing_since', v_endpoint.failing_since));
      end if;
    elsif r.status_code = 410 then
      perform private.disable_webhook_endpoint(r.org_id, v_endpoint.id, 'gone: the endpoint answered 410');
    elsif v_endpoint.failing_since is null then
      update public.webhook_endpoints e set failing_since = now()
      where e.org_id = r.org_id and e.id = v_endpoint.id;
    elsif v_endpoint.failing_since < now() - interval '5 days' and v_endpoint.enabled then
      perform private.disable_webhook_endpoint(r.org_id, v_endpoint.id,
        'failing: no successful delivery for 5 days');
    end if;
  end loop;

  -- THE HOURLY ROLLUP behind analytics.webhook_endpoint_stats, one row per
  -- endpoint and hour for the whole batch.
  insert into public.webhook_endpoint_hourly_stats as h
    (org_id, endpoint_id, hour, attempts, succeeded, failed, dead, latency_buckets)
  select x.org_id, x.endpoint_id, date_trunc('hour', now()), count(*),
         count(*) filter (where x.ok), count(*) filter (where not x.ok),
         count(*) filter (where x.dead),
         private.sum_buckets(array_agg(private.webhook_latency_bucket(x.ms)))
  from unnest(v_stat_org, v_stat_endpoint, v_stat_ok, v_stat_dead, v_stat_ms)
       as x (org_id, endpoint_id, ok, dead, ms)
  group by x.org_id, x.endpoint_id
  on conflict (org_id, endpoint_id, hour) do update set
    attempts = h.attempts + excluded.attempts,
    succeeded = h.succeeded + excluded.succeeded,
    failed = h.failed + excluded.failed,
    dead = h.dead + excluded.dead,
    latency_buckets = private.sum_buckets(array[h.latency_buckets, excluded.latency_buckets]);

  -- METERING: the batch's successes, once per organization.
  perform private.meter_webhook_deliveries(x.org_id, count(*))
  from unnest(v_stat_org, v_stat_ok) as x (org_id, ok)
  where x.ok
  group by x.org_id;
  return v_settled;
end;
$$;

comment on function private.record_webhook_results(text, jsonb) is
  'Records a dispatcher''s attempts and settles its deliveries (succeeded, retried with Svix''s schedule, or dead), and endpoint health.';

grant execute on function private.record_webhook_results(text, jsonb) to service_role;

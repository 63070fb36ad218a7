-- Outbound webhooks (issue 27): endpoints with their secrets, the event type
-- catalogue, fan-out of the outbox into a delivery queue in the emitting
-- transaction, SKIP LOCKED claims with leases, Svix's retry schedule, dead
-- letters, replay, and the events members, keys and merges announce.
-- Schema files: supabase/schemas/55_webhooks and the rows and jobs of 90 and 95.

SET local check_function_bodies = off;

DROP FUNCTION "private"."emit_webhook_event"(uuid, text, jsonb);

CREATE TABLE "private"."webhook_delivery_policy" (
  "id"                          boolean NOT NULL DEFAULT true,
  "allow_insecure_destinations" boolean NOT NULL DEFAULT false,
  CONSTRAINT "webhook_delivery_policy_pkey" PRIMARY KEY (id),
  CONSTRAINT "webhook_delivery_policy_single_row" CHECK (id)
);

ALTER TABLE "private"."webhook_delivery_policy"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "private"."webhook_endpoint_secrets" (
  "org_id"               uuid                     NOT NULL,
  "endpoint_id"          uuid                     NOT NULL,
  "secret"               text                     NOT NULL,
  "previous_secret"      text,
  "previous_valid_until" timestamp with time zone,
  "rotated_at"           timestamp with time zone,
  CONSTRAINT "webhook_endpoint_secrets_format" CHECK ((secret ~ '^whsec_[A-Za-z0-9+/]+={0,2}$'::text)),
  CONSTRAINT "webhook_endpoint_secrets_pkey" PRIMARY KEY (org_id, endpoint_id),
  CONSTRAINT "webhook_endpoint_secrets_previous_format" CHECK ((previous_secret ~ '^whsec_[A-Za-z0-9+/]+={0,2}$'::text))
);

ALTER TABLE "private"."webhook_endpoint_secrets"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "public"."webhook_attempts" (
  "org_id"           uuid                     NOT NULL,
  "attempted_at"     timestamp with time zone NOT NULL,
  "id"               uuid                     NOT NULL,
  "delivery_id"      uuid                     NOT NULL,
  "endpoint_id"      uuid                     NOT NULL,
  "attempt"          integer                  NOT NULL,
  "status_code"      integer,
  "duration_ms"      integer,
  "address"          inet,
  "error_class"      text,
  "error"            text,
  "response_excerpt" text,
  "response_headers" jsonb
) PARTITION BY RANGE (attempted_at);

ALTER TABLE "public"."webhook_attempts"
  ENABLE ROW LEVEL SECURITY;

REVOKE ALL ON TABLE "public"."webhook_attempts" FROM "anon";

CREATE TABLE "public"."webhook_deliveries" (
  "org_id"           uuid                     NOT NULL,
  "id"               uuid                     NOT NULL DEFAULT gen_random_uuid(),
  "endpoint_id"      uuid                     NOT NULL,
  "event_id"         uuid                     NOT NULL,
  "event_created_at" timestamp with time zone NOT NULL,
  "event_type"       text                     NOT NULL,
  "status"           text                     NOT NULL DEFAULT 'pending'::text,
  "attempts"         integer                  NOT NULL DEFAULT 0,
  "next_attempt_at"  timestamp with time zone NOT NULL DEFAULT now(),
  "lease_owner"      text,
  "lease_expires_at" timestamp with time zone,
  "ordering_key"     text,
  "last_status_code" integer,
  "last_error"       text,
  "replay_of"        uuid,
  "created_at"       timestamp with time zone NOT NULL DEFAULT now(),
  "updated_at"       timestamp with time zone NOT NULL DEFAULT now(),
  "finished_at"      timestamp with time zone,
  CONSTRAINT "webhook_deliveries_ordering_key_length" CHECK ((char_length(ordering_key) <= 200)),
  CONSTRAINT "webhook_deliveries_pkey" PRIMARY KEY (org_id, id),
  CONSTRAINT "webhook_deliveries_status_check" CHECK ((status = ANY (ARRAY['pending'::text, 'delivering'::text, 'failed'::text, 'succeeded'::text, 'dead'::text])))
);

ALTER TABLE "public"."webhook_deliveries"
  ENABLE ROW LEVEL SECURITY;

REVOKE ALL ON TABLE "public"."webhook_deliveries" FROM "anon";

CREATE TABLE "public"."webhook_endpoint_hourly_stats" (
  "org_id"          uuid                     NOT NULL,
  "endpoint_id"     uuid                     NOT NULL,
  "hour"            timestamp with time zone NOT NULL,
  "attempts"        integer                  NOT NULL DEFAULT 0,
  "succeeded"       integer                  NOT NULL DEFAULT 0,
  "failed"          integer                  NOT NULL DEFAULT 0,
  "dead"            integer                  NOT NULL DEFAULT 0,
  "latency_buckets" integer[]                NOT NULL,
  CONSTRAINT "webhook_endpoint_hourly_stats_pkey" PRIMARY KEY (org_id, endpoint_id, hour)
);

ALTER TABLE "public"."webhook_endpoint_hourly_stats"
  ENABLE ROW LEVEL SECURITY;

REVOKE ALL ON TABLE "public"."webhook_endpoint_hourly_stats" FROM "anon";

CREATE TABLE "public"."webhook_endpoints" (
  "org_id"                uuid                     NOT NULL,
  "id"                    uuid                     NOT NULL DEFAULT gen_random_uuid(),
  "url"                   text                     NOT NULL,
  "description"           text,
  "event_types"           text[]                   NOT NULL DEFAULT '{*}'::text[],
  "filter"                jsonb,
  "enabled"               boolean                  NOT NULL DEFAULT true,
  "disabled_reason"       text,
  "disabled_at"           timestamp with time zone,
  "timeout_ms"            integer                  NOT NULL DEFAULT 15000,
  "max_attempts"          integer                  NOT NULL DEFAULT 8,
  "rate_limit_per_second" integer,
  "headers"               jsonb                    NOT NULL DEFAULT '{}'::jsonb,
  "secret_rotation_grace" interval                 NOT NULL DEFAULT '24:00:00'::interval,
  "failing_since"         timestamp with time zone,
  "created_by"            uuid,
  "created_at"            timestamp with time zone NOT NULL DEFAULT now(),
  "updated_at"            timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT "webhook_endpoints_description_length" CHECK ((char_length(description) <= 500)),
  CONSTRAINT "webhook_endpoints_event_types_format"
    CHECK
    -- HAND-WRITTEN: as the schema file writes it (the differ nested the ANDs,
    -- a different expression to the drift check).
    (cardinality(event_types) between 1 and 100
     and array_to_string(event_types, ',') ~ '^(\*|[a-z_]+(\.[a-z_]+)*(\.\*)?)(,(\*|[a-z_]+(\.[a-z_]+)*(\.\*)?))*$'),
  CONSTRAINT "webhook_endpoints_filter_object" CHECK (((filter IS NULL) OR ((jsonb_typeof(filter) = 'object'::text) AND (octet_length((filter)::text) <= 4096)))),
  CONSTRAINT "webhook_endpoints_grace_check" CHECK (((secret_rotation_grace >= '00:00:00'::interval) AND (secret_rotation_grace <= '7 days'::interval))),
  CONSTRAINT "webhook_endpoints_max_attempts_check" CHECK (((max_attempts >= 1) AND (max_attempts <= 10))),
  CONSTRAINT "webhook_endpoints_pkey" PRIMARY KEY (org_id, id),
  CONSTRAINT "webhook_endpoints_rate_limit_check" CHECK (((rate_limit_per_second >= 1) AND (rate_limit_per_second <= 1000))),
  CONSTRAINT "webhook_endpoints_timeout_check" CHECK (((timeout_ms >= 1000) AND (timeout_ms <= 30000))),
  CONSTRAINT "webhook_endpoints_url_format" CHECK (((char_length(url) <= 2048) AND (url ~ '^https?://[^\s]+$'::text)))
);

ALTER TABLE "public"."webhook_endpoints"
  ENABLE ROW LEVEL SECURITY;

REVOKE ALL ON TABLE "public"."webhook_endpoints" FROM "anon";

CREATE TABLE "public"."webhook_event_types" (
  "type"        text  NOT NULL,
  "description" text  NOT NULL,
  "schema"      jsonb NOT NULL,
  "example"     jsonb NOT NULL,
  CONSTRAINT "webhook_event_types_example_object" CHECK ((jsonb_typeof(example) = 'object'::text)),
  CONSTRAINT "webhook_event_types_pkey" PRIMARY KEY (TYPE),
  CONSTRAINT "webhook_event_types_schema_object" CHECK ((jsonb_typeof(schema) = 'object'::text)),
  CONSTRAINT "webhook_event_types_type_format" CHECK ((type ~ '^[a-z_]+(\.[a-z_]+)+$'::text))
);

ALTER TABLE "public"."webhook_event_types"
  ENABLE ROW LEVEL SECURITY;

REVOKE ALL ON TABLE "public"."webhook_event_types" FROM "anon";

ALTER TABLE "public"."webhook_attempts"
  ALTER COLUMN "attempted_at" SET DEFAULT now();

ALTER TABLE "public"."webhook_attempts"
  ALTER COLUMN "id" SET DEFAULT gen_random_uuid();

CREATE OR REPLACE FUNCTION private.claim_webhook_deliveries (
  p_worker text,
  p_limit  integer  DEFAULT 100,
  p_lease  interval DEFAULT '00:01:00'::interval
)
  RETURNS TABLE (
    org_id                      uuid,
    delivery_id                 uuid,
    endpoint_id                 uuid,
    attempt                     integer,
    max_attempts                integer,
    event_id                    uuid,
    event_type                  text,
    event_created_at            timestamp with time zone,
    data                        jsonb,
    url                         text,
    headers                     jsonb,
    timeout_ms                  integer,
    rate_limit_per_second       integer,
    secrets                     text[],
    allow_insecure_destinations boolean
  )
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  SET plan_cache_mode TO 'force_custom_plan'
  AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION private.disable_webhook_endpoint (
  p_org_id      uuid,
  p_endpoint_id uuid,
  p_reason      text
)
  RETURNS void
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION private.emit_audit_checkpoints()
  RETURNS integer
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_head record;
  v_count int := 0;
begin
  for v_head in
    select h.org_id, h.last_seq, h.last_hash
    from private.audit_chain_heads h
    where exists (
      select 1 from public.webhook_endpoints e
      where e.org_id = h.org_id and e.enabled
        and private.webhook_type_matches(e.event_types, 'audit.checkpoint'))
  loop
    perform private.emit_webhook_event(v_head.org_id, 'audit.checkpoint', jsonb_build_object(
      'seq', v_head.last_seq, 'hash', encode(v_head.last_hash, 'hex'), 'occurred_at', now()));
    v_count := v_count + 1;
  end loop;
  return v_count;
end;
$function$;

CREATE OR REPLACE FUNCTION private.emit_change_events()
  RETURNS TRIGGER
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_org uuid := coalesce(new.org_id, old.org_id);
begin
  if not exists (select 1 from public.organizations o where o.id = v_org) then
    return null;
  end if;
  case tg_table_name
  when 'organization_members' then
    if tg_op = 'INSERT' and new.status = 'active' then
      perform private.emit_webhook_event(v_org, 'member.added', jsonb_build_object(
        'user_id', new.user_id, 'email', new.email, 'role', new.role), new.user_id::text);
    elsif tg_op = 'UPDATE' and new.status = 'active' and old.status <> 'active' then
      perform private.emit_webhook_event(v_org, 'member.added', jsonb_build_object(
        'user_id', new.user_id, 'email', new.email, 'role', new.role), new.user_id::text);
    elsif tg_op = 'UPDATE' and old.status = 'active' and new.status <> 'active' then
      perform private.emit_webhook_event(v_org, 'member.removed', jsonb_build_object(
        'user_id', new.user_id, 'email', new.email, 'role', new.role), new.user_id::text);
    elsif tg_op = 'UPDATE' and new.role <> old.role then
      perform private.emit_webhook_event(v_org, 'member.role_changed', jsonb_build_object(
        'user_id', new.user_id, 'email', new.email, 'previous_role', old.role, 'role', new.role),
        new.user_id::text);
    elsif tg_op = 'DELETE' and old.status = 'active' then
      perform private.emit_webhook_event(v_org, 'member.removed', jsonb_build_object(
        'user_id', old.user_id, 'email', old.email, 'role', old.role), old.user_id::text);
    end if;
  when 'api_keys' then
    if tg_op = 'INSERT' then
      perform private.emit_webhook_event(v_org, 'api_key.created', jsonb_build_object(
        'key_id', new.id, 'name', new.name, 'kind', new.kind, 'prefix', new.prefix,
        'scopes', new.scopes, 'rotated_from', new.rotated_from), new.id::text);
    elsif tg_op = 'UPDATE' and new.revoked_at is not null and old.revoked_at is null then
      perform private.emit_webhook_event(v_org, 'api_key.revoked', jsonb_build_object(
        'key_id', new.id, 'name', new.name, 'prefix', new.prefix), new.id::text);
    elsif tg_op = 'UPDATE' and new.replaced_by is not null and old.replaced_by is null then
      perform private.emit_webhook_event(v_org, 'api_key.rotated', jsonb_build_object(
        'key_id', new.id, 'successor_id', new.replaced_by, 'expires_at', new.expires_at), new.id::text);
    end if;
  when 'profile_merges' then
    if tg_op = 'INSERT' then
      perform private.emit_webhook_event(v_org, 'profile.merged', jsonb_build_object(
        'merge_id', new.id, 'winner_id', new.winner_id, 'loser_id', new.loser_id,
        'reason', new.reason), new.winner_id::text);
    elsif tg_op = 'UPDATE' and new.unmerged_at is not null and old.unmerged_at is null then
      perform private.emit_webhook_event(v_org, 'profile.unmerged', jsonb_build_object(
        'merge_id', new.id, 'winner_id', new.winner_id, 'loser_id', new.loser_id), new.winner_id::text);
    end if;
  end case;
  return null;
end;
$function$;

CREATE OR REPLACE FUNCTION private.emit_webhook_event (
  p_org_id       uuid,
  p_type         text,
  p_payload      jsonb,
  p_ordering_key text  DEFAULT NULL::text
)
  RETURNS uuid
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_event public.webhook_events;
  v_fanned int;
begin
  if not exists (select 1 from public.webhook_event_types t where t.type = p_type) then
    raise exception 'unknown webhook event type "%": add it to public.webhook_event_types', p_type
      using errcode = '22023', detail = 'field: type';
  end if;
  insert into public.webhook_events (org_id, type, payload)
  values (p_org_id, p_type, coalesce(p_payload, '{}'))
  returning * into v_event;

  -- FAN OUT to the endpoints that take it.
  insert into public.webhook_deliveries (org_id, endpoint_id, event_id, event_created_at, event_type, ordering_key)
  select p_org_id, e.id, v_event.id, v_event.created_at, p_type, p_ordering_key
  from public.webhook_endpoints e
  where e.org_id = p_org_id and e.enabled
    and private.webhook_type_matches(e.event_types, p_type)
    and (e.filter is null or v_event.payload @> e.filter);
  get diagnostics v_fanned = row_count;
  if v_fanned > 0 then
    perform pg_catalog.pg_notify('meridian_webhooks', p_org_id::text);
  end if;
  return v_event.id;
end;
$function$;

CREATE OR REPLACE FUNCTION private.meter_webhook_deliveries (
  p_org_id uuid,
  p_count  bigint
)
  RETURNS void
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
begin
  perform private.meter_usage(p_org_id, 'webhook_deliveries', p_count);
exception when sqlstate 'MQ001' then
  -- Reached by deliveries in flight when the quota ran out: they stand; the
  -- rolled-back block takes their count with it.
  return;
end;
$function$;

CREATE OR REPLACE FUNCTION private.new_webhook_secret()
  RETURNS text
  LANGUAGE sql
  SET search_path TO ''
  AS $function$
  select 'whsec_' || pg_catalog.encode(extensions.gen_random_bytes(32), 'base64')
$function$;

CREATE OR REPLACE FUNCTION private.record_webhook_results (
  p_worker  text,
  p_results jsonb
)
  RETURNS integer
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
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
$function$;

CREATE OR REPLACE FUNCTION private.sum_buckets (
  p_histograms integer[]
)
  RETURNS integer[]
  LANGUAGE sql
  IMMUTABLE
  SET search_path TO ''
  AS $function$
  select array_agg(s.total order by s.i)
  from (
    select b.i, sum(p_histograms[r][b.i])::int as total
    from generate_subscripts(p_histograms, 1) r,
         generate_subscripts(p_histograms, 2) b (i)
    group by b.i
  ) s
$function$;

CREATE OR REPLACE FUNCTION private.sweep_webhook_deliveries()
  RETURNS integer
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_deleted int;
begin
  delete from public.webhook_deliveries d
  where (d.org_id, d.id) in (
    select x.org_id, x.id from public.webhook_deliveries x
    where x.finished_at < now() - interval '90 days'
    limit 10000);
  get diagnostics v_deleted = row_count;
  return v_deleted;
end;
$function$;

CREATE OR REPLACE FUNCTION private.webhook_headers_valid (
  p_headers jsonb
)
  RETURNS boolean
  LANGUAGE sql
  IMMUTABLE
  SET search_path TO ''
  AS $function$
  select pg_catalog.jsonb_typeof(p_headers) = 'object'
     and pg_catalog.octet_length(p_headers::text) <= 4096
     and not exists (
       select 1 from pg_catalog.jsonb_each(p_headers) h
       where pg_catalog.jsonb_typeof(h.value) <> 'string'
          or pg_catalog.lower(h.key) ~ '^(webhook-|content-length$|content-type$|host$|connection$|transfer-encoding$|upgrade$|te$)'
          or h.key !~ '^[A-Za-z0-9!#$%&''*+.^_`|~-]{1,100}$')
$function$;

CREATE OR REPLACE FUNCTION private.webhook_latency_bucket (
  p_duration_ms integer
)
  RETURNS integer[]
  LANGUAGE sql
  IMMUTABLE
  SET search_path TO ''
  AS $function$
  select array_agg(case when b.i = coalesce((
                     select min(e.i) from unnest(private.webhook_latency_edges()) with ordinality e (edge, i)
                     where coalesce(p_duration_ms, 0) <= e.edge),
                     pg_catalog.array_length(private.webhook_latency_edges(), 1) + 1)
                   then 1 else 0 end order by b.i)
  from generate_series(1, pg_catalog.array_length(private.webhook_latency_edges(), 1) + 1) b (i)
$function$;

CREATE OR REPLACE FUNCTION private.webhook_latency_edges()
  RETURNS integer[]
  LANGUAGE sql
  IMMUTABLE
  SET search_path TO ''
  AS $function$
  select array[25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000]
$function$;

CREATE OR REPLACE FUNCTION private.webhook_latency_percentile (
  p_buckets  integer[],
  p_fraction double precision
)
  RETURNS integer
  LANGUAGE sql
  IMMUTABLE
  SET search_path TO ''
  AS $function$
  select e.edge
  from (
    select b.i, (private.webhook_latency_edges())[b.i] as edge,
           sum(b.n) over (order by b.i) as running, sum(b.n) over () as total
    from unnest(p_buckets) with ordinality as b (n, i)
  ) e
  where e.total > 0 and e.running >= e.total * p_fraction
  order by e.i
  limit 1
$function$;

CREATE OR REPLACE FUNCTION private.webhook_quota_exhausted (
  p_org_id uuid
)
  RETURNS boolean
  LANGUAGE sql
  STABLE
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  select exists (
    select 1 from private.quota_state(p_org_id, 'webhook_deliveries') q
    where q.hard and q.used >= q.quota)
$function$;

CREATE OR REPLACE FUNCTION private.webhook_retry_delay (
  p_failures      integer,
  p_error_class   text             DEFAULT NULL::text,
  p_status_code   integer          DEFAULT NULL::integer,
  p_retry_after_s integer          DEFAULT NULL::integer,
  p_jitter        double precision DEFAULT 0
)
  RETURNS interval
  LANGUAGE sql
  IMMUTABLE
  SET search_path TO ''
  AS $function$
  select greatest(
    (array[5, 300, 1800, 7200, 18000, 36000, 36000])[least(greatest(p_failures, 1), 7)]
      * (1 + 0.2 * least(greatest(coalesce(p_jitter, 0), -1), 1)),
    case when p_error_class = 'timeout' or p_status_code = 429 then 60 else 0 end,
    least(coalesce(p_retry_after_s, 0), 86400)
  ) * interval '1 second'
$function$;

CREATE OR REPLACE FUNCTION private.webhook_type_matches (
  p_patterns text[],
  p_type     text
)
  RETURNS boolean
  LANGUAGE sql
  IMMUTABLE
  PARALLEL SAFE
  SET search_path TO ''
  AS $function$
  select exists (
    select 1 from pg_catalog.unnest(p_patterns) p
    where p = '*' or p = p_type
       or (p like '%.*' and pg_catalog.starts_with(p_type, pg_catalog.left(p, -1))))
$function$;

CREATE OR REPLACE FUNCTION private.webhook_url_error (
  p_url text
)
  RETURNS text
  LANGUAGE plpgsql
  STABLE
  SET search_path TO ''
  AS $function$
declare
  v_allow boolean := coalesce((select p.allow_insecure_destinations from private.webhook_delivery_policy p), false);
  v_parts text[] := regexp_match(p_url, '^([a-zA-Z][a-zA-Z0-9+.-]*)://([^/?#]*)');
  v_authority text;
  v_host text;
  v_addr inet;
begin
  if v_parts is null then
    return 'invalid_url: not an absolute URL';
  end if;
  if lower(v_parts[1]) not in ('https', 'http') or (lower(v_parts[1]) = 'http' and not v_allow) then
    return 'https_only: webhook endpoints must use https://';
  end if;
  v_authority := v_parts[2];
  if position('@' in v_authority) > 0 then
    return 'credentials_in_url: put credentials in custom headers, not the URL';
  end if;
  v_host := lower(coalesce((regexp_match(v_authority, '^\[([^\]]+)\]'))[1],
                           (regexp_match(v_authority, '^([^:]*)'))[1]));
  if v_host is null or v_host = '' then
    return 'invalid_url: no host';
  end if;
  if v_allow then
    return null;
  end if;
  if v_host ~ '^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}$' and v_host !~ '^\d+\.\d+\.\d+\.\d+$' then
    return 'address_range:numeric_host: a numeric host name is read as an address; use the dotted form or a name';
  end if;
  if v_host = 'localhost' or v_host like '%.localhost' or v_host like '%.internal' or v_host like '%.local' then
    return 'address_range:private_name: the host name is reserved for private networks';
  end if;
  begin
    v_addr := v_host::inet;
  exception when invalid_text_representation then
    return null;  -- a name: checked against its addresses at every send
  end;
  if exists (
    select 1 from unnest(array[
      '0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12',
      '192.0.0.0/24', '192.0.2.0/24', '192.88.99.0/24', '192.168.0.0/16', '198.18.0.0/15',
      '198.51.100.0/24', '203.0.113.0/24', '224.0.0.0/4', '240.0.0.0/4',
      '::/128', '::1/128', '::ffff:0:0/96', '64:ff9b::/96', '64:ff9b:1::/48', '100::/64',
      '2001::/32', '2001:db8::/32', '2002::/16', 'fc00::/7', 'fe80::/10', 'ff00::/8']::cidr[]) n
    where v_addr <<= n
  ) then
    return format('address_range:reserved: %s is not a public unicast address', host(v_addr));
  end if;
  return null;
end;
$function$;

CREATE OR REPLACE FUNCTION public.create_webhook_endpoint (
  p_org_id                uuid,
  p_url                   text,
  p_event_types           text[]   DEFAULT '{*}'::text[],
  p_description           text     DEFAULT NULL::text,
  p_filter                jsonb    DEFAULT NULL::jsonb,
  p_headers               jsonb    DEFAULT '{}'::jsonb,
  p_timeout_ms            integer  DEFAULT 15000,
  p_max_attempts          integer  DEFAULT 8,
  p_rate_limit_per_second integer  DEFAULT NULL::integer,
  p_secret_rotation_grace interval DEFAULT '24:00:00'::interval
)
  RETURNS TABLE (
    id          uuid,
    url         text,
    event_types text[],
    enabled     boolean,
    secret      text,
    created_at  timestamp with time zone
  )
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
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
$function$;

REVOKE ALL ON FUNCTION "public"."create_webhook_endpoint"(uuid, text, text[], text, jsonb, jsonb, integer, integer, integer, interval) FROM PUBLIC, "anon";

CREATE OR REPLACE FUNCTION public.delete_webhook_endpoint (
  p_org_id      uuid,
  p_endpoint_id uuid
)
  RETURNS void
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
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
$function$;

REVOKE ALL ON FUNCTION "public"."delete_webhook_endpoint"(uuid, uuid) FROM PUBLIC, "anon";

CREATE OR REPLACE FUNCTION public.list_webhook_attempts (
  p_org_id              uuid,
  p_delivery_id         uuid                     DEFAULT NULL::uuid,
  p_endpoint_id         uuid                     DEFAULT NULL::uuid,
  p_before_attempted_at timestamp with time zone DEFAULT NULL::timestamp WITH time zone,
  p_before_id           uuid                     DEFAULT NULL::uuid,
  p_limit               integer                  DEFAULT 50
)
  RETURNS SETOF public.webhook_attempts
  LANGUAGE sql
  STABLE
  SET search_path TO ''
  AS $function$
  select a.* from public.webhook_attempts a
  where a.org_id = p_org_id
    and (p_delivery_id is null or a.delivery_id = p_delivery_id)
    and (p_endpoint_id is null or a.endpoint_id = p_endpoint_id)
    and (p_before_attempted_at is null
         or (a.attempted_at, a.id) < (p_before_attempted_at, coalesce(p_before_id, 'ffffffff-ffff-ffff-ffff-ffffffffffff')))
  order by a.attempted_at desc, a.id desc
  limit least(greatest(coalesce(p_limit, 50), 1), 500)
$function$;

REVOKE ALL ON FUNCTION "public"."list_webhook_attempts"(uuid, uuid, uuid, timestamp WITH time zone, uuid, integer) FROM PUBLIC, "anon";

CREATE OR REPLACE FUNCTION public.list_webhook_deliveries (
  p_org_id            uuid,
  p_endpoint_id       uuid                     DEFAULT NULL::uuid,
  p_status            text                     DEFAULT NULL::text,
  p_event_type        text                     DEFAULT NULL::text,
  p_before_created_at timestamp with time zone DEFAULT NULL::timestamp WITH time zone,
  p_before_id         uuid                     DEFAULT NULL::uuid,
  p_limit             integer                  DEFAULT 50
)
  RETURNS SETOF public.webhook_deliveries
  LANGUAGE sql
  STABLE
  SET search_path TO ''
  AS $function$
  select d.* from public.webhook_deliveries d
  where d.org_id = p_org_id
    and (p_endpoint_id is null or d.endpoint_id = p_endpoint_id)
    and (p_status is null or d.status = p_status)
    and (p_event_type is null or d.event_type = p_event_type)
    and (p_before_created_at is null
         or (d.created_at, d.id) < (p_before_created_at, coalesce(p_before_id, 'ffffffff-ffff-ffff-ffff-ffffffffffff')))
  order by d.created_at desc, d.id desc
  limit least(greatest(coalesce(p_limit, 50), 1), 500)
$function$;

REVOKE ALL ON FUNCTION "public"."list_webhook_deliveries"(uuid, uuid, text, text, timestamp WITH time zone, uuid, integer) FROM PUBLIC, "anon";

CREATE OR REPLACE FUNCTION public.replay_webhook_deliveries (
  p_org_id      uuid,
  p_from        timestamp with time zone,
  p_to          timestamp with time zone,
  p_endpoint_id uuid                     DEFAULT NULL::uuid,
  p_event_type  text                     DEFAULT NULL::text,
  p_status      text                     DEFAULT 'dead'::text,
  p_dry_run     boolean                  DEFAULT true,
  p_per_second  integer                  DEFAULT 50
)
  RETURNS TABLE (
    matched  bigint,
    replayed bigint
  )
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
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
$function$;

REVOKE ALL ON FUNCTION "public"."replay_webhook_deliveries"(uuid, timestamp WITH time zone, timestamp WITH time zone, uuid, text, text, boolean, integer) FROM PUBLIC, "anon";

CREATE OR REPLACE FUNCTION public.rotate_webhook_secret (
  p_org_id      uuid,
  p_endpoint_id uuid
)
  RETURNS TABLE (
    secret               text,
    previous_valid_until timestamp with time zone
  )
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
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
$function$;

REVOKE ALL ON FUNCTION "public"."rotate_webhook_secret"(uuid, uuid) FROM PUBLIC, "anon";

CREATE OR REPLACE FUNCTION public.send_test_webhook (
  p_org_id      uuid,
  p_endpoint_id uuid
)
  RETURNS uuid
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
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
$function$;

REVOKE ALL ON FUNCTION "public"."send_test_webhook"(uuid, uuid) FROM PUBLIC, "anon";

CREATE OR REPLACE FUNCTION public.update_webhook_endpoint (
  p_org_id                uuid,
  p_endpoint_id           uuid,
  p_url                   text     DEFAULT NULL::text,
  p_event_types           text[]   DEFAULT NULL::text[],
  p_description           text     DEFAULT NULL::text,
  p_filter                jsonb    DEFAULT NULL::jsonb,
  p_headers               jsonb    DEFAULT NULL::jsonb,
  p_enabled               boolean  DEFAULT NULL::boolean,
  p_timeout_ms            integer  DEFAULT NULL::integer,
  p_max_attempts          integer  DEFAULT NULL::integer,
  p_rate_limit_per_second integer  DEFAULT NULL::integer,
  p_secret_rotation_grace interval DEFAULT NULL::interval
)
  RETURNS public.webhook_endpoints
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
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
$function$;

REVOKE ALL ON FUNCTION "public"."update_webhook_endpoint"(uuid, uuid, text, text[], text, jsonb, jsonb, boolean, integer, integer, integer, interval) FROM PUBLIC, "anon";

CREATE OR REPLACE FUNCTION public.verify_audit_checkpoint (
  p_org_id uuid,
  p_seq    bigint,
  p_hash   text
)
  RETURNS TABLE (
    ok           boolean,
    rows_checked bigint,
    reason       text
  )
  LANGUAGE plpgsql
  STABLE
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_row public.audit_log;
  v_chain record;
begin
  perform private.require_permission(p_org_id, 'audit:read');
  if p_hash is null or p_hash !~ '^[0-9a-f]{64}$' then
    raise exception 'hash must be 64 hexadecimal digits, as audit.checkpoint sends it'
      using errcode = '22023', detail = 'field: hash';
  end if;
  select * into v_row from public.audit_log a where a.org_id = p_org_id and a.seq = p_seq;
  if v_row.seq is null then
    if exists (select 1 from private.audit_chain_checkpoints c
               where c.org_id = p_org_id and c.seq >= p_seq) then
      -- Retention dropped it; the chain is checked from its own checkpoint.
      return query select v.ok, v.rows_checked,
        coalesce(v.reason, 'row past retention; the chain since verifies')
        from private.verify_audit_chain(p_org_id) v;
      return;
    end if;
    return query select false, 0::bigint, format('no audit row %s: the chain was cut or never reached it', p_seq);
    return;
  end if;
  if encode(v_row.hash, 'hex') <> p_hash then
    return query select false, 0::bigint, format('row %s no longer has the checkpoint''s hash: history was rewritten', p_seq);
    return;
  end if;
  select * into v_chain from private.verify_audit_chain(p_org_id, v_row.occurred_at) v;
  return query select v_chain.ok, v_chain.rows_checked,
    coalesce(v_chain.reason, 'the checkpoint matches and the chain since verifies');
end;
$function$;

REVOKE ALL ON FUNCTION "public"."verify_audit_checkpoint"(uuid, bigint, text) FROM PUBLIC, "anon";

ALTER TABLE "public"."webhook_attempts"
  ADD CONSTRAINT "webhook_attempts_error_class_check"
    CHECK ((error_class = ANY (ARRAY['timeout'::text, 'connection'::text, 'tls'::text, 'dns'::text, 'ssrf_blocked'::text, 'http_status'::text, 'quota'::text])));

ALTER TABLE "public"."webhook_attempts"
  ADD CONSTRAINT "webhook_attempts_excerpt_length" CHECK ((octet_length(response_excerpt) <= 1024));

ALTER TABLE "public"."webhook_attempts"
  ADD CONSTRAINT "webhook_attempts_pkey" PRIMARY KEY (org_id, attempted_at, id);

ALTER TABLE "public"."webhook_endpoints"
  ADD CONSTRAINT "webhook_endpoints_created_by_fkey" FOREIGN KEY (created_by) REFERENCES auth.users(id) ON DELETE SET NULL;

ALTER TABLE "public"."webhook_endpoints"
  ADD CONSTRAINT "webhook_endpoints_org_id_fkey" FOREIGN KEY (org_id) REFERENCES public.organizations(id) ON DELETE CASCADE;

ALTER TABLE "private"."webhook_endpoint_secrets"
  ADD CONSTRAINT "webhook_endpoint_secrets_org_id_endpoint_id_fkey" FOREIGN KEY (org_id, endpoint_id) REFERENCES public.webhook_endpoints(org_id, id) ON DELETE CASCADE;

ALTER TABLE "public"."webhook_deliveries"
  ADD CONSTRAINT "webhook_deliveries_org_id_endpoint_id_fkey" FOREIGN KEY (org_id, endpoint_id) REFERENCES public.webhook_endpoints(org_id, id) ON DELETE CASCADE;

ALTER TABLE "public"."webhook_endpoint_hourly_stats"
  ADD CONSTRAINT "webhook_endpoint_hourly_stats_org_id_endpoint_id_fkey" FOREIGN KEY (org_id, endpoint_id) REFERENCES public.webhook_endpoints(org_id, id) ON DELETE CASCADE;

CREATE VIEW "analytics"."webhook_endpoint_stats" WITH (security_invoker=true) AS  SELECT e.org_id,
    e.id AS endpoint_id,
    e.url,
    e.enabled,
    COALESCE(s.attempts, 0) AS attempts_24h,
        CASE
            WHEN (s.attempts > 0) THEN round(((s.succeeded)::numeric / (s.attempts)::numeric), 4)
            ELSE NULL::numeric
        END AS success_rate_24h,
    private.webhook_latency_percentile(s.buckets, (0.5)::double precision) AS latency_p50_ms,
    private.webhook_latency_percentile(s.buckets, (0.95)::double precision) AS latency_p95_ms,
    COALESCE(s.succeeded, 0) AS succeeded_24h,
    COALESCE(s.failed, 0) AS failed_attempts_24h,
    COALESCE(s.dead, 0) AS dead_24h,
    (now() - ( SELECT min(d.created_at) AS min
           FROM public.webhook_deliveries d
          WHERE ((d.org_id = e.org_id) AND (d.endpoint_id = e.id) AND (d.status = ANY (ARRAY['pending'::text, 'failed'::text, 'delivering'::text]))))) AS oldest_pending_age
   FROM (public.webhook_endpoints e
     LEFT JOIN LATERAL ( SELECT (sum(h.attempts))::integer AS attempts,
            (sum(h.succeeded))::integer AS succeeded,
            (sum(h.failed))::integer AS failed,
            (sum(h.dead))::integer AS dead,
            ARRAY( SELECT (sum(b.n))::integer AS sum
                   FROM public.webhook_endpoint_hourly_stats h2,
                    LATERAL unnest(h2.latency_buckets) WITH ORDINALITY b(n, i)
                  WHERE ((h2.org_id = e.org_id) AND (h2.endpoint_id = e.id) AND (h2.hour >= (date_trunc('hour'::text, now()) - '23:00:00'::interval)))
                  GROUP BY b.i
                  ORDER BY b.i) AS buckets
           FROM public.webhook_endpoint_hourly_stats h
          WHERE ((h.org_id = e.org_id) AND (h.endpoint_id = e.id) AND (h.hour >= (date_trunc('hour'::text, now()) - '23:00:00'::interval)))) s ON (true));

CREATE INDEX webhook_attempts_delivery_idx ON ONLY public.webhook_attempts USING btree (org_id, delivery_id, attempted_at);

CREATE INDEX webhook_attempts_endpoint_idx ON ONLY public.webhook_attempts USING btree (org_id, endpoint_id, attempted_at);

CREATE INDEX webhook_deliveries_due_idx ON public.webhook_deliveries USING btree (next_attempt_at)
  WHERE (status = ANY (ARRAY['pending'::text, 'failed'::text]));

CREATE INDEX webhook_deliveries_endpoint_idx ON public.webhook_deliveries USING btree (org_id, endpoint_id, created_at DESC);

CREATE INDEX webhook_deliveries_event_idx ON public.webhook_deliveries USING btree (org_id, event_id);

CREATE INDEX webhook_deliveries_finished_idx ON public.webhook_deliveries USING btree (finished_at)
  WHERE (finished_at IS NOT NULL);

CREATE INDEX webhook_deliveries_leased_idx ON public.webhook_deliveries USING btree (lease_expires_at)
  WHERE (status = 'delivering'::text);

CREATE INDEX webhook_deliveries_ordering_idx ON public.webhook_deliveries USING btree (org_id, endpoint_id, ordering_key, created_at)
  WHERE ((ordering_key IS NOT NULL) AND (status = ANY (ARRAY['pending'::text, 'failed'::text, 'delivering'::text])));

CREATE INDEX webhook_endpoint_hourly_stats_hour_idx ON public.webhook_endpoint_hourly_stats USING btree (hour);

CREATE INDEX webhook_endpoints_created_by_idx ON public.webhook_endpoints USING btree (created_by)
  WHERE (created_by IS NOT NULL);

CREATE TRIGGER api_keys_webhook_events
  AFTER INSERT OR UPDATE OF revoked_at, replaced_by ON public.api_keys
  FOR EACH ROW
  EXECUTE FUNCTION private.emit_change_events();

CREATE TRIGGER organization_members_webhook_events
  AFTER INSERT OR DELETE OR UPDATE OF status, ROLE ON public.organization_members
  FOR EACH ROW
  EXECUTE FUNCTION private.emit_change_events();

CREATE TRIGGER profile_merges_webhook_events
  AFTER INSERT OR UPDATE OF unmerged_at ON public.profile_merges
  FOR EACH ROW
  EXECUTE FUNCTION private.emit_change_events();

CREATE TRIGGER webhook_attempts_append_only
  BEFORE DELETE OR UPDATE ON public.webhook_attempts
  FOR EACH ROW
  EXECUTE FUNCTION private.refuse_append_only_change();

CREATE TRIGGER webhook_deliveries_set_updated_at
  BEFORE UPDATE ON public.webhook_deliveries
  FOR EACH ROW
  EXECUTE FUNCTION private.set_updated_at();

CREATE TRIGGER webhook_endpoints_set_updated_at
  BEFORE UPDATE ON public.webhook_endpoints
  FOR EACH ROW
  EXECUTE FUNCTION private.set_updated_at();

CREATE POLICY "Webhook readers can read their organization's attempts" ON "public"."webhook_attempts"
  FOR SELECT
  TO "authenticated"
  USING ((org_id = ANY (( SELECT private.org_ids_with_permission('webhooks:read'::text) AS org_ids_with_permission)::uuid[])));

CREATE POLICY "Webhook readers can read their organization's deliveries" ON "public"."webhook_deliveries"
  FOR SELECT
  TO "authenticated"
  USING ((org_id = ANY (( SELECT private.org_ids_with_permission('webhooks:read'::text) AS org_ids_with_permission)::uuid[])));

CREATE POLICY "Webhook readers can read their organization's delivery stats" ON "public"."webhook_endpoint_hourly_stats"
  FOR SELECT
  TO "authenticated"
  USING ((org_id = ANY (( SELECT private.org_ids_with_permission('webhooks:read'::text) AS org_ids_with_permission)::uuid[])));

CREATE POLICY "Webhook readers can read their organization's endpoints" ON "public"."webhook_endpoints"
  FOR SELECT
  TO "authenticated"
  USING ((org_id = ANY (( SELECT private.org_ids_with_permission('webhooks:read'::text) AS org_ids_with_permission)::uuid[])));

CREATE POLICY "Signed-in users can read the event type catalogue" ON "public"."webhook_event_types"
  FOR SELECT
  TO "authenticated"
  USING (true);

COMMENT ON COLUMN "public"."webhook_deliveries"."event_id" IS 'The event''s id, sent as webhook-id: the same across retries and replays, for receivers to deduplicate.';

COMMENT ON COLUMN "public"."webhook_endpoints"."failing_since" IS 'When the current run of failed attempts began (null when the last attempt succeeded); 5 days disable the endpoint.';

COMMENT ON FUNCTION "private"."claim_webhook_deliveries"(text, integer, interval) IS 'Claims due webhook deliveries for a dispatcher (SKIP LOCKED, leased, per-key FIFO, quota-aware) with what sending needs.';

COMMENT ON FUNCTION "private"."disable_webhook_endpoint"(uuid, uuid, text) IS 'Disables a webhook endpoint with a reason, audits it and emits endpoint.disabled to the other endpoints.';

COMMENT ON FUNCTION "private"."emit_audit_checkpoints"() IS 'Emits audit.checkpoint (the audit chain''s head) to organizations subscribed to it; daily by pg_cron.';

COMMENT ON FUNCTION "private"."emit_change_events"() IS 'Trigger: emits member.*, api_key.* and profile.(un)merged webhook events for row changes, in their transaction.';

COMMENT ON FUNCTION "private"."emit_webhook_event"(uuid, text, jsonb, text) IS 'Appends an event to the webhook outbox and fans it out to matching endpoints, in the caller''s transaction; returns its id (the webhook-id).';

COMMENT ON FUNCTION "private"."meter_webhook_deliveries"(uuid, bigint) IS 'Meters a batch''s successful webhook deliveries for one organization; never undoes one already made.';

COMMENT ON FUNCTION "private"."new_webhook_secret"() IS 'A new webhook signing secret: whsec_ and base64 of 32 random bytes.';

COMMENT ON FUNCTION "private"."record_webhook_results"(text, jsonb) IS 'Records a dispatcher''s attempts and settles its deliveries (succeeded, retried with Svix''s schedule, or dead), and endpoint health.';

COMMENT ON FUNCTION "private"."sum_buckets"(integer[]) IS 'Element-wise sum of the rows of a 2-D array of latency histograms.';

COMMENT ON FUNCTION "private"."sweep_webhook_deliveries"() IS 'Deletes settled webhook deliveries older than 90 days, 10,000 a run; daily by pg_cron.';

COMMENT ON FUNCTION "private"."webhook_headers_valid"(jsonb) IS 'Whether custom webhook headers are allowed: string values, 4 KB at most, none of the signature or hop-by-hop headers.';

COMMENT ON FUNCTION "private"."webhook_latency_bucket"(integer) IS 'A latency histogram (buckets of private.webhook_latency_edges plus one) holding one attempt of this duration.';

COMMENT ON FUNCTION "private"."webhook_latency_edges"() IS 'Upper edges (ms) of webhook latency histogram buckets; one more bucket takes the rest.';

COMMENT ON FUNCTION "private"."webhook_latency_percentile"(integer[], double precision) IS 'The upper bound of a percentile of a webhook latency histogram (ms); null when empty or past the last edge.';

COMMENT ON FUNCTION "private"."webhook_quota_exhausted"(uuid) IS 'Whether the organization''s hard webhook_deliveries quota is used up (deliveries then wait for the next period).';

COMMENT ON FUNCTION "private"."webhook_retry_delay"(integer, text, integer, integer, double precision) IS 'Delay before the next webhook attempt: Svix''s 5s, 5m, 30m, 2h, 5h, 10h, 10h with +-20% jitter; >= 60 s after a timeout or 429; honours a longer Retry-After (<= 1 day).';

COMMENT ON FUNCTION "private"."webhook_type_matches"(text[], text) IS 'Whether an event type matches an endpoint''s filter: *, the exact type, or a prefix wildcard like profile.*.';

COMMENT ON FUNCTION "private"."webhook_url_error"(text) IS 'Why an endpoint URL is refused ("rule: message"), or null: https only, no credentials, no reserved or numeric address literal.';

COMMENT ON FUNCTION "public"."create_webhook_endpoint"(uuid, text, text[], text, jsonb, jsonb, integer, integer, integer, interval) IS 'Creates a webhook endpoint (webhooks:manage); returns it with its signing secret, shown only this once.';

COMMENT ON FUNCTION "public"."delete_webhook_endpoint"(uuid, uuid) IS 'Deletes a webhook endpoint, its secrets and its queued deliveries (webhooks:manage).';

COMMENT ON FUNCTION "public"."list_webhook_attempts"(uuid, uuid, uuid, timestamp with time zone, uuid, integer) IS 'Webhook attempts newest first, by delivery or endpoint, in keyset pages (at most 500); RLS applies.';

COMMENT ON FUNCTION "public"."list_webhook_deliveries"(uuid, uuid, text, text, timestamp with time zone, uuid, integer) IS 'Webhook deliveries newest first, by endpoint, status and type, in keyset pages (at most 500); RLS applies.';

COMMENT ON FUNCTION "public"."replay_webhook_deliveries"(uuid, timestamp with time zone, timestamp with time zone, uuid, text, text, boolean, integer) IS 'Replays deliveries matching endpoint, type, status and time range (webhooks:manage); a dry run (default) only counts. Replays keep the webhook-id.';

COMMENT ON FUNCTION "public"."rotate_webhook_secret"(uuid, uuid) IS 'Rotates an endpoint''s signing secret (webhooks:manage), returned once; the previous one signs too during the grace.';

COMMENT ON FUNCTION "public"."send_test_webhook"(uuid, uuid) IS 'Queues a webhook.test event for one endpoint (webhooks:manage); returns the event id (its webhook-id).';

COMMENT ON FUNCTION "public"."update_webhook_endpoint"(uuid, uuid, text, text[], text, jsonb, jsonb, boolean, integer, integer, integer, interval) IS 'Changes a webhook endpoint (webhooks:manage); arguments left null keep their value.';

COMMENT ON FUNCTION "public"."verify_audit_checkpoint"(uuid, bigint, text) IS 'Checks the audit chain against a checkpoint kept outside the database (seq and hex hash from audit.checkpoint); audit:read.';

COMMENT ON TABLE "private"."webhook_delivery_policy" IS 'One row: whether webhook endpoints may use plain http and private addresses (local development only). RLS on with no policy: only definer functions reach it.';

COMMENT ON TABLE "private"."webhook_endpoint_secrets" IS 'Signing secrets (whsec_...) per endpoint, and the previous one during its rotation grace. RLS on with no policy: only definer functions reach it.';

COMMENT ON TABLE "public"."webhook_attempts" IS 'Append-only log of webhook delivery attempts: status, latency, address, error class and response excerpt.';

COMMENT ON TABLE "public"."webhook_deliveries" IS 'The webhook delivery queue: one row per event and endpoint, from pending to succeeded or dead (the dead-letter queue).';

COMMENT ON TABLE "public"."webhook_endpoint_hourly_stats" IS 'Webhook attempts per endpoint and hour, by outcome, with a latency histogram: the rollup behind analytics.webhook_endpoint_stats.';

COMMENT ON TABLE "public"."webhook_endpoints" IS 'Customer endpoints that receive webhook events, with their filters and delivery settings; secrets are kept apart.';

COMMENT ON TABLE "public"."webhook_event_types" IS 'Catalogue of webhook event types: description, JSON Schema of the data, and an example.';

COMMENT ON VIEW "analytics"."webhook_endpoint_stats" IS 'Per webhook endpoint over 24 h: attempts, success rate, latency p50/p95 (ms, bucket bounds), deliveries succeeded and dead, oldest pending age.';

REVOKE ALL ON FUNCTION "private"."claim_webhook_deliveries"(text, integer, interval) FROM PUBLIC;

REVOKE ALL ON FUNCTION "private"."claim_webhook_deliveries"(text, integer, interval) FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."claim_webhook_deliveries"(text, integer, interval) TO "postgres";

GRANT EXECUTE ON FUNCTION "private"."claim_webhook_deliveries"(text, integer, interval) TO "service_role";

REVOKE ALL ON FUNCTION "private"."disable_webhook_endpoint"(uuid, uuid, text) FROM PUBLIC;

REVOKE ALL ON FUNCTION "private"."disable_webhook_endpoint"(uuid, uuid, text) FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."disable_webhook_endpoint"(uuid, uuid, text) TO "postgres";

REVOKE ALL ON FUNCTION "private"."emit_audit_checkpoints"() FROM PUBLIC;

REVOKE ALL ON FUNCTION "private"."emit_audit_checkpoints"() FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."emit_audit_checkpoints"() TO "postgres";

REVOKE ALL ON FUNCTION "private"."emit_change_events"() FROM PUBLIC;

REVOKE ALL ON FUNCTION "private"."emit_change_events"() FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."emit_change_events"() TO "postgres";

REVOKE ALL ON FUNCTION "private"."emit_webhook_event"(uuid, text, jsonb, text) FROM PUBLIC;

REVOKE ALL ON FUNCTION "private"."emit_webhook_event"(uuid, text, jsonb, text) FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."emit_webhook_event"(uuid, text, jsonb, text) TO "postgres";

GRANT EXECUTE ON FUNCTION "private"."emit_webhook_event"(uuid, text, jsonb, text) TO "service_role";

REVOKE ALL ON FUNCTION "private"."meter_webhook_deliveries"(uuid, bigint) FROM PUBLIC;

REVOKE ALL ON FUNCTION "private"."meter_webhook_deliveries"(uuid, bigint) FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."meter_webhook_deliveries"(uuid, bigint) TO "postgres";

REVOKE ALL ON FUNCTION "private"."new_webhook_secret"() FROM PUBLIC;

REVOKE ALL ON FUNCTION "private"."new_webhook_secret"() FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."new_webhook_secret"() TO "postgres";

REVOKE ALL ON FUNCTION "private"."record_webhook_results"(text, jsonb) FROM PUBLIC;

REVOKE ALL ON FUNCTION "private"."record_webhook_results"(text, jsonb) FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."record_webhook_results"(text, jsonb) TO "postgres";

GRANT EXECUTE ON FUNCTION "private"."record_webhook_results"(text, jsonb) TO "service_role";

REVOKE ALL ON FUNCTION "private"."sum_buckets"(integer[]) FROM PUBLIC;

REVOKE ALL ON FUNCTION "private"."sum_buckets"(integer[]) FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."sum_buckets"(integer[]) TO "postgres";

REVOKE ALL ON FUNCTION "private"."sweep_webhook_deliveries"() FROM PUBLIC;

REVOKE ALL ON FUNCTION "private"."sweep_webhook_deliveries"() FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."sweep_webhook_deliveries"() TO "postgres";

REVOKE ALL ON FUNCTION "private"."webhook_headers_valid"(jsonb) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "private"."webhook_headers_valid"(jsonb) TO "authenticated";

REVOKE ALL ON FUNCTION "private"."webhook_headers_valid"(jsonb) FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."webhook_headers_valid"(jsonb) TO "postgres";

GRANT EXECUTE ON FUNCTION "private"."webhook_headers_valid"(jsonb) TO "service_role";

REVOKE ALL ON FUNCTION "private"."webhook_latency_bucket"(integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION "private"."webhook_latency_bucket"(integer) FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."webhook_latency_bucket"(integer) TO "postgres";

REVOKE ALL ON FUNCTION "private"."webhook_latency_edges"() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "private"."webhook_latency_edges"() TO "authenticated";

REVOKE ALL ON FUNCTION "private"."webhook_latency_edges"() FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."webhook_latency_edges"() TO "postgres";

GRANT EXECUTE ON FUNCTION "private"."webhook_latency_edges"() TO "service_role";

REVOKE ALL ON FUNCTION "private"."webhook_latency_percentile"(integer[], double precision) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "private"."webhook_latency_percentile"(integer[], double precision) TO "authenticated";

REVOKE ALL ON FUNCTION "private"."webhook_latency_percentile"(integer[], double precision) FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."webhook_latency_percentile"(integer[], double precision) TO "postgres";

GRANT EXECUTE ON FUNCTION "private"."webhook_latency_percentile"(integer[], double precision) TO "service_role";

REVOKE ALL ON FUNCTION "private"."webhook_quota_exhausted"(uuid) FROM PUBLIC;

REVOKE ALL ON FUNCTION "private"."webhook_quota_exhausted"(uuid) FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."webhook_quota_exhausted"(uuid) TO "postgres";

REVOKE ALL ON FUNCTION "private"."webhook_retry_delay"(integer, text, integer, integer, double precision) FROM PUBLIC;

REVOKE ALL ON FUNCTION "private"."webhook_retry_delay"(integer, text, integer, integer, double precision) FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."webhook_retry_delay"(integer, text, integer, integer, double precision) TO "postgres";

REVOKE ALL ON FUNCTION "private"."webhook_type_matches"(text[], text) FROM PUBLIC;

REVOKE ALL ON FUNCTION "private"."webhook_type_matches"(text[], text) FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."webhook_type_matches"(text[], text) TO "postgres";

REVOKE ALL ON FUNCTION "private"."webhook_url_error"(text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "private"."webhook_url_error"(text) TO "authenticated";

REVOKE ALL ON FUNCTION "private"."webhook_url_error"(text) FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."webhook_url_error"(text) TO "postgres";

GRANT EXECUTE ON FUNCTION "private"."webhook_url_error"(text) TO "service_role";

GRANT EXECUTE ON FUNCTION "public"."create_webhook_endpoint"(uuid, text, text[], text, jsonb, jsonb, integer, integer, integer, interval) TO "authenticated";

REVOKE ALL ON FUNCTION "public"."create_webhook_endpoint"(uuid, text, text[], text, jsonb, jsonb, integer, integer, integer, interval) FROM "postgres";

GRANT EXECUTE ON FUNCTION "public"."create_webhook_endpoint"(uuid, text, text[], text, jsonb, jsonb, integer, integer, integer, interval) TO "postgres";

GRANT EXECUTE ON FUNCTION "public"."create_webhook_endpoint"(uuid, text, text[], text, jsonb, jsonb, integer, integer, integer, interval) TO "service_role";

GRANT EXECUTE ON FUNCTION "public"."delete_webhook_endpoint"(uuid, uuid) TO "authenticated";

REVOKE ALL ON FUNCTION "public"."delete_webhook_endpoint"(uuid, uuid) FROM "postgres";

GRANT EXECUTE ON FUNCTION "public"."delete_webhook_endpoint"(uuid, uuid) TO "postgres";

GRANT EXECUTE ON FUNCTION "public"."delete_webhook_endpoint"(uuid, uuid) TO "service_role";

GRANT EXECUTE ON FUNCTION "public"."list_webhook_attempts"(uuid, uuid, uuid, timestamp WITH time zone, uuid, integer) TO "authenticated";

REVOKE ALL ON FUNCTION "public"."list_webhook_attempts"(uuid, uuid, uuid, timestamp WITH time zone, uuid, integer) FROM "postgres";

GRANT EXECUTE ON FUNCTION "public"."list_webhook_attempts"(uuid, uuid, uuid, timestamp WITH time zone, uuid, integer) TO "postgres";

GRANT EXECUTE ON FUNCTION "public"."list_webhook_attempts"(uuid, uuid, uuid, timestamp WITH time zone, uuid, integer) TO "service_role";

GRANT EXECUTE ON FUNCTION "public"."list_webhook_deliveries"(uuid, uuid, text, text, timestamp WITH time zone, uuid, integer) TO "authenticated";

REVOKE ALL ON FUNCTION "public"."list_webhook_deliveries"(uuid, uuid, text, text, timestamp WITH time zone, uuid, integer) FROM "postgres";

GRANT EXECUTE ON FUNCTION "public"."list_webhook_deliveries"(uuid, uuid, text, text, timestamp WITH time zone, uuid, integer) TO "postgres";

GRANT EXECUTE ON FUNCTION "public"."list_webhook_deliveries"(uuid, uuid, text, text, timestamp WITH time zone, uuid, integer) TO "service_role";

GRANT EXECUTE ON FUNCTION "public"."replay_webhook_deliveries"(uuid, timestamp WITH time zone, timestamp WITH time zone, uuid, text, text, boolean, integer) TO "authenticated";

REVOKE ALL ON FUNCTION "public"."replay_webhook_deliveries"(uuid, timestamp WITH time zone, timestamp WITH time zone, uuid, text, text, boolean, integer) FROM "postgres";

GRANT EXECUTE ON FUNCTION "public"."replay_webhook_deliveries"(uuid, timestamp WITH time zone, timestamp WITH time zone, uuid, text, text, boolean, integer) TO "postgres";

GRANT EXECUTE ON FUNCTION "public"."replay_webhook_deliveries"(uuid, timestamp WITH time zone, timestamp WITH time zone, uuid, text, text, boolean, integer) TO "service_role";

GRANT EXECUTE ON FUNCTION "public"."rotate_webhook_secret"(uuid, uuid) TO "authenticated";

REVOKE ALL ON FUNCTION "public"."rotate_webhook_secret"(uuid, uuid) FROM "postgres";

GRANT EXECUTE ON FUNCTION "public"."rotate_webhook_secret"(uuid, uuid) TO "postgres";

GRANT EXECUTE ON FUNCTION "public"."rotate_webhook_secret"(uuid, uuid) TO "service_role";

GRANT EXECUTE ON FUNCTION "public"."send_test_webhook"(uuid, uuid) TO "authenticated";

REVOKE ALL ON FUNCTION "public"."send_test_webhook"(uuid, uuid) FROM "postgres";

GRANT EXECUTE ON FUNCTION "public"."send_test_webhook"(uuid, uuid) TO "postgres";

GRANT EXECUTE ON FUNCTION "public"."send_test_webhook"(uuid, uuid) TO "service_role";

GRANT EXECUTE ON FUNCTION "public"."update_webhook_endpoint"(uuid, uuid, text, text[], text, jsonb, jsonb, boolean, integer, integer, integer, interval) TO "authenticated";

REVOKE ALL ON FUNCTION "public"."update_webhook_endpoint"(uuid, uuid, text, text[], text, jsonb, jsonb, boolean, integer, integer, integer, interval) FROM "postgres";

GRANT EXECUTE ON FUNCTION "public"."update_webhook_endpoint"(uuid, uuid, text, text[], text, jsonb, jsonb, boolean, integer, integer, integer, interval) TO "postgres";

GRANT EXECUTE ON FUNCTION "public"."update_webhook_endpoint"(uuid, uuid, text, text[], text, jsonb, jsonb, boolean, integer, integer, integer, interval) TO "service_role";

GRANT EXECUTE ON FUNCTION "public"."verify_audit_checkpoint"(uuid, bigint, text) TO "authenticated";

REVOKE ALL ON FUNCTION "public"."verify_audit_checkpoint"(uuid, bigint, text) FROM "postgres";

GRANT EXECUTE ON FUNCTION "public"."verify_audit_checkpoint"(uuid, bigint, text) TO "postgres";

GRANT EXECUTE ON FUNCTION "public"."verify_audit_checkpoint"(uuid, bigint, text) TO "service_role";

REVOKE ALL ON TABLE "public"."webhook_attempts" FROM "authenticated";

GRANT SELECT ON TABLE "public"."webhook_attempts" TO "authenticated";

REVOKE ALL ON TABLE "public"."webhook_attempts" FROM "postgres";

GRANT DELETE, INSERT, REFERENCES, SELECT, TRIGGER, TRUNCATE, UPDATE ON TABLE "public"."webhook_attempts" TO "postgres";

REVOKE ALL ON TABLE "public"."webhook_attempts" FROM "service_role";

GRANT SELECT ON TABLE "public"."webhook_attempts" TO "service_role";

REVOKE ALL ON TABLE "public"."webhook_deliveries" FROM "authenticated";

GRANT SELECT ON TABLE "public"."webhook_deliveries" TO "authenticated";

REVOKE ALL ON TABLE "public"."webhook_deliveries" FROM "postgres";

GRANT DELETE, INSERT, REFERENCES, SELECT, TRIGGER, TRUNCATE, UPDATE ON TABLE "public"."webhook_deliveries" TO "postgres";

REVOKE ALL ON TABLE "public"."webhook_deliveries" FROM "service_role";

GRANT SELECT ON TABLE "public"."webhook_deliveries" TO "service_role";

REVOKE ALL ON TABLE "public"."webhook_endpoint_hourly_stats" FROM "authenticated";

GRANT SELECT ON TABLE "public"."webhook_endpoint_hourly_stats" TO "authenticated";

REVOKE ALL ON TABLE "public"."webhook_endpoint_hourly_stats" FROM "postgres";

GRANT DELETE, INSERT, REFERENCES, SELECT, TRIGGER, TRUNCATE, UPDATE ON TABLE "public"."webhook_endpoint_hourly_stats" TO "postgres";

REVOKE ALL ON TABLE "public"."webhook_endpoint_hourly_stats" FROM "service_role";

GRANT SELECT ON TABLE "public"."webhook_endpoint_hourly_stats" TO "service_role";

REVOKE ALL ON TABLE "public"."webhook_endpoints" FROM "authenticated";

GRANT SELECT ON TABLE "public"."webhook_endpoints" TO "authenticated";

REVOKE ALL ON TABLE "public"."webhook_endpoints" FROM "postgres";

GRANT DELETE, INSERT, REFERENCES, SELECT, TRIGGER, TRUNCATE, UPDATE ON TABLE "public"."webhook_endpoints" TO "postgres";

REVOKE ALL ON TABLE "public"."webhook_endpoints" FROM "service_role";

GRANT SELECT ON TABLE "public"."webhook_endpoints" TO "service_role";

REVOKE ALL ON TABLE "public"."webhook_event_types" FROM "authenticated";

GRANT SELECT ON TABLE "public"."webhook_event_types" TO "authenticated";

REVOKE ALL ON TABLE "public"."webhook_event_types" FROM "postgres";

GRANT DELETE, INSERT, REFERENCES, SELECT, TRIGGER, TRUNCATE, UPDATE ON TABLE "public"."webhook_event_types" TO "postgres";

REVOKE ALL ON TABLE "public"."webhook_event_types" FROM "service_role";

GRANT SELECT ON TABLE "public"."webhook_event_types" TO "service_role";

GRANT SELECT ON TABLE "analytics"."webhook_endpoint_stats" TO "authenticated", "service_role";

ALTER TABLE "public"."webhook_endpoints"
  ADD CONSTRAINT "webhook_endpoints_headers_valid" CHECK (private.webhook_headers_valid(headers));

-- HAND-WRITTEN: the catalogue, the policy row and the registry row, as
-- 90_reference_data holds them.
-- The webhook event types Meridian emits, each with the JSON Schema of its
-- data and an example (docs/webhooks.md lists them).
insert into public.webhook_event_types (type, description, schema, example) values
  ('member.added', 'A user became an active member of the organization.',
   '{"type": "object", "properties": {"user_id": {"type": "string", "format": "uuid"}, "email": {"type": "string"}, "role": {"type": "string"}}, "required": ["user_id", "email", "role"]}',
   '{"user_id": "00000000-0000-4000-a000-000000000001", "email": "ada@example.com", "role": "member"}'),
  ('member.removed', 'An active member was deactivated or removed.',
   '{"type": "object", "properties": {"user_id": {"type": "string", "format": "uuid"}, "email": {"type": "string"}, "role": {"type": "string"}}, "required": ["user_id", "email", "role"]}',
   '{"user_id": "00000000-0000-4000-a000-000000000001", "email": "ada@example.com", "role": "member"}'),
  ('member.role_changed', 'A member''s role changed.',
   '{"type": "object", "properties": {"user_id": {"type": "string", "format": "uuid"}, "email": {"type": "string"}, "previous_role": {"type": "string"}, "role": {"type": "string"}}, "required": ["user_id", "email", "previous_role", "role"]}',
   '{"user_id": "00000000-0000-4000-a000-000000000001", "email": "ada@example.com", "previous_role": "member", "role": "admin"}'),
  ('api_key.created', 'An API key was created (never its secret).',
   '{"type": "object", "properties": {"key_id": {"type": "string", "format": "uuid"}, "name": {"type": "string"}, "kind": {"type": "string"}, "prefix": {"type": "string"}, "scopes": {"type": "array", "items": {"type": "string"}}, "rotated_from": {"anyOf": [{"type": "string", "format": "uuid"}, {"type": "null"}]}}, "required": ["key_id", "name", "kind", "prefix", "scopes"]}',
   '{"key_id": "00000000-0000-4000-a000-000000000002", "name": "Backend", "kind": "secret", "prefix": "mk_live_AbCd", "scopes": ["customers:read"], "rotated_from": null}'),
  ('api_key.rotated', 'An API key was replaced by a successor; it works until expires_at.',
   '{"type": "object", "properties": {"key_id": {"type": "string", "format": "uuid"}, "successor_id": {"type": "string", "format": "uuid"}, "expires_at": {"type": "string", "format": "date-time"}}, "required": ["key_id", "successor_id", "expires_at"]}',
   '{"key_id": "00000000-0000-4000-a000-000000000002", "successor_id": "00000000-0000-4000-a000-000000000003", "expires_at": "2026-12-08T10:00:00Z"}'),
  ('api_key.revoked', 'An API key was revoked.',
   '{"type": "object", "properties": {"key_id": {"type": "string", "format": "uuid"}, "name": {"type": "string"}, "prefix": {"type": "string"}}, "required": ["key_id", "name", "prefix"]}',
   '{"key_id": "00000000-0000-4000-a000-000000000002", "name": "Backend", "prefix": "mk_live_AbCd"}'),
  ('profile.merged', 'Two profiles were found to be one person and merged.',
   '{"type": "object", "properties": {"merge_id": {"type": "string", "format": "uuid"}, "winner_id": {"type": "string", "format": "uuid"}, "loser_id": {"type": "string", "format": "uuid"}, "reason": {"type": "string"}}, "required": ["merge_id", "winner_id", "loser_id", "reason"]}',
   '{"merge_id": "00000000-0000-4000-a000-000000000004", "winner_id": "00000000-0000-4000-a000-000000000005", "loser_id": "00000000-0000-4000-a000-000000000006", "reason": "identify"}'),
  ('profile.unmerged', 'A merge was undone.',
   '{"type": "object", "properties": {"merge_id": {"type": "string", "format": "uuid"}, "winner_id": {"type": "string", "format": "uuid"}, "loser_id": {"type": "string", "format": "uuid"}}, "required": ["merge_id", "winner_id", "loser_id"]}',
   '{"merge_id": "00000000-0000-4000-a000-000000000004", "winner_id": "00000000-0000-4000-a000-000000000005", "loser_id": "00000000-0000-4000-a000-000000000006"}'),
  ('quota.threshold_reached', 'Usage of a plan quota crossed 80%, 90% or 100%.',
   '{"type": "object", "properties": {"metric": {"type": "string"}, "period": {"type": "string"}, "threshold": {"type": "integer"}, "quota": {"type": "integer"}, "used": {"type": "integer"}}, "required": ["metric", "period", "threshold", "quota", "used"]}',
   '{"metric": "events", "period": "month", "threshold": 80, "quota": 100000, "used": 80012}'),
  ('endpoint.disabled', 'A webhook endpoint was disabled (410 Gone, 5 days of failures, or an admin).',
   '{"type": "object", "properties": {"endpoint_id": {"type": "string", "format": "uuid"}, "url": {"type": "string"}, "reason": {"type": "string"}}, "required": ["endpoint_id", "url", "reason"]}',
   '{"endpoint_id": "00000000-0000-4000-a000-000000000007", "url": "https://hooks.example.com/meridian", "reason": "gone: the endpoint answered 410"}'),
  ('endpoint.recovered', 'A webhook endpoint succeeded again after failing.',
   '{"type": "object", "properties": {"endpoint_id": {"type": "string", "format": "uuid"}, "url": {"type": "string"}, "failing_since": {"type": "string", "format": "date-time"}}, "required": ["endpoint_id", "url", "failing_since"]}',
   '{"endpoint_id": "00000000-0000-4000-a000-000000000007", "url": "https://hooks.example.com/meridian", "failing_since": "2026-12-07T10:00:00Z"}'),
  ('audit.checkpoint', 'The daily head of the organization''s audit chain: an anchor held outside the database.',
   '{"type": "object", "properties": {"seq": {"type": "integer"}, "hash": {"type": "string"}, "occurred_at": {"type": "string", "format": "date-time"}}, "required": ["seq", "hash", "occurred_at"]}',
   '{"seq": 1042, "hash": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "occurred_at": "2026-12-07T00:00:00Z"}'),
  ('webhook.test', 'A test event sent from the admin tools.',
   '{"type": "object", "properties": {"endpoint_id": {"type": "string", "format": "uuid"}, "sent_by": {"anyOf": [{"type": "string", "format": "uuid"}, {"type": "null"}]}}, "required": ["endpoint_id"]}',
   '{"endpoint_id": "00000000-0000-4000-a000-000000000007", "sent_by": "00000000-0000-4000-a000-000000000001"}')
on conflict (type) do update set
  description = excluded.description,
  schema = excluded.schema,
  example = excluded.example;

-- https to public addresses only; supabase/seed.sql allows local receivers.
insert into private.webhook_delivery_policy (id, allow_insecure_destinations) values (true, false)
on conflict (id) do nothing;

insert into private.time_partitioned_tables (parent, partition_interval, premake, retention, retention_column, before_drop)
values ('public.webhook_attempts', '1 mon', 3, '90 days', null, null)
on conflict (parent) do nothing;
-- The attempts table's first partitions, as maintenance makes them.
select private.maintain_time_partitions();

-- HAND-WRITTEN: the jobs of 95_cron (the dispatcher's only where pg_net is).
-- Daily: delete settled webhook deliveries past the 90 days events are kept.
select cron.schedule('meridian-sweep-webhook-deliveries', '23 4 * * *',
                     'select private.sweep_webhook_deliveries()');

-- Daily: the audit chain's head to the organizations subscribed to audit.checkpoint.
select cron.schedule('meridian-audit-checkpoints', '7 0 * * *',
                     'select private.emit_audit_checkpoints()');

-- On a hosted project, every 5 seconds: pg_net calls the webhook-dispatch edge
-- function, which sends a few batches of due deliveries and returns. Where
-- pg_net is not installed (the local stack, whose scheduler plays this part
-- and also wakes the dispatcher on NOTIFY), nothing is scheduled. The URL and
-- the service role key come from Vault secrets of these names (docs/webhooks.md):
--   meridian_functions_url      e.g. https://<ref>.supabase.co/functions/v1
--   meridian_service_role_key   the project's service role key
do $$
begin
  if exists (select 1 from pg_catalog.pg_extension where extname = 'pg_net') then
    perform cron.schedule('meridian-webhook-dispatch', '5 seconds', $job$
      select net.http_post(
        url := (select decrypted_secret from vault.decrypted_secrets
                where name = 'meridian_functions_url') || '/webhook-dispatch',
        headers := jsonb_build_object('Authorization', 'Bearer ' ||
          (select decrypted_secret from vault.decrypted_secrets where name = 'meridian_service_role_key')),
        body := '{}'::jsonb,
        timeout_milliseconds := 60000)
    $job$);
  end if;
end;
$$;

-- Hardening (issue 26): what an outside review found, fixed where the rule lives.
-- Not-found errors answer 404 (PT404); rotation refuses scopes the caller lacks;
-- the password lockout refuses every attempt and counts per user; settings are
-- checked at write time and read defensively by ingestion; deleted organizations
-- are purged from every table in batches; audit rows hash the whole IP address
-- (hash_version 2), verification survives retention, and repeated key refusals
-- are counted instead of each appended to the chain; CSV cells are escaped;
-- saved views are bounded; foreign keys get covering indexes.
-- Schema files: see the commit; hand-written steps are marked HAND-WRITTEN.

SET local check_function_bodies = off;

CREATE TABLE "private"."api_key_rejections" (
  "org_id"     uuid                     NOT NULL,
  "key_id"     uuid                     NOT NULL,
  "hour"       timestamp with time zone NOT NULL,
  "reason"     text                     NOT NULL,
  "rejections" integer                  NOT NULL DEFAULT 1,
  "last_ip"    inet,
  "summarized" boolean                  NOT NULL DEFAULT false,
  CONSTRAINT "api_key_rejections_pkey" PRIMARY KEY (org_id, key_id, hour, reason)
);

ALTER TABLE "private"."api_key_rejections"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "private"."audit_chain_checkpoints" (
  "org_id"      uuid                     NOT NULL,
  "seq"         bigint                   NOT NULL,
  "hash"        bytea                    NOT NULL,
  "occurred_at" timestamp with time zone NOT NULL,
  "recorded_at" timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT "audit_chain_checkpoints_pkey" PRIMARY KEY (org_id)
);

ALTER TABLE "private"."audit_chain_checkpoints"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "private"."organization_purges" (
  "org_id"     uuid                     NOT NULL,
  "deleted_at" timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT "organization_purges_pkey" PRIMARY KEY (org_id)
);

ALTER TABLE "private"."organization_purges"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "private"."sign_in_failures" (
  "id"        bigint                   GENERATED ALWAYS AS IDENTITY NOT NULL,
  "user_id"   uuid                     NOT NULL,
  "failed_at" timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT "sign_in_failures_pkey" PRIMARY KEY (id)
);

ALTER TABLE "private"."sign_in_failures"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "private"."sign_in_lockout_policy" (
  "id"             boolean  NOT NULL DEFAULT true,
  "max_failures"   integer  NOT NULL,
  "lockout_window" interval NOT NULL,
  CONSTRAINT "sign_in_lockout_policy_max_failures_check" CHECK (((max_failures >= 1) AND (max_failures <= 100))),
  CONSTRAINT "sign_in_lockout_policy_pkey" PRIMARY KEY (id),
  CONSTRAINT "sign_in_lockout_policy_single_row" CHECK (id),
  CONSTRAINT "sign_in_lockout_policy_window_check" CHECK (((lockout_window >= '00:01:00'::interval) AND (lockout_window <= '1 day'::interval)))
);

ALTER TABLE "private"."sign_in_lockout_policy"
  ENABLE ROW LEVEL SECURITY;

ALTER TABLE "private"."time_partitioned_tables"
  ADD COLUMN "before_drop" text;

-- HAND-WRITTEN: the rows already chained were hashed as version 1; only rows
-- appended from now on are version 2.
ALTER TABLE "public"."audit_log"
  ADD COLUMN "hash_version" smallint NOT NULL DEFAULT 1;
ALTER TABLE "public"."audit_log"
  ALTER COLUMN "hash_version" SET DEFAULT 2;

-- Rows are appended as hash_version 2, with the client address the gateway added.
CREATE OR REPLACE FUNCTION private.append_audit (
  p_org_id        uuid,
  p_action        text,
  p_resource_type text,
  p_resource_id   text                DEFAULT NULL::text,
  p_before        jsonb               DEFAULT NULL::jsonb,
  p_after         jsonb               DEFAULT NULL::jsonb,
  p_risk          public.audit_risk   DEFAULT 'low'::public.audit_risk,
  p_status        public.audit_status DEFAULT 'success'::public.audit_status,
  p_tags          text[]              DEFAULT '{}'::text[],
  p_actor         jsonb               DEFAULT NULL::jsonb
)
  RETURNS public.audit_log
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  -- Who acts and from where, read once from the transaction's settings (this
  -- runs for every audited row, so it avoids nested helper calls): the JWT for
  -- user sessions, meridian.principal for API keys (set by edge functions), and
  -- the request headers PostgREST sets or the context functions pass.
  v_claims jsonb := nullif(current_setting('request.jwt.claims', true), '')::jsonb;
  v_headers jsonb := coalesce(nullif(current_setting('request.headers', true), '')::jsonb, '{}');
  v_req jsonb := coalesce(nullif(current_setting('meridian.request', true), '')::jsonb, '{}');
  v_actor jsonb := p_actor;
  v_key jsonb;
  v_masked_keys text[];
  v_retention interval;
  v_mask_pattern text;
  v_seq bigint;
  v_prev_hash bytea;
  v_row public.audit_log;
begin
  if v_actor is null then
    if v_claims ->> 'sub' is not null then
      v_actor := jsonb_build_object('type', 'user', 'user_id', v_claims ->> 'sub',
                                    'email', v_claims ->> 'email');
    else
      v_key := private.api_key_principal();
      v_actor := case when v_key is not null
        then jsonb_build_object('type', 'api_key', 'api_key_id', v_key ->> 'key_id')
        else jsonb_build_object('type', 'system') end;
    end if;
  end if;
  -- CLAIM THE NEXT LINK: the UPDATE locks the organization's head row until
  -- commit, so appends serialize per organization (never globally), and it
  -- returns the newest committed head even after waiting for another appender.
  -- The organization's audit settings ride along (it may be gone: deletions
  -- are audited too).
  update private.audit_chain_heads h set last_seq = h.last_seq + 1
  where h.org_id = p_org_id
  returning h.last_seq, h.last_hash,
            (select o.audit_masked_keys from public.organizations o where o.id = p_org_id),
            (select o.audit_retention from public.organizations o where o.id = p_org_id)
  into v_seq, v_prev_hash, v_masked_keys, v_retention;
  if v_seq is null then
    -- First event of this organization (or a concurrent first: then wait for it).
    insert into private.audit_chain_heads as h (org_id, last_seq, last_hash)
    values (p_org_id, 1, private.audit_genesis_hash(p_org_id))
    on conflict (org_id) do update set last_seq = h.last_seq + 1
    returning h.last_seq, h.last_hash,
              (select o.audit_masked_keys from public.organizations o where o.id = p_org_id),
              (select o.audit_retention from public.organizations o where o.id = p_org_id)
    into v_seq, v_prev_hash, v_masked_keys, v_retention;
  end if;
  -- mask_sensitive's own fast path, checked here to skip the call for clean images.
  v_mask_pattern := array_to_string(
    array['password', 'secret', 'token', 'api_key', 'key_hash', 'mfa_secret']
    || coalesce(v_masked_keys, '{}'), '|');

  -- BUILD, HASH AND APPEND THE ROW in one statement.
  insert into public.audit_log (
    org_id, seq, occurred_at, id, actor_type, actor_user_id, actor_email, actor_api_key_id,
    action, resource_type, resource_id, before, after, changed_fields, ip, user_agent,
    request_id, risk, tags, status, retention_until, prev_hash, hash, hash_version)
  select (c.r).org_id, (c.r).seq, (c.r).occurred_at, (c.r).id, (c.r).actor_type,
         (c.r).actor_user_id, (c.r).actor_email, (c.r).actor_api_key_id, (c.r).action,
         (c.r).resource_type, (c.r).resource_id, (c.r).before, (c.r).after,
         (c.r).changed_fields, (c.r).ip, (c.r).user_agent, (c.r).request_id, (c.r).risk,
         (c.r).tags, (c.r).status, (c.r).retention_until, (c.r).prev_hash,
         extensions.digest((c.r).prev_hash || convert_to(private.audit_canonical(c.r), 'UTF8'),
                           'sha256'),
         (c.r).hash_version
  from (
    select row(
      p_org_id,
      v_seq,
      -- clock_timestamp, taken while holding the head, keeps time order equal
      -- to chain order.
      t.now,
      gen_random_uuid(),
      v_actor ->> 'type',
      (v_actor ->> 'user_id')::uuid,
      v_actor ->> 'email',
      (v_actor ->> 'api_key_id')::uuid,
      p_action,
      p_resource_type,
      p_resource_id,
      case when lower(p_before::text) ~ v_mask_pattern
           then private.mask_sensitive(p_before, v_masked_keys) else p_before end,
      case when lower(p_after::text) ~ v_mask_pattern
           then private.mask_sensitive(p_after, v_masked_keys) else p_after end,
      -- Only an update has changed fields; inserts and deletes carry whole images.
      case when p_before is null or p_after is null then '{}'::text[] else
        coalesce((
          select array_agg(k order by k) from (
            select key as k from jsonb_each(p_after)
            union
            select key from jsonb_each(p_before)
          ) keys
          where p_before -> k is distinct from p_after -> k
            and k <> 'updated_at'), '{}') end,
      -- The right-most X-Forwarded-For entry is the one the gateway added;
      -- the ones left of it are whatever the client wrote.
      private.parse_ip(coalesce(v_req ->> 'ip',
                                btrim(substring(v_headers ->> 'x-forwarded-for' from '[^,]*$')))),
      left(coalesce(v_req ->> 'user_agent', v_headers ->> 'user-agent'), 512),
      left(coalesce(v_req ->> 'request_id', v_headers ->> 'x-request-id'), 128),
      p_risk,
      coalesce(p_tags, '{}'),
      p_status,
      t.now + coalesce(v_retention, interval '7 years'),
      v_prev_hash,
      null::bytea,    -- hash: computed over everything else, above
      null::tsvector, -- search: generated on insert
      2::smallint     -- hash_version: what audit_canonical hashes
    )::public.audit_log as r
    from (select clock_timestamp() as now) t
    offset 0
  ) c
  returning * into v_row;

  -- The head's hash moves only now that the row's hash is known.
  update private.audit_chain_heads set last_hash = v_row.hash where org_id = p_org_id;
  return v_row;
end;
$function$;

CREATE OR REPLACE FUNCTION private.audit_canonical (
  r public.audit_log
)
  RETURNS text
  LANGUAGE plpgsql
  IMMUTABLE
  SET search_path TO ''
  AS $function$
begin
  -- A row literal is unambiguous (values are quoted and escaped) and cheaper to
  -- build than JSON; jsonb, arrays, uuids and inet print the same in every
  -- session.
  if r.hash_version = 2 then
    -- The whole address with its mask, and the version, so that a row cannot
    -- be passed off as version 1 to hide a changed mask.
    return row(
      r.org_id, r.seq,
      pg_catalog.to_char(pg_catalog.timezone('UTC', r.occurred_at), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
      r.id, r.actor_type, r.actor_user_id, r.actor_email, r.actor_api_key_id,
      r.action, r.resource_type, r.resource_id, r.before, r.after, r.changed_fields,
      r.ip, r.user_agent, r.request_id, r.risk, r.tags, r.status,
      pg_catalog.to_char(pg_catalog.timezone('UTC', r.retention_until), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
      r.hash_version
    )::text;
  end if;
  -- Version 1, the rows written before: host(ip), no version.
  return row(
    r.org_id, r.seq,
    pg_catalog.to_char(pg_catalog.timezone('UTC', r.occurred_at), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    r.id, r.actor_type, r.actor_user_id, r.actor_email, r.actor_api_key_id,
    r.action, r.resource_type, r.resource_id, r.before, r.after, r.changed_fields,
    pg_catalog.host(r.ip), r.user_agent, r.request_id, r.risk, r.tags, r.status,
    pg_catalog.to_char(pg_catalog.timezone('UTC', r.retention_until), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
  )::text;
end;
$function$;

CREATE OR REPLACE FUNCTION private.check_identity_settings (
  p_limits     jsonb,
  p_priorities jsonb
)
  RETURNS boolean
  LANGUAGE plpgsql
  IMMUTABLE
  SET search_path TO ''
  AS $function$
declare
  v_field text;
  v_map jsonb;
  v_key text;
  v_value jsonb;
begin
  foreach v_field in array array['limits', 'priorities'] loop
    v_map := case v_field when 'limits' then p_limits else p_priorities end;
    for v_key, v_value in select e.key, e.value from jsonb_each(v_map) e loop
      if not (v_key in ('user_id', 'anonymous_id', 'email', 'phone', 'device_id')
              or v_key ~ '^external:[a-z0-9_]{1,40}$'
              or (v_field = 'limits' and v_key = '*')) then
        raise exception '%.% is not an identifier type', v_field, v_key
          using errcode = '22023', detail = format('field: %s.%s', v_field, v_key);
      end if;
      if jsonb_typeof(v_value) <> 'number' or (v_value #>> '{}')::numeric not between 1 and 1000
         or (v_value #>> '{}')::numeric <> trunc((v_value #>> '{}')::numeric) then
        raise exception '%.% must be a whole number from 1 to 1000', v_field, v_key
          using errcode = '22023', detail = format('field: %s.%s', v_field, v_key);
      end if;
    end loop;
  end loop;
  return true;
end;
$function$;

CREATE OR REPLACE FUNCTION private.check_organization_settings (
  p_settings jsonb
)
  RETURNS boolean
  LANGUAGE plpgsql
  IMMUTABLE
  SET search_path TO ''
  AS $function$
declare
  v_key text;
  v_value jsonb;
begin
  if octet_length(p_settings::text) > 65536 then
    raise exception 'settings must be at most 64 KB as JSON'
      using errcode = '22023', detail = 'field: settings';
  end if;
  if p_settings ? 'ip_handling' and (
       jsonb_typeof(p_settings -> 'ip_handling') <> 'string'
       or p_settings ->> 'ip_handling' not in ('keep', 'truncate', 'drop')) then
    raise exception 'settings.ip_handling must be one of keep, truncate, drop'
      using errcode = '22023', detail = 'field: settings.ip_handling';
  end if;
  if p_settings ? 'engagement_weights' then
    if jsonb_typeof(p_settings -> 'engagement_weights') <> 'object' then
      raise exception 'settings.engagement_weights must be an object of event weights'
        using errcode = '22023', detail = 'field: settings.engagement_weights';
    end if;
    for v_key, v_value in select e.key, e.value from jsonb_each(p_settings -> 'engagement_weights') e loop
      if jsonb_typeof(v_value) <> 'number' or (v_value #>> '{}')::numeric not between 0 and 1000 then
        raise exception 'settings.engagement_weights.% must be a number from 0 to 1000', v_key
          using errcode = '22023', detail = format('field: settings.engagement_weights.%s', v_key);
      end if;
    end loop;
  end if;
  return true;
end;
$function$;

CREATE OR REPLACE FUNCTION private.checkpoint_audit_partition (
  p_partition regclass
)
  RETURNS void
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
begin
  execute format($sql$
    insert into private.audit_chain_checkpoints as c (org_id, seq, hash, occurred_at)
    select distinct on (a.org_id) a.org_id, a.seq, a.hash, a.occurred_at
    from %s a
    order by a.org_id, a.seq desc
    on conflict (org_id) do update
      set seq = excluded.seq, hash = excluded.hash, occurred_at = excluded.occurred_at,
          recorded_at = now()
      where excluded.seq > c.seq
  $sql$, p_partition);
end;
$function$;

CREATE OR REPLACE FUNCTION private.create_time_partition (
  p_parent regclass,
  p_from   timestamp with time zone
)
  RETURNS regclass
  LANGUAGE plpgsql
  SET search_path TO ''
  AS $function$
declare
  v_interval interval;
  v_to timestamptz;
  v_name text;
  v_table text;
begin
  select partition_interval into strict v_interval
  from private.time_partitioned_tables where parent = p_parent;
  select c.relname into v_table from pg_catalog.pg_class c where c.oid = p_parent;
  v_to := p_from + v_interval;
  v_name := v_table || '_p' || to_char(p_from at time zone 'UTC',
    case when v_interval = '1 day' then 'YYYY_MM_DD' else 'YYYY_MM' end);
  -- One maker at a time per parent: the lock ATTACH takes anyway, taken first,
  -- so a second maker waits here and then sees the partition (taking a
  -- relation lock also brings this session's view of the catalog up to date;
  -- an advisory lock would not). ONLY: not the partitions.
  execute format('lock table only %s in share update exclusive mode', p_parent);
  if to_regclass(format('partitions.%I', v_name)) is null then
    execute format(
      'create table partitions.%I (like %s including defaults including constraints'
      ' including generated including storage including compression)',
      v_name, p_parent);
    -- Deny direct access: RLS on with no policy, and no grants to API roles.
    execute format('alter table partitions.%I enable row level security', v_name);
    execute format('revoke all on partitions.%I from anon, authenticated, service_role', v_name);
    execute format('comment on table partitions.%I is %L', v_name, format(
      'A partition of %s. RLS on with no policy: read and written through its parent, whose policies apply.',
      p_parent));
    execute format('alter table %s attach partition partitions.%I for values from (%L) to (%L)',
                   p_parent, v_name, p_from, v_to);
  end if;
  return format('partitions.%I', v_name)::regclass;
end;
$function$;

CREATE OR REPLACE FUNCTION private.csv_cell (
  p_value text
)
  RETURNS text
  LANGUAGE sql
  IMMUTABLE
  PARALLEL SAFE
  SET search_path TO ''
  AS $function$
  select case when p_value ~ '^[=+\-@\t\r]' then '''' || p_value else p_value end
$function$;

CREATE OR REPLACE FUNCTION private.ingest_batch (
  p_org_id    uuid,
  p_source_id uuid,
  p_messages  jsonb
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SET search_path TO ''
  SET jit TO 'off'
  SET plan_cache_mode TO 'force_generic_plan'
  AS $function$
declare
  v_limits jsonb;
  v_priorities jsonb;
  v_blocked text[];
  v_fold boolean;
  v_org_settings jsonb;
  v_ip_handling text;
  v_today date := (now() at time zone 'UTC')::date;
  v_msgs private.ingest_message[];
  v_has_groups boolean;  -- any group call among them
  v_accepted int;
  -- identifier sets that need a decision (links, merges, limits), in order
  v_decide_set int[];
  v_decide_ids jsonb[];
  v_decide_at timestamptz[];
  v_decide_message text[];
  -- each identifier set's profile, indexed by the set's number
  v_set_pid uuid[];
  -- profiles the batch creates, with their one identifier
  v_new_pid uuid[];
  v_new_type text[];
  v_new_value text[];
  v_new_at timestamptz[];
  v_existing uuid[];
  v_existing_rows tid[];  -- the locked row version of each, in the same order
  v_merged_from uuid[];
  v_merged_to uuid[];
  v_day timestamptz;
  v_ips inet[];  -- each message's IP address, at its position in the request
begin
  -- SETTINGS
  -- Only the usable entries: a setting that cannot be read falls back to its
  -- default rather than failing the batch (private.usable_numbers).
  select private.usable_numbers(s.limits, true), private.usable_numbers(s.priorities, true),
         array(select lower(b) from unnest(s.blocked_values) b),
         s.fold_gmail_addresses
    into v_limits, v_priorities, v_blocked, v_fold
  from public.identity_settings s where s.org_id = p_org_id;
  v_limits := coalesce(v_limits, '{"user_id": 1, "*": 5}');
  v_priorities := coalesce(v_priorities, '{}');
  v_blocked := coalesce(v_blocked, '{}');
  v_fold := coalesce(v_fold, false);
  select o.settings || jsonb_build_object('engagement_weights',
           private.usable_numbers(o.settings -> 'engagement_weights'))
    into v_org_settings from public.organizations o where o.id = p_org_id;
  v_ip_handling := coalesce(v_org_settings ->> 'ip_handling', 'keep');

  -- Today's idempotency partition, should the maintenance job have missed a run.
  if to_regclass(format('partitions.ingested_messages_p%s', to_char(v_today, 'YYYY_MM_DD'))) is null then
    perform private.create_time_partition('private.ingested_messages', v_today::timestamp at time zone 'UTC');
  end if;

  -- PARSE AND DEDUPE: a messageId seen for this source in the last 24 hours is
  -- skipped, as is a repeat within the request.
  with parsed as (
    select r.*
    from rows from (jsonb_to_recordset(p_messages) as (
           message_id text, type text, event text, "timestamp" timestamptz, revenue numeric,
           channel text, utm_source text, utm_medium text, utm_campaign text, traits jsonb,
           identifiers jsonb))
         with ordinality as r (message_id, type, event, ts, revenue, channel, utm_source,
                               utm_medium, utm_campaign, traits, identifiers, ord)
  ), msgs as (
    select distinct on (p.message_id) p.* from parsed p order by p.message_id, p.ord
  ), fresh as (
    insert into private.ingested_messages (org_id, source_id, message_id, received_day)
    select p_org_id, p_source_id, msgs.message_id, v_today
    from msgs
    left join lateral (
      select 1 as seen from private.ingested_messages d
      where d.org_id = p_org_id and d.source_id = p_source_id
        and d.message_id = msgs.message_id
        and d.received_day = v_today - 1
        and d.received_at > now() - interval '24 hours'
      limit 1 -- an index probe per message: yesterday's partition is large after midnight
    ) y on true
    where y.seen is null
    on conflict do nothing
    returning message_id
  ), kept as (
    select msgs.*, row_number() over (order by msgs.ts, msgs.ord)::int as pos
    from msgs join fresh using (message_id)
  ), raw_ids as materialized (
    -- Materialized so the alias-type CASE (and its identities probe) runs once
    -- per identifier, not once per use in the inlined normalization.
    select k.pos, x.value,
           -- alias: previousId is whichever kind of id it already is, else an anonymous id
           case when x.type <> 'previous_id' then x.type
                when exists (select 1 from public.identities i
                             where i.org_id = p_org_id and i.type = 'user_id' and i.value = x.value)
                then 'user_id' else 'anonymous_id' end as type
    from kept k
    cross join lateral jsonb_to_recordset(coalesce(k.identifiers, '[]')) as x (type text, value text)
    where not private.is_blocked_identifier(x.value, v_blocked)
  ), normalized as (
    -- NORMALIZE: identifiers in normal form, blocked values out, strongest first.
    -- The key spells the set as a text that compares bytewise: each type and
    -- value behind its length, so no value can pass for another set's.
    -- The key takes its parts in the order the subquery sorted them, not by a
    -- sort of its own for every message: were that order ever lost, equal sets
    -- would only be resolved apart (each finds the same profile), never two
    -- sets together, since the key still spells the identifiers it holds.
    -- Objects from text arrays (jsonb_object), here and for touches below:
    -- jsonb_build_object looks up the type of each argument on every call, and
    -- took twice as long.
    select n.pos, jsonb_agg(jsonb_object(array['type', n.type, 'value', n.value])
                            order by private.identifier_priority(n.type, v_priorities), n.type, n.value) as ids,
           string_agg(length(n.type) || ':' || n.type || length(n.value) || ':' || n.value, '') collate "C"
             as set_key
    from (
      select distinct r.pos, r.type, private.normalize_identifier(r.type, r.value, v_fold) as value
      from raw_ids r
      order by 1, 2, 3
      -- optimization fence: the conditions below read the normalized value
      -- once; pushed down into this subquery, each of them inlined the whole
      -- normalization again (five evaluations per identifier, regexes included)
      offset 0
    ) n
    where n.value is not null and not private.is_blocked_identifier(n.value, v_blocked)
    group by n.pos
  )
  select array_agg(row(k.pos, k.ord::int, k.message_id, k.type, k.event, k.ts, k.revenue, k.channel, k.utm_source,
                       k.utm_medium, k.utm_campaign,
                       case when k.type = 'identify' then k.traits end,
                       coalesce(k.ids, '[]'), k.set_no)::private.ingest_message order by k.pos),
         bool_or(k.type = 'group')
    into v_msgs, v_has_groups
  from (
    -- Sets numbered 1 to n (the null key of a message without identifiers
    -- ranks last, and gets no number).
    select k.*, n.ids,
           case when n.set_key is not null then dense_rank() over (order by n.set_key)::int end as set_no
    from kept k left join normalized n using (pos)
  ) k;

  v_accepted := coalesce(cardinality(v_msgs), 0);
  if v_accepted = 0 then
    return jsonb_build_object('received', jsonb_array_length(p_messages), 'accepted', 0,
                              'duplicates', jsonb_array_length(p_messages));
  end if;

  -- LOCK every identifier of the batch, in one global order, so batches racing
  -- on the same identifiers serialize instead of creating two profiles or
  -- deadlocking.
  perform pg_advisory_xact_lock(l.h)
  from (
    select distinct hashtextextended(p_org_id::text || ':' || (x ->> 'type') || ':' || (x ->> 'value'), 0) as h
    from unnest(v_msgs) m, jsonb_array_elements(m.ids) x
    order by 1
  ) l;

  -- RESOLVE. Most identifier sets need no decision: every identifier already
  -- belongs to one profile (a returning visitor or user), or a lone identifier
  -- is new and appears nowhere else in the batch. Those resolve set-based; the
  -- rest (links, merges, limits) go one by one through resolve_profile, in the
  -- order they first appear. Identities always name a live profile (merges move
  -- them to the survivor), so the owner is read from identities alone.
  with grp as (
    -- each set with its first message (v_msgs holds the messages at their pos)
    select s.set_no, s.first, s.at, (v_msgs[s.first]).message_id, (v_msgs[s.first]).ids
    from (
      select m.set_no, min(m.pos) as first, min(m.ts) as at
      from unnest(v_msgs) m
      where m.set_no is not null
      group by m.set_no
    ) s
  ), idf as (
    select g.set_no, x ->> 'type' as type, x ->> 'value' as value, o.profile_id
    from grp g
    cross join lateral jsonb_array_elements(g.ids) x
    left join lateral (
      select i.profile_id from public.identities i
      where i.org_id = p_org_id and i.type = x ->> 'type' and i.value = x ->> 'value'
      offset 0 -- optimization fence: an index probe per identifier
    ) o on true
  ), shared as (
    -- identifiers that occur in more than one set of this batch
    select type, value from idf group by type, value having count(*) > 1
  ), planned as (
    select f.set_no,
           case
             when count(*) filter (where f.profile_id is null) = 0 and count(distinct f.profile_id) = 1
               then 'known'
             when count(*) = 1 and count(*) filter (where f.profile_id is null) = 1
                  and not exists (select 1 from shared sh
                                  where sh.type = min(f.type) and sh.value = min(f.value))
               then 'new'
             else 'decide'
           end as kind,
           min(f.profile_id::text)::uuid as owner, min(f.type) as type, min(f.value) as value
    from idf f
    group by f.set_no
  ), assigned as (
    -- a volatile id, so computed once per set (the CTE is not inlined)
    select g.*, p.kind, p.owner, p.type, p.value,
           case p.kind when 'known' then p.owner when 'new' then private.uuid_v7() end as pid
    from grp g join planned p using (set_no)
  )
  -- every set's profile at its number (a decision's is filled in below)
  select array_agg(a.pid order by a.set_no),
         -- new lone identifiers: a profile each, inserted whole with the fold below
         array_agg(a.pid) filter (where a.kind = 'new'),
         array_agg(a.type) filter (where a.kind = 'new'),
         array_agg(a.value) filter (where a.kind = 'new'),
         array_agg(a.at) filter (where a.kind = 'new'),
         array_agg(a.set_no order by a.first) filter (where a.kind = 'decide'),
         array_agg(a.ids order by a.first) filter (where a.kind = 'decide'),
         array_agg(a.at order by a.first) filter (where a.kind = 'decide'),
         array_agg(a.message_id order by a.first) filter (where a.kind = 'decide')
    into v_set_pid, v_new_pid, v_new_type, v_new_value, v_new_at,
         v_decide_set, v_decide_ids, v_decide_at, v_decide_message
  from assigned a;

  -- the rest, one decision at a time
  for i in 1 .. coalesce(cardinality(v_decide_ids), 0) loop
    v_set_pid[v_decide_set[i]] := private.resolve_profile(p_org_id, v_decide_ids[i], v_limits,
                                                          p_source_id, v_decide_at[i],
                                                          v_decide_message[i]);
  end loop;

  -- PROFILES that exist: lock them in id order (no deadlock between batches),
  -- an index probe each, and keep each locked row's TID for the fold. A later
  -- message of the batch, or a batch committed while this one waited, may have
  -- merged one: everything below writes to the survivors.
  v_existing := array(select distinct p from unnest(v_set_pid) p
                      where p <> all (coalesce(v_new_pid, '{}')) order by 1);
  select array_agg(l.id) filter (where l.merged_into is not null),
         array_agg(l.merged_into) filter (where l.merged_into is not null),
         -- ids and TIDs of the rows found, pairwise (a profile erased meanwhile has none)
         array_agg(l.id order by e.n), array_agg(l.ctid order by e.n)
    into v_merged_from, v_merged_to, v_existing, v_existing_rows
  from unnest(v_existing) with ordinality e (id, n)
  cross join lateral (
    select p.id, p.merged_into, p.ctid from public.profiles p
    where p.org_id = p_org_id and p.id = e.id
    offset 0 -- optimization fence: the probe runs per id, in the array's order
    for no key update
  ) l;
  if v_merged_from is not null then
    select array_agg(coalesce(r.survivor, s.pid) order by s.n) into v_set_pid
    from unnest(v_set_pid) with ordinality s (pid, n)
    left join unnest(v_merged_from, v_merged_to) r (id, survivor) on r.id = s.pid;
    -- Survivors found through merged_into, locked in id order too (the rows
    -- locked already are locked again, at no cost, to take their TIDs).
    v_existing := array(select distinct p from unnest(v_set_pid) p
                        where p <> all (coalesce(v_new_pid, '{}')) order by 1);
    select array_agg(l.id order by e.n), array_agg(l.ctid order by e.n) into v_existing, v_existing_rows
    from unnest(v_existing) with ordinality e (id, n)
    cross join lateral (
      select p.id, p.ctid from public.profiles p
      where p.org_id = p_org_id and p.id = e.id
      offset 0
      for no key update
    ) l;
  end if;

  -- PARTITIONS for historical or early timestamps the maintenance job has not made.
  for v_day in
    select distinct date_trunc('day', m.ts at time zone 'UTC') at time zone 'UTC' from unnest(v_msgs) m
  loop
    if to_regclass(format('partitions.events_p%s', to_char(v_day at time zone 'UTC', 'YYYY_MM_DD'))) is null then
      perform private.create_time_partition('public.events', v_day);
    end if;
  end loop;

  -- IP ADDRESSES, cast for the whole batch in one subtransaction. parse_ip
  -- (null for a value that is no address) opens a subtransaction and sets its
  -- search_path on every call, so it runs only when some value is no address.
  begin
    select array_agg(nullif(x.ip, '')::inet order by x.ord) into v_ips
    from rows from (jsonb_to_recordset(p_messages) as (ip text)) with ordinality as x (ip, ord);
  exception when invalid_text_representation then
    select array_agg(private.parse_ip(x.ip) order by x.ord) into v_ips
    from rows from (jsonb_to_recordset(p_messages) as (ip text)) with ordinality as x (ip, ord);
  end;

  -- EVENTS: the full messages are read here only.
  insert into public.events (
    org_id, timestamp, source_id, message_id, type, event, profile_id, anonymous_id, user_id,
    group_id, received_at, sent_at, original_timestamp, channel, utm_source, utm_medium,
    utm_campaign, utm_term, utm_content, campaign_id, revenue, value, currency, browser, os,
    device_type, ip, properties, traits, context, integrations)
  select p_org_id, m.ts, p_source_id, m.message_id, m.type, m.event, v_set_pid[m.set_no], r.anonymous_id,
         r.user_id, r.group_id, r.received_at, r.sent_at, r.original_timestamp, m.channel,
         m.utm_source, m.utm_medium, m.utm_campaign, r.utm_term, r.utm_content, r.campaign_id,
         m.revenue, r.value, r.currency, r.browser, r.os, r.device_type,
         case v_ip_handling
           when 'drop' then null
           when 'truncate' then network(set_masklen(ip.addr, case when family(ip.addr) = 4 then 24 else 48 end))
           else ip.addr end,
         coalesce(r.properties, '{}'), r.traits,
         case when v_ip_handling = 'keep' then coalesce(r.context, '{}')
              else coalesce(r.context, '{}') - 'ip' end,
         r.integrations
  from unnest(v_msgs) m
  join rows from (jsonb_to_recordset(p_messages) as (
         anonymous_id text, user_id text, group_id text, received_at timestamptz, sent_at timestamptz,
         original_timestamp timestamptz, utm_term text, utm_content text, campaign_id text, value numeric,
         currency text, browser text, os text, device_type text, properties jsonb, traits jsonb,
         context jsonb, integrations jsonb))
       with ordinality as r (anonymous_id, user_id, group_id, received_at, sent_at, original_timestamp,
                             utm_term, utm_content, campaign_id, value, currency, browser, os, device_type,
                             properties, traits, context, integrations, ord)
    on r.ord = m.ord
  cross join lateral (select v_ips[r.ord] as addr) ip;

  -- PROFILE FOLD: the batch's events per profile, then one INSERT of each new
  -- profile (whole) with its identifier, and one UPDATE of each existing one.
  with ev as (
    select v_set_pid[m.set_no] as profile_id, m.type, m.ts, m.revenue, m.channel, m.traits,
           case when m.channel is not null then jsonb_object(array[
             'channel', m.channel, 'source', m.utm_source, 'medium', m.utm_medium,
             'campaign', m.utm_campaign, 'at',
             to_char(m.ts at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')])
           end as touch,
           private.engagement_weight(m.type, m.event, m.revenue,
                                     v_org_settings -> 'engagement_weights') as weight,
           max(m.ts) over (partition by v_set_pid[m.set_no]) as profile_last_ts
    from unnest(v_msgs) m
    where m.set_no is not null
  ), trait_rows as (
    select ev.profile_id, kv.key, kv.value, ev.ts
    from ev, jsonb_each(ev.traits) kv
    where ev.traits is not null and kv.key <> '$unset'
    union all
    select ev.profile_id, u.key, null, ev.ts
    from ev, jsonb_array_elements_text(
      case when jsonb_typeof(ev.traits -> '$unset') = 'array' then ev.traits -> '$unset' else '[]' end) u (key)
  ), latest_traits as (
    select distinct on (profile_id, key) profile_id, key, value, ts
    from trait_rows order by profile_id, key, ts desc
  ), batch_traits as (
    select profile_id,
           coalesce(jsonb_object_agg(key, value) filter (where value is not null), '{}') as traits,
           jsonb_object_agg(key, to_char(ts at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')) as stamps
    from latest_traits group by profile_id
  ), agg as (
    select ev.profile_id,
           min(ev.ts) as first_ts, max(ev.ts) as last_ts, count(*) as n,
           count(*) filter (where ev.type = 'track') as n_track,
           count(*) filter (where ev.type = 'page') as n_page,
           count(*) filter (where ev.type = 'screen') as n_screen,
           count(*) filter (where ev.type = 'identify') as n_identify,
           count(*) filter (where ev.type = 'group') as n_group,
           count(*) filter (where ev.type = 'alias') as n_alias,
           coalesce(sum(ev.revenue) filter (where ev.revenue > 0), 0) as revenue,
           -- Each event's weight, decayed to the profile's latest event of the batch.
           sum(private.decayed_engagement(ev.weight, ev.ts, ev.profile_last_ts)) as raw,
           (array_agg(ev.touch order by ev.ts) filter (where ev.touch is not null))[1] as first_touch,
           (array_agg(ev.touch order by ev.ts desc)
              filter (where ev.touch is not null and ev.channel <> 'direct'))[1] as last_touch
    from ev group by ev.profile_id
  ), folded as (
    select a.*, bt.traits as b_traits, bt.stamps as b_stamps
    from agg a left join batch_traits bt using (profile_id)
  ), made as (
    insert into public.profiles (
      org_id, id, email, phone, name, traits, trait_timestamps, first_seen_at, last_seen_at,
      first_touch, last_touch, event_count, event_counts, revenue, engagement_raw, engagement_at,
      engagement_score, lifecycle_stage, identified)
    select p_org_id, f.profile_id, f.b_traits ->> 'email', f.b_traits ->> 'phone',
           private.name_from_traits(f.b_traits), coalesce(f.b_traits, '{}'), coalesce(f.b_stamps, '{}'),
           -- first seen: the earliest message of its identifier set, as resolution saw it
           least(nw.at, f.first_ts), f.last_ts, f.first_touch, f.last_touch, f.n,
           private.add_event_counts('{}', f.n_track, f.n_page, f.n_screen, f.n_identify, f.n_group,
                                    f.n_alias),
           f.revenue, f.raw, f.last_ts, private.engagement_score(f.raw),
           private.lifecycle_stage_of(f.revenue, nw.type in ('user_id', 'email'),
                                      private.engagement_score(f.raw)),
           nw.type in ('user_id', 'email')
    from unnest(v_new_pid, v_new_type, v_new_at) nw (pid, type, at)
    join folded f on f.profile_id = nw.pid
  ), attached as (
    insert into public.identities (org_id, type, value, profile_id, source_id, first_seen_at, last_seen_at)
    select p_org_id, nw.type, nw.value, nw.pid, p_source_id, nw.at, nw.at
    from unnest(v_new_pid, v_new_type, v_new_value, v_new_at) nw (pid, type, value, at)
  ), next as materialized (
    -- Each existing profile's new traits and engagement, computed once (not
    -- inlined into each of the SET expressions that name them), so one UPDATE
    -- writes the whole new state and the derived fields.
    select f.*, x.row_ctid, t.merged, g.at as new_at,
           private.decayed_engagement(p.engagement_raw, p.engagement_at, g.at)
             + private.decayed_engagement(f.raw, f.last_ts, g.at) as new_raw
    from folded f
    join unnest(v_existing, v_existing_rows) x (id, row_ctid) on x.id = f.profile_id
    cross join lateral (
      -- The row version locked above, by its TID. It is this organization's
      -- profile of that id, checked here, in the snapshot the UPDATE below uses.
      select p.traits, p.trait_timestamps, p.engagement_raw, p.engagement_at
      from public.profiles p
      where p.ctid = x.row_ctid and p.org_id = p_org_id and p.id = x.id
      offset 0 -- optimization fence: one probe per profile (a join here was rescanned per row)
    ) p
    cross join lateral (
      select case when f.b_stamps is not null
        then private.merge_traits(p.traits, p.trait_timestamps, f.b_traits, f.b_stamps) end as merged
    ) t
    cross join lateral (select greatest(p.engagement_at, f.last_ts) as at) g
  )
  update public.profiles p set
    updated_at = now(), -- stamped here, so the trigger's WHEN skips it
    first_seen_at = least(p.first_seen_at, n.first_ts),
    last_seen_at = greatest(p.last_seen_at, n.last_ts),
    event_count = p.event_count + n.n,
    -- the batch's counts added to the stored ones, type by type
    event_counts = private.add_event_counts(p.event_counts, n.n_track, n.n_page, n.n_screen,
                                            n.n_identify, n.n_group, n.n_alias),
    revenue = p.revenue + n.revenue,
    engagement_raw = n.new_raw,
    engagement_at = n.new_at,
    engagement_score = private.engagement_score(n.new_raw),
    first_touch = case when n.first_touch is not null and (p.first_touch is null
                    or (n.first_touch ->> 'at') < (p.first_touch ->> 'at')) then n.first_touch
                    else p.first_touch end,
    last_touch = case when n.last_touch is not null and (p.last_touch is null
                    or (n.last_touch ->> 'at') >= (p.last_touch ->> 'at')) then n.last_touch
                    else p.last_touch end,
    traits = coalesce(n.merged -> 'traits', p.traits),
    trait_timestamps = coalesce(n.merged -> 'timestamps', p.trait_timestamps),
    -- DERIVED: contact fields from traits, and the lifecycle stage.
    email = coalesce(coalesce(n.merged -> 'traits', p.traits) ->> 'email', p.email),
    phone = coalesce(coalesce(n.merged -> 'traits', p.traits) ->> 'phone', p.phone),
    name = coalesce(private.name_from_traits(coalesce(n.merged -> 'traits', p.traits)), p.name),
    lifecycle_stage = private.lifecycle_stage_of(p.revenue + n.revenue, p.identified,
                                                 private.engagement_score(n.new_raw))
  from next n
  -- By the row versions locked above (so they cannot move), and that `next`
  -- checked are this organization's: a TID scan whatever the estimates. Joined
  -- on id, the planner misjudged the batch (one row) or the organization (stale
  -- statistics, or none) and scanned one side per row of the other, or all of
  -- the organization's profiles. An org_id condition here would offer it that
  -- index scan again.
  where p.ctid = any (v_existing_rows) and p.ctid = n.row_ctid;

  -- GROUPS, once the batch's profiles exist: each group call makes its profile a
  -- member of the group and updates the group's traits, per key, the latest
  -- message winning (as for profiles). Groups and memberships are written in key
  -- order, so batches that share groups lock them in one order. Most batches
  -- have no group call and skip the step (known from the parse, at no cost).
  if v_has_groups then
    with calls as (
      select btrim(r.group_id) as group_id, v_set_pid[m.set_no] as profile_id, m.ts,
             case when jsonb_typeof(r.traits) = 'object' then r.traits else '{}' end as traits
      from unnest(v_msgs) m
      join rows from (jsonb_to_recordset(p_messages) as (group_id text, traits jsonb))
           with ordinality as r (group_id, traits, ord)
        on r.ord = m.ord
      where m.type = 'group' and btrim(coalesce(r.group_id, '')) <> ''
    ), latest_traits as (
      select distinct on (c.group_id, kv.key) c.group_id, kv.key, kv.value, c.ts
      from calls c, jsonb_each(c.traits) kv
      order by c.group_id, kv.key, c.ts desc
    ), batch_traits as (
      select lt.group_id, jsonb_object_agg(lt.key, lt.value) as traits,
             jsonb_object_agg(lt.key, to_char(lt.ts at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')) as stamps
      from latest_traits lt group by lt.group_id
    ), batch as (
      select c.group_id, min(c.ts) as first_ts, max(c.ts) as last_ts from calls c group by c.group_id
    ), upserted as (
      insert into public.groups as g (org_id, group_id, name, traits, trait_timestamps, source_id,
                                      first_seen_at, last_seen_at)
      select p_org_id, b.group_id, bt.traits ->> 'name', coalesce(bt.traits, '{}'), coalesce(bt.stamps, '{}'),
             p_source_id, b.first_ts, b.last_ts
      from batch b left join batch_traits bt using (group_id)
      order by b.group_id
      on conflict (org_id, group_id) do update set
        (traits, trait_timestamps, name) = (
          select x.merged -> 'traits', x.merged -> 'timestamps',
                 coalesce(x.merged -> 'traits' ->> 'name', g.name)
          from (select private.merge_traits(g.traits, g.trait_timestamps, excluded.traits,
                                            excluded.trait_timestamps) as merged) x),
        first_seen_at = least(g.first_seen_at, excluded.first_seen_at),
        last_seen_at = greatest(g.last_seen_at, excluded.last_seen_at),
        updated_at = now()
    )
    -- Its foreign key to groups is checked as the statement ends, after `upserted`.
    insert into public.group_memberships as gm (org_id, group_id, profile_id, first_seen_at, last_seen_at)
    select p_org_id, c.group_id, c.profile_id, min(c.ts), max(c.ts)
    from calls c
    where c.profile_id is not null -- every identifier of the message was blocked
    group by c.group_id, c.profile_id
    order by c.group_id, c.profile_id
    on conflict (org_id, group_id, profile_id) do update set
      first_seen_at = least(gm.first_seen_at, excluded.first_seen_at),
      last_seen_at = greatest(gm.last_seen_at, excluded.last_seen_at);
  end if;

  return jsonb_build_object('received', jsonb_array_length(p_messages),
                            'accepted', v_accepted,
                            'duplicates', jsonb_array_length(p_messages) - v_accepted);
end;
$function$;

CREATE OR REPLACE FUNCTION private.maintain_time_partitions()
  RETURNS TABLE (
    parent  regclass,
    created integer,
    dropped integer
  )
  LANGUAGE plpgsql
  SET search_path TO ''
  AS $function$
declare
  v_reg record;
  v_unit text;
  v_start timestamptz;
  v_part record;
  v_created int;
  v_dropped int;
  v_expired boolean;
  v_lock_timeout text := current_setting('lock_timeout');
begin
  for v_reg in select * from private.time_partitioned_tables loop
    v_created := 0;
    v_dropped := 0;
    v_unit := case when v_reg.partition_interval = '1 day' then 'day' else 'month' end;
    v_start := date_trunc(v_unit, now() at time zone 'UTC') at time zone 'UTC';

    -- CREATE AHEAD: the current partition and `premake` after it.
    for i in 0 .. v_reg.premake loop
      if not exists (
        select 1 from private.time_partitions(v_reg.parent) p
        where p.lower_bound = v_start + i * v_reg.partition_interval
      ) then
        perform private.create_time_partition(v_reg.parent, v_start + i * v_reg.partition_interval);
        v_created := v_created + 1;
      end if;
    end loop;

    -- DROP EXPIRED: a whole partition at a time, never row by row.
    for v_part in
      select * from private.time_partitions(v_reg.parent) p where p.upper_bound <= now()
    loop
      if v_reg.retention_column is not null then
        execute format('select not exists (select 1 from %s where %I >= now())',
                       v_part.partition, v_reg.retention_column)
          into v_expired;
      else
        v_expired := v_reg.retention is not null
                     and v_part.upper_bound < now() - v_reg.retention;
      end if;
      if v_expired then
        -- The drop locks the parent exclusively; queued behind a long query it
        -- would hold up every reader and writer after it. Wait 3 s at most.
        begin
          perform set_config('lock_timeout', '3s', true);
          if v_reg.before_drop is not null then
            execute format('select %s($1)', v_reg.before_drop)
              using v_part.partition;
          end if;
          execute format('drop table %s', v_part.partition);
          perform set_config('lock_timeout', v_lock_timeout, true);
          v_dropped := v_dropped + 1;
        exception when lock_not_available then
          -- The failed block's setting was rolled back with it.
          raise warning 'kept expired partition % for the next run: % is in use', v_part.partition, v_reg.parent;
        end;
      end if;
    end loop;

    parent := v_reg.parent;
    created := v_created;
    dropped := v_dropped;
    return next;
  end loop;
end;
$function$;

CREATE OR REPLACE FUNCTION private.purge_deleted_organizations (
  p_max_rows integer DEFAULT 10000
)
  RETURNS integer
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_org uuid;
  v_table regclass;
  v_deleted int;
  v_total int := 0;
begin
  for v_org in
    select p.org_id from private.organization_purges p
    order by p.deleted_at
    for update skip locked
  loop
    for v_table in
      select c.oid::regclass
      from pg_catalog.pg_class c
      join pg_catalog.pg_namespace n on n.oid = c.relnamespace
      join pg_catalog.pg_attribute a on a.attrelid = c.oid and a.attname = 'org_id' and not a.attisdropped
      where n.nspname in ('public', 'private') and c.relkind in ('r', 'p') and not c.relispartition
        and c.oid <> 'private.organization_purges'::regclass
      order by c.oid
    loop
      execute format(
        'delete from %s t where (t.tableoid, t.ctid) in '
        '(select s.tableoid, s.ctid from %s s where s.org_id = $1 limit $2)',
        v_table, v_table)
        using v_org, p_max_rows - v_total;
      get diagnostics v_deleted = row_count;
      v_total := v_total + v_deleted;
      -- Out of budget: this organization is finished by a later call.
      if v_total >= p_max_rows then
        return v_total;
      end if;
    end loop;
    delete from private.organization_purges p where p.org_id = v_org;
  end loop;
  return v_total;
end;
$function$;

CREATE OR REPLACE FUNCTION private.queue_organization_purge()
  RETURNS TRIGGER
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
begin
  insert into private.organization_purges (org_id) values (old.id)
  on conflict (org_id) do nothing;
  return null;
end;
$function$;

CREATE OR REPLACE FUNCTION private.refuse_audit_change()
  RETURNS TRIGGER
  LANGUAGE plpgsql
  SET search_path TO ''
  AS $function$
begin
  if tg_op = 'DELETE' and not exists (
    select 1 from public.organizations o where o.id = old.org_id
  ) then
    return old;
  end if;
  raise exception 'audit_log is append-only: % is not allowed', tg_op
    using errcode = '42501', hint = 'Rows leave only when retention drops their partition.';
end;
$function$;

CREATE OR REPLACE FUNCTION private.summarize_api_key_rejections()
  RETURNS integer
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_row private.api_key_rejections;
  v_count int := 0;
begin
  for v_row in
    update private.api_key_rejections r set summarized = true
    where not r.summarized and r.hour < date_trunc('hour', now())
    returning r.*
  loop
    if v_row.rejections > 1 then
      perform private.append_audit(
        v_row.org_id, 'api_key.rejected', 'api_keys', v_row.key_id::text, null,
        jsonb_build_object('reason', v_row.reason, 'hour', v_row.hour,
                           'rejections', v_row.rejections, 'last_ip', host(v_row.last_ip)),
        'medium', 'failure', array['auth'],
        jsonb_build_object('type', 'api_key', 'api_key_id', v_row.key_id));
      v_count := v_count + 1;
    end if;
  end loop;
  delete from private.api_key_rejections r where r.summarized and r.hour < now() - interval '1 day';
  return v_count;
end;
$function$;

CREATE OR REPLACE FUNCTION private.usable_numbers (
  p_object jsonb,
  p_whole  boolean DEFAULT false
)
  RETURNS jsonb
  LANGUAGE sql
  IMMUTABLE
  PARALLEL SAFE
  SET search_path TO ''
  AS $function$
  select coalesce(pg_catalog.jsonb_object_agg(e.key, e.value), '{}')
  from pg_catalog.jsonb_each(case when pg_catalog.jsonb_typeof(p_object) = 'object'
                                  then p_object else '{}' end) e
  where pg_catalog.jsonb_typeof(e.value) = 'number'
    and (not p_whole or ((e.value #>> '{}')::numeric between 0 and 1000000
                         and (e.value #>> '{}')::numeric = pg_catalog.trunc((e.value #>> '{}')::numeric)))
$function$;

CREATE OR REPLACE FUNCTION private.verify_api_key (
  p_secret    text,
  p_client_ip inet DEFAULT NULL::inet
)
  RETURNS TABLE (
    key_id                uuid,
    org_id                uuid,
    workspace_id          uuid,
    kind                  public.api_key_kind,
    scopes                text[],
    rate_limit_per_minute integer,
    source_id             uuid
  )
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_key public.api_keys;
  v_reason text;
  v_first boolean;
begin
  select k.* into v_key
  from private.api_key_secrets s
  join public.api_keys k on k.org_id = s.org_id and k.id = s.key_id
  where s.key_hash = extensions.digest(coalesce(p_secret, ''), 'sha256');

  if v_key.id is null then
    return;
  end if;
  v_reason := case
    when v_key.revoked_at is not null then 'revoked'
    when v_key.expires_at is not null and v_key.expires_at <= now() then 'expired'
    when v_key.source_id is not null and not exists (
           select 1 from public.sources so
           where so.org_id = v_key.org_id and so.id = v_key.source_id and so.enabled)
      then 'source_disabled'
    when v_key.allowed_cidrs is not null
         and (p_client_ip is null or not exists (
               select 1 from unnest(v_key.allowed_cidrs) c where p_client_ip <<= c))
      then 'ip_not_allowed'
  end;
  if v_reason is not null then
    -- Counted per key, reason and hour; only the hour's first is audited now
    -- (private.api_key_rejections says why).
    insert into private.api_key_rejections as r (org_id, key_id, hour, reason, last_ip)
    values (v_key.org_id, v_key.id, date_trunc('hour', now()), v_reason, p_client_ip)
    -- (by constraint: org_id is also this function's output column)
    on conflict on constraint api_key_rejections_pkey do update
      set rejections = r.rejections + 1, last_ip = excluded.last_ip
    returning r.rejections = 1 into v_first;
    if v_first then
      perform private.append_audit(
        v_key.org_id, 'api_key.rejected', 'api_keys', v_key.id::text, null,
        jsonb_build_object('reason', v_reason, 'prefix', v_key.prefix, 'ip', host(p_client_ip),
                           'further_this_hour', 'counted, audited when the hour ends'),
        'medium', 'failure', array['auth'],
        jsonb_build_object('type', 'api_key', 'api_key_id', v_key.id));
    end if;
    return;
  end if;

  insert into private.api_key_usage_buffer (org_id, key_id) values (v_key.org_id, v_key.id);
  key_id := v_key.id;
  org_id := v_key.org_id;
  workspace_id := v_key.workspace_id;
  kind := v_key.kind;
  scopes := v_key.scopes;
  rate_limit_per_minute := v_key.rate_limit_per_minute;
  source_id := v_key.source_id;
  return next;
end;
$function$;

CREATE OR REPLACE FUNCTION private.verify_audit_chain (
  p_org_id uuid,
  p_from   timestamp with time zone DEFAULT '-infinity'::timestamp WITH time zone,
  p_to     timestamp with time zone DEFAULT 'infinity'::timestamp WITH time zone
)
  RETURNS TABLE (
    ok           boolean,
    rows_checked bigint,
    broken_seq   bigint,
    broken_id    uuid,
    reason       text
  )
  LANGUAGE plpgsql
  STABLE
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_row public.audit_log;
  v_prev_seq bigint;
  v_prev_hash bytea;
  v_count bigint := 0;
begin
  -- The link into the range: the row just before it, or the genesis hash.
  select a.seq, a.hash into v_prev_seq, v_prev_hash
  from public.audit_log a
  where a.org_id = p_org_id and a.occurred_at < p_from
  order by a.occurred_at desc, a.seq desc limit 1;
  if v_prev_seq is null and p_from = '-infinity' then
    -- Retention may have dropped the oldest rows: the chain then continues
    -- from the checkpoint recorded when their partition went.
    select c.seq, c.hash into v_prev_seq, v_prev_hash
    from private.audit_chain_checkpoints c where c.org_id = p_org_id;
    if v_prev_seq is null then
      v_prev_seq := 0;
      v_prev_hash := private.audit_genesis_hash(p_org_id);
    end if;
  end if;

  for v_row in
    select * from public.audit_log a
    where a.org_id = p_org_id and a.occurred_at >= p_from and a.occurred_at < p_to
    order by a.seq
  loop
    v_count := v_count + 1;
    if v_prev_seq is not null and v_row.seq <> v_prev_seq + 1 then
      return query select false, v_count, v_row.seq, v_row.id,
        format('sequence gap: expected %s, found %s (rows deleted?)', v_prev_seq + 1, v_row.seq);
      return;
    end if;
    if v_prev_hash is not null and v_row.prev_hash <> v_prev_hash then
      return query select false, v_count, v_row.seq, v_row.id,
        'prev_hash does not match the hash of the previous row'::text;
      return;
    end if;
    if v_row.hash <> extensions.digest(
         v_row.prev_hash || convert_to(private.audit_canonical(v_row), 'UTF8'), 'sha256') then
      return query select false, v_count, v_row.seq, v_row.id,
        'row content does not match its hash (row altered)'::text;
      return;
    end if;
    v_prev_seq := v_row.seq;
    v_prev_hash := v_row.hash;
  end loop;

  -- A deleted tail shows as a head beyond the last row.
  if p_to = 'infinity' and exists (
    select 1 from private.audit_chain_heads h
    where h.org_id = p_org_id and h.last_seq <> coalesce(v_prev_seq, 0)
  ) then
    return query select false, v_count, coalesce(v_prev_seq, 0) + 1, null::uuid,
      'rows missing at the end of the chain'::text;
    return;
  end if;
  return query select true, v_count, null::bigint, null::uuid, null::text;
end;
$function$;

CREATE OR REPLACE FUNCTION public.accept_invitation (
  p_token text
)
  RETURNS public.organization_members
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_uid uuid := private.require_user();
  v_email text := lower(auth.jwt() ->> 'email');
  v_invitation public.invitations;
  v_member public.organization_members;
begin
  select i.* into v_invitation
  from private.invitation_tokens t
  join public.invitations i on i.org_id = t.org_id and i.id = t.invitation_id
  where t.token_hash = extensions.digest(coalesce(p_token, ''), 'sha256')
  for update of i;

  -- VALIDATION
  if v_invitation.id is null then
    raise exception 'invitation not found' using errcode = 'PT404', detail = 'field: token';
  end if;
  if v_invitation.accepted_at is not null or v_invitation.revoked_at is not null then
    raise exception 'invitation is no longer valid' using errcode = '22023', detail = 'field: token';
  end if;
  if v_invitation.expires_at <= now() then
    raise exception 'invitation expired at %', v_invitation.expires_at
      using errcode = '22023', detail = 'field: token';
  end if;
  if v_email is distinct from v_invitation.email then
    raise exception 'invitation was sent to another email address'
      using errcode = '42501', detail = 'field: email';
  end if;
  if not private.email_domain_allowed(v_invitation.org_id, v_email) then
    raise exception 'email domain is not allowed in this organization'
      using errcode = '42501', detail = 'field: email';
  end if;

  -- JOIN (seat limit and owner rules are enforced by the member triggers)
  insert into public.organization_members (org_id, user_id, role, status, email, invited_by)
  values (v_invitation.org_id, v_uid, v_invitation.role, 'active', v_email, v_invitation.invited_by)
  on conflict (org_id, user_id) do update
    set role = excluded.role, status = 'active', email = excluded.email
    where public.organization_members.status <> 'active'
  returning * into v_member;
  if v_member.user_id is null then
    raise exception 'already a member of this organization' using errcode = '23505';
  end if;
  update public.invitations set accepted_at = now(), accepted_by = v_uid
  where org_id = v_invitation.org_id and id = v_invitation.id;
  return v_member;
end;
$function$;

CREATE OR REPLACE FUNCTION public.change_member_role (
  p_org_id  uuid,
  p_user_id uuid,
  p_role    public.org_role
)
  RETURNS public.organization_members
  LANGUAGE plpgsql
  SET search_path TO ''
  AS $function$
declare
  v_member public.organization_members;
begin
  perform private.require_permission(p_org_id, 'members:manage');
  if p_role is null then
    raise exception 'role is required' using errcode = '22023', detail = 'field: role';
  end if;
  update public.organization_members set role = p_role
  where org_id = p_org_id and user_id = p_user_id
  returning * into v_member;
  if v_member.user_id is null then
    raise exception 'member not found' using errcode = 'PT404', detail = 'field: user_id';
  end if;
  return v_member;
end;
$function$;

CREATE OR REPLACE FUNCTION public.deactivate_member (
  p_org_id  uuid,
  p_user_id uuid
)
  RETURNS public.organization_members
  LANGUAGE plpgsql
  SET search_path TO ''
  AS $function$
declare
  v_member public.organization_members;
begin
  perform private.require_permission(p_org_id, 'members:manage');
  update public.organization_members set status = 'deactivated'
  where org_id = p_org_id and user_id = p_user_id
  returning * into v_member;
  if v_member.user_id is null then
    raise exception 'member not found' using errcode = 'PT404', detail = 'field: user_id';
  end if;
  return v_member;
end;
$function$;

CREATE OR REPLACE FUNCTION public.get_profile (
  p_org_id     uuid,
  p_profile_id uuid
)
  RETURNS jsonb
  LANGUAGE plpgsql
  STABLE
  SET search_path TO ''
  AS $function$
declare
  v_id uuid;
  v_profile public.profiles;
  v_lineage uuid[];
begin
  perform private.require_permission(p_org_id, 'customers:read');
  v_id := private.survivor_of(p_org_id, p_profile_id);
  select * into v_profile from public.profiles where org_id = p_org_id and id = v_id;
  if v_profile.id is null then
    raise exception 'profile not found' using errcode = 'PT404', detail = 'field: profile_id';
  end if;
  v_lineage := private.profile_lineage(p_org_id, v_id);
  return jsonb_build_object(
    'profile', to_jsonb(v_profile) || jsonb_build_object(
      'engagement_score_now', private.engagement_score(
        private.decayed_engagement(v_profile.engagement_raw, v_profile.engagement_at, now()))),
    'merged_profile_ids', to_jsonb(array_remove(v_lineage, v_id)),
    'identities', coalesce((
      select jsonb_agg(jsonb_build_object('type', i.type, 'value', i.value,
               'first_seen_at', i.first_seen_at, 'last_seen_at', i.last_seen_at)
             order by i.type, i.value)
      from public.identities i where i.org_id = p_org_id and i.profile_id = v_id), '[]'),
    'groups', coalesce((
      select jsonb_agg(jsonb_build_object('group_id', g.group_id, 'name', g.name, 'traits', g.traits,
               'first_seen_at', m.first_seen_at, 'last_seen_at', m.last_seen_at)
             order by g.group_id)
      from public.group_memberships m
      join public.groups g on g.org_id = m.org_id and g.group_id = m.group_id
      where m.org_id = p_org_id and m.profile_id = v_id), '[]'),
    'events', coalesce((
      select jsonb_agg(to_jsonb(e) - 'org_id' order by e.timestamp desc)
      from (
        select * from public.events e
        where e.org_id = p_org_id and e.profile_id = any (v_lineage)
          and e.timestamp >= v_profile.first_seen_at - interval '1 day'
        order by e.timestamp desc
        limit 100
      ) e), '[]'));
end;
$function$;

CREATE OR REPLACE FUNCTION public.leave_organization (
  p_org_id uuid
)
  RETURNS void
  LANGUAGE plpgsql
  SET search_path TO ''
  AS $function$
declare
  v_uid uuid := private.require_user();
begin
  delete from public.organization_members where org_id = p_org_id and user_id = v_uid;
  if not found then
    raise exception 'not a member of this organization' using errcode = 'PT404', detail = 'field: org_id';
  end if;
end;
$function$;

CREATE OR REPLACE FUNCTION public.password_verification_attempt_hook (
  event jsonb
)
  RETURNS jsonb
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_user_id uuid := (event ->> 'user_id')::uuid;
  v_policy private.sign_in_lockout_policy;
  v_recent int;
  v_email text;
  v_org uuid;
begin
  select * into v_policy from private.sign_in_lockout_policy;
  v_policy.max_failures := coalesce(v_policy.max_failures, 5);
  v_policy.lockout_window := coalesce(v_policy.lockout_window, interval '15 minutes');

  -- LOCKED OUT? Serialize a user's attempts, so that parallel guesses cannot
  -- all pass the count before any of them is recorded.
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('sign-in:' || v_user_id::text, 0));
  delete from private.sign_in_failures f
  where f.user_id = v_user_id and f.failed_at <= now() - v_policy.lockout_window;
  select count(*) into v_recent from private.sign_in_failures f where f.user_id = v_user_id;
  if v_recent >= v_policy.max_failures then
    return jsonb_build_object('decision', 'reject',
      'message', format('Too many failed sign-in attempts. Try again in %s minutes.',
                        ceil(extract(epoch from v_policy.lockout_window) / 60)),
      'should_logout_user', false);
  end if;

  if (event ->> 'valid')::boolean then
    delete from private.sign_in_failures f where f.user_id = v_user_id;
    return jsonb_build_object('decision', 'continue');
  end if;

  -- A FAILURE: counted for the user, audited where the user is a member.
  insert into private.sign_in_failures (user_id) values (v_user_id);
  select u.email into v_email from auth.users u where u.id = v_user_id;
  for v_org in
    select m.org_id from public.organization_members m
    where m.user_id = v_user_id and m.status = 'active'
  loop
    perform private.append_audit(
      v_org, 'auth.login_failed', 'session', null, null,
      jsonb_build_object('method', 'password'), 'medium', 'failure', array['auth'],
      jsonb_build_object('type', 'user', 'user_id', v_user_id, 'email', v_email));
  end loop;
  -- Auth answers this attempt "invalid credentials" itself; the next one meets
  -- the lockout.
  return jsonb_build_object('decision', 'continue');
end;
$function$;

CREATE OR REPLACE FUNCTION public.profile_journey (
  p_org_id     uuid,
  p_profile_id uuid,
  p_limit      integer DEFAULT 200
)
  RETURNS TABLE (
    occurred_at  timestamp with time zone,
    type         text,
    event        text,
    channel      text,
    utm_source   text,
    utm_medium   text,
    utm_campaign text,
    page_url     text,
    referrer     text
  )
  LANGUAGE plpgsql
  STABLE
  SET search_path TO ''
  AS $function$
declare
  v_id uuid;
  v_first timestamptz;
begin
  perform private.require_permission(p_org_id, 'customers:read');
  if p_limit is null or p_limit not between 1 and 1000 then
    raise exception 'limit must be between 1 and 1000' using errcode = '22023', detail = 'field: limit';
  end if;
  v_id := private.survivor_of(p_org_id, p_profile_id);
  select min(p.first_seen_at) into v_first from public.profiles p
  where p.org_id = p_org_id and p.id = any (private.profile_lineage(p_org_id, v_id));
  if v_first is null then
    raise exception 'profile not found' using errcode = 'PT404', detail = 'field: profile_id';
  end if;
  -- Touchpoints: events that say how the person arrived (a channel), oldest first.
  return query
  select e.timestamp, e.type, e.event, e.channel, e.utm_source, e.utm_medium, e.utm_campaign,
         e.context -> 'page' ->> 'url', e.context -> 'page' ->> 'referrer'
  from public.events e
  where e.org_id = p_org_id
    and e.profile_id = any (private.profile_lineage(p_org_id, v_id))
    and e.timestamp >= v_first - interval '1 day'
    and e.channel is not null
  order by e.timestamp
  limit p_limit;
end;
$function$;

CREATE OR REPLACE FUNCTION public.revoke_api_key (
  p_org_id uuid,
  p_key_id uuid
)
  RETURNS public.api_keys
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_key public.api_keys;
begin
  perform private.require_permission(p_org_id, 'api_keys:manage');
  update public.api_keys k set revoked_at = coalesce(k.revoked_at, now())
  where k.org_id = p_org_id and k.id = p_key_id
  returning * into v_key;
  if v_key.id is null then
    raise exception 'API key not found' using errcode = 'PT404', detail = 'field: key_id';
  end if;
  return v_key;
end;
$function$;

CREATE OR REPLACE FUNCTION public.rotate_api_key (
  p_org_id uuid,
  p_key_id uuid,
  p_grace  interval DEFAULT '24:00:00'::interval
)
  RETURNS TABLE (
    id                 uuid,
    secret             text,
    prefix             text,
    old_key_expires_at timestamp with time zone
  )
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_old public.api_keys;
  v_issued record;
  v_missing text;
begin
  -- VALIDATION
  perform private.require_permission(p_org_id, 'api_keys:manage');
  if p_grace is null or p_grace not between '0 seconds' and '30 days' then
    raise exception 'grace must be between 0 and 30 days' using errcode = '22023', detail = 'field: grace';
  end if;
  select * into v_old from public.api_keys k where k.org_id = p_org_id and k.id = p_key_id for update;
  if v_old.id is null then
    raise exception 'API key not found' using errcode = 'PT404', detail = 'field: key_id';
  end if;
  if v_old.revoked_at is not null or (v_old.expires_at is not null and v_old.expires_at <= now()) then
    raise exception 'a revoked or expired key cannot be rotated' using errcode = '22023', detail = 'field: key_id';
  end if;
  if v_old.replaced_by is not null then
    raise exception 'this key was already rotated' using errcode = '22023', detail = 'field: key_id';
  end if;
  -- The successor's secret goes to the caller, so the caller must hold every
  -- scope it carries, as create_api_key requires: otherwise an admin rotating
  -- an owner's key would receive org:delete and billing:manage.
  select s into v_missing from unnest(v_old.scopes) s
  where s <> all (private.caller_permissions(p_org_id)) order by s limit 1;
  if v_missing is not null then
    raise exception 'cannot rotate a key with scope "%" that the caller does not hold', v_missing
      using errcode = '42501', detail = 'field: key_id';
  end if;

  -- SUCCESSOR, THEN GRACE FOR THE OLD KEY
  v_old.rotated_from := v_old.id;
  select * into v_issued from private.issue_api_key(v_old);
  update public.api_keys k
  set expires_at = least(coalesce(k.expires_at, 'infinity'), now() + p_grace),
      replaced_by = v_issued.id
  where k.org_id = p_org_id and k.id = p_key_id
  returning k.expires_at into old_key_expires_at;

  id := v_issued.id;
  secret := v_issued.secret;
  prefix := left(v_issued.secret, 12);
  return next;
end;
$function$;

CREATE OR REPLACE FUNCTION public.unmerge_profiles (
  p_org_id   uuid,
  p_merge_id uuid
)
  RETURNS public.profile_merges
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_merge public.profile_merges;
  -- the later merges the survivor went through, oldest first, and where they end
  v_later jsonb[];
  v_holder uuid;
  v_chain uuid[]; -- the survivor, then each later survivor, to the holder
  v_locked uuid;  -- the holder whose identifiers are locked
  -- the events moved back: the profile each was on, and what it counted
  v_moved_was uuid[];
  v_moved_type text[];
  v_moved_at timestamptz[];
  v_moved_revenue numeric[];
  v_moved_weight double precision[];
  v_moved_traits jsonb[]; -- an identify's traits, else null
  v_moved_touch jsonb[];  -- the touch an event with a channel makes, else null
  v_moved_channel text[];
  v_moved_group text[];
  v_moved_left jsonb;     -- the traits the moved identify calls leave
  v_member uuid;
begin
  perform private.require_permission(p_org_id, 'privacy:manage');
  select * into v_merge from public.profile_merges
  where org_id = p_org_id and id = p_merge_id for update;
  if v_merge.id is null then
    raise exception 'merge not found' using errcode = 'PT404', detail = 'field: merge_id';
  end if;
  if v_merge.unmerged_at is not null then
    raise exception 'this merge was already undone' using errcode = '22023', detail = 'field: merge_id';
  end if;

  -- WHERE THINGS ARE: a live profile is the loser of no standing merge, so the
  -- chain from the survivor follows one standing merge per step. The depth
  -- bound only guards against a cycle, which merges into the oldest cannot make.
  -- Then ingestion's locks on the holder's identifiers, in ingest_batch's
  -- order: a batch can merge the holder or move its identities only through
  -- one of them, and another unmerge on this chain takes them too. What
  -- committed while this waited (a merge of the holder, the undoing of a later
  -- merge) can move the holder: look again until it stays put.
  loop
    with recursive later as (
      select m.winner_id, m.moved_memberships, 1 as depth from public.profile_merges m
      where m.org_id = p_org_id and m.loser_id = v_merge.winner_id and m.unmerged_at is null
      union all
      select m.winner_id, m.moved_memberships, l.depth + 1 from later l
      join public.profile_merges m
        on m.org_id = p_org_id and m.loser_id = l.winner_id and m.unmerged_at is null
      where l.depth < 1000
    )
    select array_agg(l.moved_memberships order by l.depth),
           coalesce((array_agg(l.winner_id order by l.depth desc))[1], v_merge.winner_id),
           v_merge.winner_id || coalesce(array_agg(l.winner_id order by l.depth)
                                         filter (where l.winner_id is not null), '{}')
      into v_later, v_holder, v_chain
    from later l;
    exit when v_holder = v_locked;
    perform pg_advisory_xact_lock(l.h)
    from (
      select distinct hashtextextended(p_org_id::text || ':' || i.type || ':' || i.value, 0) as h
      from public.identities i
      where i.org_id = p_org_id and i.profile_id = v_holder
      order by 1
    ) l;
    v_locked := v_holder;
  end loop;

  -- IDENTITIES the merge moved, from the holder only.
  update public.identities set profile_id = v_merge.loser_id
  where org_id = p_org_id and id = any (v_merge.moved_identity_ids) and profile_id = v_holder;

  -- MEMBERSHIPS the merged profile brought go back to it, if the holder still
  -- has them, except those it had only through a merge into it that has been
  -- undone since (that undo gave them to their owner). The holder keeps a group
  -- it had of its own along the way (not joined at some step), or has been
  -- seen in since.
  insert into public.group_memberships (org_id, group_id, profile_id, first_seen_at, last_seen_at)
  select p_org_id, m.group_id, v_merge.loser_id, m.first_seen_at, m.last_seen_at
  from jsonb_to_recordset(v_merge.moved_memberships)
         m (group_id text, first_seen_at timestamptz, last_seen_at timestamptz, joined boolean)
  join public.group_memberships h
    on h.org_id = p_org_id and h.group_id = m.group_id and h.profile_id = v_holder
  where not exists (
    select 1 from public.profile_merges e
    cross join lateral jsonb_to_recordset(e.moved_memberships) x (group_id text, last_seen_at timestamptz, joined boolean)
    where e.org_id = p_org_id and e.winner_id = v_merge.loser_id and e.unmerged_at is not null
      and x.group_id = m.group_id and x.joined and m.last_seen_at <= x.last_seen_at)
  on conflict do nothing;
  delete from public.group_memberships h
  using jsonb_to_recordset(v_merge.moved_memberships) m (group_id text, last_seen_at timestamptz, joined boolean)
  where h.org_id = p_org_id and h.profile_id = v_holder and h.group_id = m.group_id
    and m.joined and h.last_seen_at <= m.last_seen_at
    and not exists (
      select 1 from unnest(v_later) s (moved)
      where not s.moved @> jsonb_build_array(jsonb_build_object('group_id', m.group_id, 'joined', true)));

  -- NUMBERS the merge added: the merged profile's counts, revenue and
  -- engagement come out of the survivor, and out of each later survivor to the
  -- holder, as every merge along the chain folded in the whole row. The merged
  -- profile's row still has them: no batch writes to a merged profile. Its
  -- engagement is decayed to each profile's own time, as the fold added it.
  -- What a merge folded by keeping one side (traits, first and last seen,
  -- touches, contact fields) cannot be taken back by subtraction and stays.
  -- The rows are locked as they are read, so the sums start from their
  -- latest versions.
  with taken as (
    select p.id,
           greatest(p.event_count - l.event_count, 0) as event_count,
           private.subtract_event_counts(p.event_counts, l.event_counts) as event_counts,
           greatest(p.revenue - l.revenue, 0) as revenue,
           greatest(p.engagement_raw
                    - private.decayed_engagement(l.engagement_raw, l.engagement_at,
                                                 greatest(p.engagement_at, l.engagement_at)),
                    0) as raw
    from public.profiles p
    join public.profiles l on l.org_id = p_org_id and l.id = v_merge.loser_id
    where p.org_id = p_org_id and p.id = any (v_chain)
    for no key update of p
  )
  update public.profiles p set
    event_count = t.event_count,
    event_counts = t.event_counts,
    revenue = t.revenue,
    engagement_raw = t.raw,
    engagement_score = private.engagement_score(t.raw)
  from taken t
  where p.org_id = p_org_id and p.id = t.id;

  -- EVENTS written to the chain while the merge stood, with the merged
  -- profile's ids alone, go back to it. An event goes when each of its
  -- anonymous and user ids that identifies anyone identifies the merged
  -- profile (its identities are back, above); one with an id of each side
  -- stays. The merged profile's own earlier events were written to it, so only
  -- events of the merge's time match.
  with moved as (
    update public.events e set profile_id = v_merge.loser_id
    from (
      select c.timestamp, c.id, c.profile_id as was
      from public.events c
      left join public.identities a
        on a.org_id = p_org_id and a.type = 'anonymous_id'
       and a.value = private.normalize_identifier('anonymous_id', c.anonymous_id)
      left join public.identities u
        on u.org_id = p_org_id and u.type = 'user_id'
       and u.value = private.normalize_identifier('user_id', c.user_id)
      where c.org_id = p_org_id and c.profile_id = any (v_chain)
        and v_merge.loser_id in (a.profile_id, u.profile_id)
        and coalesce(a.profile_id, v_merge.loser_id) = v_merge.loser_id
        and coalesce(u.profile_id, v_merge.loser_id) = v_merge.loser_id
    ) s
    where e.org_id = p_org_id and e.timestamp = s.timestamp and e.id = s.id
    returning s.was, e.type, e.event, e.timestamp, e.revenue, e.traits, e.channel, e.utm_source,
              e.utm_medium, e.utm_campaign, e.group_id
  )
  select array_agg(m.was), array_agg(m.type), array_agg(m.timestamp), array_agg(m.revenue),
         array_agg(private.engagement_weight(m.type, m.event, m.revenue, private.usable_numbers(o.settings -> 'engagement_weights'))),
         array_agg(case when m.type = 'identify' then m.traits end),
         array_agg(private.touch_of(m.channel, m.utm_source, m.utm_medium, m.utm_campaign, m.timestamp)),
         array_agg(m.channel), array_agg(m.group_id)
    into v_moved_was, v_moved_type, v_moved_at, v_moved_revenue, v_moved_weight, v_moved_traits,
         v_moved_touch, v_moved_channel, v_moved_group
  from moved m
  join public.organizations o on o.id = p_org_id;

  v_moved_left := private.traits_from_identifies(v_moved_traits, v_moved_at);

  if v_moved_was is not null then
    -- Out of the profile each was written to and every later one in the chain
    -- (locked above), engagement decayed to each profile's own time.
    with m as (
      select x.type, x.at, x.revenue, x.weight, c.n as written_at
      from unnest(v_moved_was, v_moved_type, v_moved_at, v_moved_revenue, v_moved_weight)
             x (was, type, at, revenue, weight)
      join unnest(v_chain) with ordinality c (id, n) on c.id = x.was
    ), per_type as (
      select c.id, m.type, count(*) as n,
             coalesce(sum(m.revenue) filter (where m.revenue > 0), 0) as revenue,
             sum(private.decayed_engagement(m.weight, m.at, p.engagement_at)) as raw
      from unnest(v_chain) with ordinality c (id, n)
      join m on m.written_at <= c.n
      join public.profiles p on p.org_id = p_org_id and p.id = c.id
      group by c.id, m.type
    ), taken as (
      select t.id, sum(t.n) as n, jsonb_object_agg(t.type, t.n) as counts,
             sum(t.revenue) as revenue, sum(t.raw) as raw
      from per_type t group by t.id
    )
    update public.profiles p set
      event_count = greatest(p.event_count - t.n, 0),
      event_counts = private.subtract_event_counts(p.event_counts, t.counts),
      revenue = greatest(p.revenue - t.revenue, 0),
      engagement_raw = greatest(p.engagement_raw - t.raw, 0),
      engagement_score = private.engagement_score(greatest(p.engagement_raw - t.raw, 0))
    from taken t
    where p.org_id = p_org_id and p.id = t.id;
  end if;

  -- POINTERS: the merged profile stands alone again, and the profiles merged
  -- into it by merges still standing point at it, not at the holder.
  update public.profiles set merged_into = null where org_id = p_org_id and id = v_merge.loser_id;
  with recursive under as (
    select m.loser_id, 1 as depth from public.profile_merges m
    where m.org_id = p_org_id and m.winner_id = v_merge.loser_id and m.unmerged_at is null
    union all
    select m.loser_id, u.depth + 1 from under u
    join public.profile_merges m
      on m.org_id = p_org_id and m.winner_id = u.loser_id and m.unmerged_at is null
    where u.depth < 1000
  )
  update public.profiles p set merged_into = v_merge.loser_id
  from under u
  where p.org_id = p_org_id and p.id = u.loser_id;

  -- THE SURVIVORS' FIELDS that came from the merged profile, in the survivor
  -- and each later one (each merge folded in the whole row). A merge kept one
  -- side's traits (per key, the later), touches and contact fields, and the
  -- merged profile's calls written meanwhile set more. A trait key whose
  -- timestamp is the merged profile's own, or that of one of the events that
  -- went back to it, is the merged profile's: it takes the profile's own
  -- latest value, from the identify calls written to it and to the profiles
  -- merged into it by merges still standing, or goes. Contact fields that were
  -- the merged profile's, or that follow a key that went back, follow the
  -- traits; a touch that was the merged profile's is found again among the
  -- profile's own events; last seen is its latest event. (First seen stands:
  -- merges keep the older profile, and events past retention are gone.)
  foreach v_member in array v_chain loop
    with own_events as (
      -- (the merge being undone is marked so only at the end)
      select e.type, e.timestamp, e.traits, e.channel, e.utm_source, e.utm_medium, e.utm_campaign
      from public.events e
      where e.org_id = p_org_id
        and e.profile_id in (select private.profile_and_merged(p_org_id, v_member, p_merge_id))
    ), own as (
      select private.traits_from_identifies(array_agg(o.traits) filter (where o.type = 'identify'),
                                            array_agg(o.timestamp) filter (where o.type = 'identify')) as traits,
             (array_agg(private.touch_of(o.channel, o.utm_source, o.utm_medium, o.utm_campaign, o.timestamp)
                order by o.timestamp) filter (where o.channel is not null))[1] as first_touch,
             (array_agg(private.touch_of(o.channel, o.utm_source, o.utm_medium, o.utm_campaign, o.timestamp)
                order by o.timestamp desc) filter (where o.channel is not null and o.channel <> 'direct'))[1]
               as last_touch,
             max(o.timestamp) as last_seen
      from own_events o
    ), theirs as (
      -- this profile's trait keys that are the merged profile's
      select coalesce(array_agg(k.key), '{}') as keys
      from public.profiles h
      cross join pg_catalog.jsonb_each_text(h.trait_timestamps) k
      join public.profiles l on l.org_id = p_org_id and l.id = v_merge.loser_id
      where h.org_id = p_org_id and h.id = v_member
        and (k.value = l.trait_timestamps ->> k.key
             or k.value = v_moved_left -> 'timestamps' ->> k.key)
    ), fixed as (
      select h.id,
             (h.traits - th.keys) || coalesce((select jsonb_object_agg(x.key, x.value)
                                               from jsonb_each(ow.traits -> 'traits') x
                                               where x.key = any (th.keys)), '{}') as traits,
             (h.trait_timestamps - th.keys) || coalesce((select jsonb_object_agg(x.key, x.value)
                                                         from jsonb_each(ow.traits -> 'timestamps') x
                                                         where x.key = any (th.keys)), '{}') as stamps,
             th.keys,
             h.first_touch is not distinct from l.first_touch as first_touch_theirs,
             h.last_touch is not distinct from l.last_touch or h.last_touch = any (v_moved_touch)
               as last_touch_theirs,
             ow.first_touch, ow.last_touch, ow.last_seen,
             l.email is not null and h.email = l.email as email_theirs,
             l.phone is not null and h.phone = l.phone as phone_theirs,
             l.name is not null and h.name = l.name as name_theirs
      from public.profiles h
      join public.profiles l on l.org_id = p_org_id and l.id = v_merge.loser_id
      cross join theirs th
      cross join own ow
      where h.org_id = p_org_id and h.id = v_member
    )
    update public.profiles p set
      traits = f.traits,
      trait_timestamps = f.stamps,
      email = case when f.email_theirs or 'email' = any (f.keys) then f.traits ->> 'email' else p.email end,
      phone = case when f.phone_theirs or 'phone' = any (f.keys) then f.traits ->> 'phone' else p.phone end,
      name = case when f.name_theirs or f.keys && '{name, firstName, lastName, first_name, last_name}'
                  then private.name_from_traits(f.traits) else p.name end,
      first_touch = case when f.first_touch_theirs then f.first_touch else p.first_touch end,
      last_touch = case when f.last_touch_theirs then f.last_touch else p.last_touch end,
      last_seen_at = coalesce(f.last_seen, p.last_seen_at)
    from fixed f
    where p.org_id = p_org_id and p.id = f.id;
  end loop;

  -- THE MERGED PROFILE: its row is as the merge left it (no batch writes to a
  -- merged profile). The events that came back add to it as the profile fold
  -- adds a batch: counts, revenue, engagement (decayed to the later of its time
  -- and the latest event's), traits, touches, contact fields and seen times.
  if v_moved_was is not null then
    with m as (
      select * from unnest(v_moved_type, v_moved_at, v_moved_revenue, v_moved_weight, v_moved_touch,
                           v_moved_channel) x (type, at, revenue, weight, touch, channel)
    ), added as (
      select count(*) as n,
             count(*) filter (where m.type = 'track') as n_track,
             count(*) filter (where m.type = 'page') as n_page,
             count(*) filter (where m.type = 'screen') as n_screen,
             count(*) filter (where m.type = 'identify') as n_identify,
             count(*) filter (where m.type = 'group') as n_group,
             count(*) filter (where m.type = 'alias') as n_alias,
             coalesce(sum(m.revenue) filter (where m.revenue > 0), 0) as revenue,
             min(m.at) as first_at, max(m.at) as last_at,
             (array_agg(m.touch order by m.at) filter (where m.touch is not null))[1] as first_touch,
             (array_agg(m.touch order by m.at desc)
                filter (where m.touch is not null and m.channel <> 'direct'))[1] as last_touch
      from m
    ), next as (
      select a.*, greatest(l.engagement_at, a.last_at) as at,
             private.decayed_engagement(l.engagement_raw, l.engagement_at, greatest(l.engagement_at, a.last_at))
               + (select sum(private.decayed_engagement(m.weight, m.at, greatest(l.engagement_at, a.last_at)))
                  from m) as new_raw,
             private.merge_traits(l.traits, l.trait_timestamps, v_moved_left -> 'traits',
                                  v_moved_left -> 'timestamps') as t
      from added a
      join public.profiles l on l.org_id = p_org_id and l.id = v_merge.loser_id
    )
    update public.profiles p set
      event_count = p.event_count + n.n,
      event_counts = private.add_event_counts(p.event_counts, n.n_track, n.n_page, n.n_screen,
                                              n.n_identify, n.n_group, n.n_alias),
      revenue = p.revenue + n.revenue,
      engagement_raw = n.new_raw,
      engagement_at = n.at,
      engagement_score = private.engagement_score(n.new_raw),
      first_seen_at = least(p.first_seen_at, n.first_at),
      last_seen_at = greatest(p.last_seen_at, n.last_at),
      traits = n.t -> 'traits',
      trait_timestamps = n.t -> 'timestamps',
      email = coalesce(n.t -> 'traits' ->> 'email', p.email),
      phone = coalesce(n.t -> 'traits' ->> 'phone', p.phone),
      name = coalesce(private.name_from_traits(n.t -> 'traits'), p.name),
      first_touch = case when n.first_touch is not null and (p.first_touch is null
                      or (n.first_touch ->> 'at') < (p.first_touch ->> 'at')) then n.first_touch
                      else p.first_touch end,
      last_touch = case when n.last_touch is not null and (p.last_touch is null
                      or (n.last_touch ->> 'at') >= (p.last_touch ->> 'at')) then n.last_touch
                      else p.last_touch end
    from next n
    where p.org_id = p_org_id and p.id = v_merge.loser_id;
  end if;

  -- GROUPS the merged profile joined by calls written to a survivor while the
  -- merge stood (those calls came back above) are its: it becomes a member,
  -- and a survivor stays one only if a group call of its own joined it.
  -- Memberships are written in key order, as ingestion writes them.
  if 'group' = any (v_moved_type) then
    with calls as (
      select btrim(x.group_id) as group_id, min(x.at) as first_at, max(x.at) as last_at
      from unnest(v_moved_type, v_moved_group, v_moved_at) x (type, group_id, at)
      where x.type = 'group' and btrim(coalesce(x.group_id, '')) <> ''
      group by 1
    ), joined as (
      insert into public.group_memberships as gm (org_id, group_id, profile_id, first_seen_at, last_seen_at)
      select p_org_id, c.group_id, v_merge.loser_id, c.first_at, c.last_at
      from calls c
      order by c.group_id
      on conflict (org_id, group_id, profile_id) do update set
        first_seen_at = least(gm.first_seen_at, excluded.first_seen_at),
        last_seen_at = greatest(gm.last_seen_at, excluded.last_seen_at)
    )
    delete from public.group_memberships h
    using calls c
    where h.org_id = p_org_id and h.profile_id = any (v_chain) and h.group_id = c.group_id
      and not exists (
        select 1 from public.events e
        where e.org_id = p_org_id
          and e.profile_id in (select private.profile_and_merged(p_org_id, h.profile_id, p_merge_id))
          and e.type = 'group' and btrim(e.group_id) = h.group_id);
  end if;

  update public.profiles p set identified = exists (
    select 1 from public.identities i
    where i.org_id = p_org_id and i.profile_id = p.id and i.type in ('user_id', 'email'))
  where p.org_id = p_org_id and p.id in (v_merge.loser_id, v_holder);
  update public.profiles p
  set lifecycle_stage = private.lifecycle_stage_of(p.revenue, p.identified, p.engagement_score)
  where p.org_id = p_org_id and (p.id = v_merge.loser_id or p.id = any (v_chain));
  update public.profile_merges set unmerged_at = now(), unmerged_by = auth.uid()
  where org_id = p_org_id and id = p_merge_id
  returning * into v_merge;
  return v_merge;
end;
$function$;

ALTER TABLE "private"."sign_in_failures"
  ADD CONSTRAINT "sign_in_failures_user_id_fkey" FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE;

ALTER TABLE "public"."audit_log"
  ADD CONSTRAINT "audit_log_hash_version_check" CHECK ((hash_version = ANY (ARRAY[1, 2])));

ALTER TABLE "public"."identity_settings"
  ADD CONSTRAINT "identity_settings_blocked_values_size" CHECK ((cardinality(blocked_values) <= 10000));

ALTER TABLE "public"."saved_views"
  ADD CONSTRAINT "saved_views_definition_size" CHECK ((octet_length((definition)::text) <= 65536));

CREATE INDEX api_key_rejections_unsummarized_idx ON private.api_key_rejections USING btree (hour)
  WHERE (NOT summarized);

CREATE INDEX api_key_secrets_key_idx ON private.api_key_secrets USING btree (org_id, key_id);

CREATE INDEX invitation_tokens_invitation_idx ON private.invitation_tokens USING btree (org_id, invitation_id);

CREATE INDEX sign_in_failures_user_idx ON private.sign_in_failures USING btree (user_id, failed_at);

CREATE INDEX api_keys_created_by_idx ON public.api_keys USING btree (created_by)
  WHERE (created_by IS NOT NULL);

CREATE INDEX api_keys_source_idx ON public.api_keys USING btree (org_id, source_id)
  WHERE (source_id IS NOT NULL);

CREATE INDEX api_keys_workspace_idx ON public.api_keys USING btree (org_id, workspace_id)
  WHERE (workspace_id IS NOT NULL);

CREATE INDEX invitations_accepted_by_idx ON public.invitations USING btree (accepted_by)
  WHERE (accepted_by IS NOT NULL);

CREATE INDEX invitations_invited_by_idx ON public.invitations USING btree (invited_by)
  WHERE (invited_by IS NOT NULL);

CREATE INDEX organization_members_invited_by_idx ON public.organization_members USING btree (invited_by)
  WHERE (invited_by IS NOT NULL);

CREATE INDEX organizations_created_by_idx ON public.organizations USING btree (created_by)
  WHERE (created_by IS NOT NULL);

CREATE INDEX rate_limit_policies_api_key_idx ON public.rate_limit_policies USING btree (org_id, api_key_id)
  WHERE (api_key_id IS NOT NULL);

CREATE INDEX role_permissions_permission_idx ON public.role_permissions USING btree (permission);

CREATE INDEX sources_workspace_idx ON public.sources USING btree (org_id, workspace_id)
  WHERE (workspace_id IS NOT NULL);

CREATE INDEX workspace_members_member_idx ON public.workspace_members USING btree (org_id, user_id);

CREATE TRIGGER organizations_queue_purge
  AFTER DELETE ON public.organizations
  FOR EACH ROW
  EXECUTE FUNCTION private.queue_organization_purge();

COMMENT ON FUNCTION "private"."audit_canonical"(public.audit_log) IS 'Deterministic text of an audit row, the input of its hash (by hash_version: 1 hashed host(ip), 2 the whole address and the version).';

COMMENT ON FUNCTION "private"."check_identity_settings"(jsonb, jsonb) IS 'Check of identity_settings: limits and priorities map identifier types to whole numbers 1-1000; errors name the key.';

COMMENT ON FUNCTION "private"."check_organization_settings"(jsonb) IS 'Check of organizations.settings: true, or an error naming the key (ip_handling, engagement_weights.<key>, size).';

COMMENT ON FUNCTION "private"."checkpoint_audit_partition"(regclass) IS 'Records each organization''s newest row of an audit_log partition about to be dropped, where its chain continues.';

COMMENT ON FUNCTION "private"."csv_cell"(text) IS 'A text value made safe for a CSV cell opened in a spreadsheet: a leading =, +, -, @, tab or CR is prefixed with a quote (OWASP CSV injection).';

COMMENT ON FUNCTION "private"."purge_deleted_organizations"(integer) IS 'Deletes up to p_max_rows rows still owned by deleted organizations (every table with org_id); run each minute by pg_cron.';

COMMENT ON FUNCTION "private"."queue_organization_purge"() IS 'Trigger: queues a deleted organization for private.purge_deleted_organizations.';

COMMENT ON FUNCTION "private"."summarize_api_key_rejections"() IS 'Audits each finished hour''s count of refusals per key and reason (one row each); run every five minutes by pg_cron.';

COMMENT ON FUNCTION "private"."usable_numbers"(jsonb, boolean) IS 'The number-valued entries of a JSON object (whole ones only with p_whole), others dropped: settings ingestion must never fail on.';

COMMENT ON FUNCTION "public"."password_verification_attempt_hook"(jsonb) IS 'Supabase Auth hook: counts failed passwords per user and, once private.sign_in_lockout_policy''s limit is reached, refuses every attempt until the window passes; audits failures.';

COMMENT ON TABLE "private"."api_key_rejections" IS 'Refusals of known API keys per key, reason and hour; the first is audited at once, the count once the hour is over. RLS on with no policy: only definer functions reach it.';

COMMENT ON TABLE "private"."api_key_secrets" IS 'SHA-256 of each API key secret, the only form in which secrets are kept. RLS on with no policy: only definer functions reach it.';

COMMENT ON TABLE "private"."api_key_usage_buffer" IS 'Recent API key uses, folded into api_keys.usage_count/last_used_at by flush_api_key_usage(). No primary key: an append-only buffer, read whole and emptied each minute. RLS on with no policy: only definer functions reach it.';

COMMENT ON TABLE "private"."audit_chain_checkpoints" IS 'Per organization, the newest audit row dropped by retention (seq and hash): verify_audit_chain starts from it. RLS on with no policy: only definer functions reach it.';

COMMENT ON TABLE "private"."audit_chain_heads" IS 'The last sequence number and hash of each organization''s audit chain. RLS on with no policy: only definer functions reach it.';

COMMENT ON TABLE "private"."invitation_tokens" IS 'SHA-256 of invitation tokens. Looked up by hash before the organization is known. RLS on with no policy: only definer functions reach it.';

COMMENT ON TABLE "private"."organization_purges" IS 'Deleted organizations whose remaining rows private.purge_deleted_organizations is removing. RLS on with no policy: only definer functions reach it.';

COMMENT ON TABLE "private"."rate_limit_counters" IS 'Sliding-window rate-limit state per bucket. UNLOGGED: lost on crash, limits then reset. RLS on with no policy: only definer functions reach it.';

COMMENT ON TABLE "private"."sign_in_failures" IS 'Failed password checks per user within the lockout window (see sign_in_lockout_policy). RLS on with no policy: only definer functions reach it.';

COMMENT ON TABLE "private"."sign_in_lockout_policy" IS 'One row: how many failed passwords within lockout_window lock a user out (every attempt refused) until the window passes. RLS on with no policy: only definer functions reach it.';

COMMENT ON TABLE "private"."time_partitioned_tables" IS 'Registry of time-partitioned tables: interval, partitions made ahead, and retention. RLS on with no policy: only definer functions reach it.';

REVOKE ALL ON FUNCTION "private"."check_identity_settings"(jsonb, jsonb) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "private"."check_identity_settings"(jsonb, jsonb) TO "authenticated";

REVOKE ALL ON FUNCTION "private"."check_identity_settings"(jsonb, jsonb) FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."check_identity_settings"(jsonb, jsonb) TO "postgres";

GRANT EXECUTE ON FUNCTION "private"."check_identity_settings"(jsonb, jsonb) TO "service_role";

REVOKE ALL ON FUNCTION "private"."check_organization_settings"(jsonb) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "private"."check_organization_settings"(jsonb) TO "authenticated";

REVOKE ALL ON FUNCTION "private"."check_organization_settings"(jsonb) FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."check_organization_settings"(jsonb) TO "postgres";

GRANT EXECUTE ON FUNCTION "private"."check_organization_settings"(jsonb) TO "service_role";

REVOKE ALL ON FUNCTION "private"."checkpoint_audit_partition"(regclass) FROM PUBLIC;

REVOKE ALL ON FUNCTION "private"."checkpoint_audit_partition"(regclass) FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."checkpoint_audit_partition"(regclass) TO "postgres";

REVOKE ALL ON FUNCTION "private"."csv_cell"(text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "private"."csv_cell"(text) TO "authenticated";

REVOKE ALL ON FUNCTION "private"."csv_cell"(text) FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."csv_cell"(text) TO "postgres";

GRANT EXECUTE ON FUNCTION "private"."csv_cell"(text) TO "service_role";

REVOKE ALL ON FUNCTION "private"."purge_deleted_organizations"(integer) FROM PUBLIC;

REVOKE ALL ON FUNCTION "private"."purge_deleted_organizations"(integer) FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."purge_deleted_organizations"(integer) TO "postgres";

REVOKE ALL ON FUNCTION "private"."queue_organization_purge"() FROM PUBLIC;

REVOKE ALL ON FUNCTION "private"."queue_organization_purge"() FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."queue_organization_purge"() TO "postgres";

REVOKE ALL ON FUNCTION "private"."summarize_api_key_rejections"() FROM PUBLIC;

REVOKE ALL ON FUNCTION "private"."summarize_api_key_rejections"() FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."summarize_api_key_rejections"() TO "postgres";

REVOKE ALL ON FUNCTION "private"."usable_numbers"(jsonb, boolean) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "private"."usable_numbers"(jsonb, boolean) TO "authenticated";

REVOKE ALL ON FUNCTION "private"."usable_numbers"(jsonb, boolean) FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."usable_numbers"(jsonb, boolean) TO "postgres";

GRANT EXECUTE ON FUNCTION "private"."usable_numbers"(jsonb, boolean) TO "service_role";

-- HAND-WRITTEN: settings written before they were checked lose the entries
-- the new checks refuse (each change is audited by the tables' triggers), so
-- that the constraints below can be added.
UPDATE public.identity_settings s
SET limits = (
      SELECT coalesce(jsonb_object_agg(e.key, e.value), '{}') FROM jsonb_each(s.limits) e
      WHERE (e.key IN ('user_id', 'anonymous_id', 'email', 'phone', 'device_id', '*')
             OR e.key ~ '^external:[a-z0-9_]{1,40}$')
        AND jsonb_typeof(e.value) = 'number'
        AND (e.value #>> '{}')::numeric BETWEEN 1 AND 1000
        AND (e.value #>> '{}')::numeric = trunc((e.value #>> '{}')::numeric)),
    priorities = (
      SELECT coalesce(jsonb_object_agg(e.key, e.value), '{}') FROM jsonb_each(s.priorities) e
      WHERE (e.key IN ('user_id', 'anonymous_id', 'email', 'phone', 'device_id')
             OR e.key ~ '^external:[a-z0-9_]{1,40}$')
        AND jsonb_typeof(e.value) = 'number'
        AND (e.value #>> '{}')::numeric BETWEEN 1 AND 1000
        AND (e.value #>> '{}')::numeric = trunc((e.value #>> '{}')::numeric));
UPDATE public.organizations o
SET settings = o.settings - 'ip_handling'
WHERE o.settings ? 'ip_handling'
  AND (jsonb_typeof(o.settings -> 'ip_handling') <> 'string'
       OR o.settings ->> 'ip_handling' NOT IN ('keep', 'truncate', 'drop'));
UPDATE public.organizations o
SET settings = CASE
  WHEN jsonb_typeof(o.settings -> 'engagement_weights') <> 'object' THEN o.settings - 'engagement_weights'
  ELSE jsonb_set(o.settings, '{engagement_weights}', (
    SELECT coalesce(jsonb_object_agg(e.key, e.value), '{}')
    FROM jsonb_each(o.settings -> 'engagement_weights') e
    WHERE jsonb_typeof(e.value) = 'number' AND (e.value #>> '{}')::numeric BETWEEN 0 AND 1000))
  END
WHERE o.settings ? 'engagement_weights';

ALTER TABLE "public"."identity_settings"
  ADD CONSTRAINT "identity_settings_valid" CHECK (private.check_identity_settings(limits, priorities));

ALTER TABLE "public"."organizations"
  ADD CONSTRAINT "organizations_settings_valid" CHECK (private.check_organization_settings(settings));

CREATE OR REPLACE FUNCTION private.refuse_append_only_change()
  RETURNS TRIGGER
  LANGUAGE plpgsql
  SET search_path TO ''
  AS $function$
begin
  if tg_op = 'DELETE' and not exists (
    select 1 from public.organizations o where o.id = old.org_id
  ) then
    return old;
  end if;
  raise exception '% is append-only: % is not allowed', tg_table_name, tg_op
    using errcode = '42501', hint = 'Rows leave only when retention drops their partition.';
end;
$function$;

COMMENT ON FUNCTION "private"."refuse_append_only_change"() IS 'Trigger: refuses UPDATE, DELETE and TRUNCATE on an append-only table, but for the rows of a deleted organization.';

ALTER TABLE "private"."time_partitioned_tables"
  ADD CONSTRAINT "time_partitioned_tables_before_drop_format" CHECK ((before_drop ~ '^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$'::text));

-- HAND-WRITTEN: reference rows and jobs, as 90_reference_data and 95_cron hold them.
UPDATE private.time_partitioned_tables
SET before_drop = 'private.checkpoint_audit_partition'
WHERE parent = 'public.audit_log'::regclass;
INSERT INTO private.sign_in_lockout_policy (id, max_failures, lockout_window)
VALUES (true, 5, '15 minutes')
ON CONFLICT (id) DO NOTHING;
SELECT cron.schedule('meridian-purge-deleted-organizations', '* * * * *',
                     'select private.purge_deleted_organizations()');
SELECT cron.schedule('meridian-summarize-api-key-rejections', '*/5 * * * *',
                     'select private.summarize_api_key_rejections()');

-- HAND-WRITTEN: existing partitions get the comment new ones are made with.
DO $$
DECLARE
  r record;
BEGIN
  FOR r IN
    SELECT i.inhrelid::regclass AS part, i.inhparent::regclass AS parent
    FROM pg_catalog.pg_inherits i
    JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'partitions' AND c.relkind IN ('r', 'p')
  LOOP
    EXECUTE format('comment on table %s is %L', r.part, format(
      'A partition of %s. RLS on with no policy: read and written through its parent, whose policies apply.',
      r.parent));
  END LOOP;
END;
$$;

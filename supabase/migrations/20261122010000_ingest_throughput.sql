-- Ingestion throughput (issue 4). Ingestion stores the same events, identities
-- and profiles as before (ids are now time-ordered, merges audited at commit);
-- private.ingest_batch is rewritten around what profiles of 100-event batches
-- showed: about 31 ms of Postgres time per batch on one connection, now 12 to
-- 16 ms.
--
-- 1. NUMERIC POWER. extract(epoch ...) is numeric, so every engagement decay
--    ran numeric power(), about 11 us a call, three calls per event: a tenth of
--    the batch. The decay is now double precision throughout.
-- 2. ONE PARSE. The batch was re-read as jsonb by every statement, and rebuilt
--    (each message copied with its identifiers appended) before the first. It is
--    now parsed once with jsonb_to_recordset into a typed array of the few
--    fields resolution and profiles need; only the events INSERT reads the full
--    messages again.
-- 3. NEW PROFILES ARE INSERTED WHOLE. A profile created by the batch used to be
--    inserted empty, then updated with the batch's aggregates: two heap tuples,
--    two rounds of index entries, foreign-key checks twice (a row inserted by
--    the same transaction is re-checked on update) and the updated_at trigger.
--    It is now inserted once, after the aggregates are known, with its
--    identifier. That is safe because a "new" identifier is, by construction,
--    in no other identifier set of the batch, and its advisory lock keeps other
--    batches away until commit.
-- 4. IDENTITIES POINT AT SURVIVORS. A merge moves the loser's identities to the
--    survivor (and an unmerge moves them back to a live profile), so the owner
--    lookup reads identities alone. The lock taken on the profiles before they
--    are updated returns merged_into as of that moment, which also catches a
--    merge committed by a concurrent batch while this one waited.
-- 5. THE PROFILE UPDATE joined the batch's aggregates to profiles, and the
--    planner rescanned one side per row of the other (quadratic, most of the
--    fold). It now reaches each row by the TID it locked.
-- 6. GENERIC PLANS. A one-message batch made custom plans look cheaper, so the
--    plan cache re-planned the larger statements on every call.
-- 7. SMALLER PER-ROW COSTS: event counts added by an inlined expression rather
--    than a subquery per profile; the updated_at trigger skipped when the
--    writer stamps now().
-- 8. MERGES ARE AUDITED AT COMMIT, so the audit chain's head is not held
--    through the rest of a batch.
-- 9. NO EMAIL INDEX ENTRY for profiles without an email, and time-ordered
--    (UUIDv7) ids for new profiles and identities.

-- DECAY ------------------------------------------------------------------------------
create or replace function private.decayed_engagement(p_raw double precision, p_from timestamptz,
                                                      p_to timestamptz)
returns double precision
language sql
immutable
-- No SET search_path: inlined into every ingested row (see 20261121231100).
as $$
  select case when p_raw is null or p_raw = 0 or p_from is null or p_to is null then coalesce(p_raw, 0)
    else p_raw * pg_catalog.power(0.5::double precision,
                   greatest(0, pg_catalog.date_part('epoch', p_to - p_from)) / (14 * 86400.0))
  end
$$;
comment on function private.decayed_engagement(double precision, timestamptz, timestamptz) is
  'An engagement sum decayed from one instant to a later one, with a 14-day half-life (double precision: numeric power() cost ~11 us a call).';

-- Name from traits: name, else first and last name (camelCase or snake_case)
-- joined as concat_ws(' ', ...) would; concat_ws is only stable, and a stable
-- body would keep this helper from being inlined.
create function private.name_from_traits(p_traits jsonb)
returns text
language sql
immutable
-- No SET search_path: inlined into the profile fold (see 20261121231100).
as $$
  select coalesce(p_traits ->> 'name',
                  nullif(pg_catalog.btrim(pg_catalog.substr(
                    coalesce(' ' || (p_traits ->> 'firstName'), '')
                    || coalesce(' ' || (p_traits ->> 'lastName'), '')
                    || coalesce(' ' || (p_traits ->> 'first_name'), '')
                    || coalesce(' ' || (p_traits ->> 'last_name'), ''), 2)), ''))
$$;
comment on function private.name_from_traits(jsonb) is
  'A display name from traits: name, else first and last name joined.';
grant execute on function private.name_from_traits(jsonb) to service_role;

-- Lifecycle stage from what the profile now holds (see profiles.lifecycle_stage).
create function private.lifecycle_stage_of(p_revenue numeric, p_identified boolean, p_score smallint)
returns public.lifecycle_stage
language sql
immutable
-- No SET search_path: inlined into the profile fold (see 20261121231100).
as $$
  select case
    when p_revenue > 0 then 'customer'::public.lifecycle_stage
    when not p_identified then 'anonymous'::public.lifecycle_stage
    when p_score >= 50 then 'engaged'::public.lifecycle_stage
    else 'identified'::public.lifecycle_stage end
$$;
comment on function private.lifecycle_stage_of(numeric, boolean, smallint) is
  'anonymous (no user_id or email), identified, engaged (identified and score >= 50), customer (revenue seen).';
grant execute on function private.lifecycle_stage_of(numeric, boolean, smallint) to service_role;

-- A profile's events per type plus a batch's, by message type: an expression,
-- not a subquery expanding both objects per profile. Built from text so the
-- body stays immutable (jsonb_build_object is only stable) and inlines.
create function private.add_event_counts(p_counts jsonb, p_track bigint, p_page bigint, p_screen bigint,
                                         p_identify bigint, p_group bigint, p_alias bigint)
returns jsonb
language sql
immutable
-- No SET search_path: inlined into the profile fold (see 20261121231100).
as $$
  select p_counts
    || case when p_track > 0 then ('{"track": '
         || (coalesce((p_counts ->> 'track')::bigint, 0) + p_track)::text || '}')::jsonb else '{}' end
    || case when p_page > 0 then ('{"page": '
         || (coalesce((p_counts ->> 'page')::bigint, 0) + p_page)::text || '}')::jsonb else '{}' end
    || case when p_screen > 0 then ('{"screen": '
         || (coalesce((p_counts ->> 'screen')::bigint, 0) + p_screen)::text || '}')::jsonb else '{}' end
    || case when p_identify > 0 then ('{"identify": '
         || (coalesce((p_counts ->> 'identify')::bigint, 0) + p_identify)::text || '}')::jsonb else '{}' end
    || case when p_group > 0 then ('{"group": '
         || (coalesce((p_counts ->> 'group')::bigint, 0) + p_group)::text || '}')::jsonb else '{}' end
    || case when p_alias > 0 then ('{"alias": '
         || (coalesce((p_counts ->> 'alias')::bigint, 0) + p_alias)::text || '}')::jsonb else '{}' end
$$;
comment on function private.add_event_counts(jsonb, bigint, bigint, bigint, bigint, bigint, bigint) is
  'Event counts per message type with a batch''s counts added.';
grant execute on function private.add_event_counts(jsonb, bigint, bigint, bigint, bigint, bigint, bigint)
  to service_role;

-- updated_at on profiles: the plpgsql trigger cost ~11 us a row, a tenth of a
-- profile update. A writer that stamps now() itself (ingestion) skips it; any
-- other value, forged or stale, is still overwritten.
drop trigger profiles_set_updated_at on public.profiles;
create trigger profiles_set_updated_at before update on public.profiles
  for each row when (new.updated_at is distinct from now())
  execute function private.set_updated_at();

-- Time-ordered ids for profiles and identities (RFC 9562 UUIDv7; Postgres 15
-- has no uuidv7()): each new row's key lands at the right edge of its
-- (org_id, id) index, and of identities (org_id, profile_id), instead of on a
-- random leaf. An organization that grows by a profile per anonymous visitor
-- otherwise touches a cold page per insert (5-7% of a batch, measured on an
-- organization of 30,000 profiles, more as it grows).
create function private.uuid_v7()
returns uuid
language sql
volatile
set search_path = ''
as $$
  -- 48 bits of Unix milliseconds over gen_random_uuid()'s bytes, and the
  -- version nibble turned from 4 (0100) to 7 (0111); the variant bits stay.
  select encode(
    pg_catalog.set_bit(pg_catalog.set_bit(
      overlay(pg_catalog.uuid_send(pg_catalog.gen_random_uuid())
        placing substring(pg_catalog.int8send(
          pg_catalog.floor(extract(epoch from pg_catalog.clock_timestamp()) * 1000)::bigint) from 3)
        from 1 for 6),
      52, 1), 53, 1), 'hex')::uuid
$$;
comment on function private.uuid_v7() is
  'A UUIDv7 (RFC 9562): Unix milliseconds then random bits, so new keys sort after older ones.';
grant execute on function private.uuid_v7() to service_role;
alter table public.profiles alter column id set default private.uuid_v7();
alter table public.identities alter column id set default private.uuid_v7();

-- Profiles without an email (every anonymous visitor) no longer get an entry in
-- the email index: every profile insert, and every profile update (which
-- cannot be HOT, as last_seen_at is indexed), wrote one for a NULL no query
-- looks up. A lookup by email implies the email is not null, so the partial
-- index still serves it.
drop index public.profiles_org_email_idx;
create index profiles_org_email_idx on public.profiles (org_id, lower(email))
  where merged_into is null and email is not null;

-- Merges are audited as the batch commits, not when they happen. Appending to
-- the audit chain locks the organization's chain head until commit, so a
-- merge early in a batch held it through the rest of the batch, and every
-- concurrent batch of the organization with a merge waited (19 ms on average
-- under load, measured). A merge rolled back with its batch is not audited.
drop trigger profile_merges_audit on public.profile_merges;
create constraint trigger profile_merges_audit after insert or update on public.profile_merges
  deferrable initially deferred
  for each row execute function private.audit_row_change('org_id', 'id', 'low');

-- The fields of a message that resolution and the profile fold read, parsed once.
create type private.ingest_message as (
  pos int,               -- order of processing: timestamp, then position in the request
  ord int,               -- position in the request
  message_id text,
  type text,
  event text,
  ts timestamptz,
  revenue numeric,
  channel text,
  utm_source text,
  utm_medium text,
  utm_campaign text,
  traits jsonb,          -- identify only
  ids jsonb              -- normalized identifiers, strongest first: [{type, value}]
);
comment on type private.ingest_message is
  'One accepted message as private.ingest_batch carries it between statements.';

create or replace function private.ingest_batch(p_org_id uuid, p_source_id uuid, p_messages jsonb)
returns jsonb
language plpgsql
set search_path = ''
-- JIT compiling these statements costs more than running them (tens of ms per
-- batch, measured): ingestion is many small statements, not analytics.
set jit = off
-- Generic plans, always. With a one-message batch a custom plan looks cheaper,
-- so the plan cache re-planned the profile fold on every call: 3.6 ms of
-- planning for 0.6 ms of work. Every statement here is written to plan the
-- same whatever the parameters (fences, TID and index probes).
set plan_cache_mode = force_generic_plan
as $$
declare
  v_limits jsonb;
  v_priorities jsonb;
  v_blocked text[];
  v_fold boolean;
  v_org_settings jsonb;
  v_ip_handling text;
  v_today date := (now() at time zone 'UTC')::date;
  v_msgs private.ingest_message[];
  v_accepted int;
  -- identifier sets that need a decision (links, merges, limits), in order
  v_decide_ids jsonb[];
  v_decide_at timestamptz[];
  v_decide_message text[];
  -- identifier set -> profile, for every set of the batch
  v_set_ids jsonb[];
  v_set_pid uuid[];
  -- profiles the batch creates, with their one identifier
  v_new_pid uuid[];
  v_new_type text[];
  v_new_value text[];
  v_new_at timestamptz[];
  v_existing uuid[];
  v_merged_from uuid[];
  v_merged_to uuid[];
  v_day timestamptz;
begin
  -- SETTINGS
  select s.limits, s.priorities, array(select lower(b) from unnest(s.blocked_values) b),
         s.fold_gmail_addresses
    into v_limits, v_priorities, v_blocked, v_fold
  from public.identity_settings s where s.org_id = p_org_id;
  v_limits := coalesce(v_limits, '{"user_id": 1, "*": 5}');
  v_priorities := coalesce(v_priorities, '{}');
  v_blocked := coalesce(v_blocked, '{}');
  v_fold := coalesce(v_fold, false);
  select o.settings into v_org_settings from public.organizations o where o.id = p_org_id;
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
    select n.pos, jsonb_agg(jsonb_build_object('type', n.type, 'value', n.value)
                            order by private.identifier_priority(n.type, v_priorities), n.type, n.value) as ids
    from (
      select distinct r.pos, r.type, private.normalize_identifier(r.type, r.value, v_fold) as value
      from raw_ids r
    ) n
    where n.value is not null and not private.is_blocked_identifier(n.value, v_blocked)
    group by n.pos
  )
  select array_agg(row(k.pos, k.ord::int, k.message_id, k.type, k.event, k.ts, k.revenue, k.channel, k.utm_source,
                       k.utm_medium, k.utm_campaign,
                       case when k.type = 'identify' then k.traits end,
                       coalesce(n.ids, '[]'))::private.ingest_message order by k.pos)
    into v_msgs
  from kept k left join normalized n using (pos);

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
    select m.ids, min(m.pos) as first, min(m.ts) as at,
           (array_agg(m.message_id order by m.pos))[1] as message_id
    from unnest(v_msgs) m
    where m.ids <> '[]'
    group by m.ids
  ), idf as (
    select g.ids, x ->> 'type' as type, x ->> 'value' as value, o.profile_id
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
    select g.ids, g.first, g.at, g.message_id,
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
    from grp g join idf f on f.ids = g.ids
    group by g.ids, g.first, g.at, g.message_id
  ), assigned as (
    -- a volatile id, so computed once per set (the CTE is not inlined)
    select p.*, case p.kind when 'known' then p.owner when 'new' then private.uuid_v7() end as pid
    from planned p
  )
  select array_agg(a.ids) filter (where a.kind <> 'decide'),
         array_agg(a.pid) filter (where a.kind <> 'decide'),
         -- new lone identifiers: a profile each, inserted whole with the fold below
         array_agg(a.pid) filter (where a.kind = 'new'),
         array_agg(a.type) filter (where a.kind = 'new'),
         array_agg(a.value) filter (where a.kind = 'new'),
         array_agg(a.at) filter (where a.kind = 'new'),
         array_agg(a.ids order by a.first) filter (where a.kind = 'decide'),
         array_agg(a.at order by a.first) filter (where a.kind = 'decide'),
         array_agg(a.message_id order by a.first) filter (where a.kind = 'decide')
    into v_set_ids, v_set_pid, v_new_pid, v_new_type, v_new_value, v_new_at,
         v_decide_ids, v_decide_at, v_decide_message
  from assigned a;

  -- the rest, one decision at a time
  for i in 1 .. coalesce(cardinality(v_decide_ids), 0) loop
    v_set_ids := array_append(v_set_ids, v_decide_ids[i]);
    v_set_pid := array_append(v_set_pid, private.resolve_profile(p_org_id, v_decide_ids[i], v_limits,
                                                                 p_source_id, v_decide_at[i],
                                                                 v_decide_message[i]));
  end loop;

  -- PROFILES that exist: lock them in id order (no deadlock between batches).
  -- A later message of the batch, or a batch committed while this one waited,
  -- may have merged one: everything below writes to the survivors.
  v_existing := array(select distinct p from unnest(v_set_pid) p
                      where p <> all (coalesce(v_new_pid, '{}')) order by 1);
  select array_agg(l.id) filter (where l.merged_into is not null),
         array_agg(l.merged_into) filter (where l.merged_into is not null)
    into v_merged_from, v_merged_to
  from (
    select p.id, p.merged_into from public.profiles p
    where p.org_id = p_org_id and p.id = any (v_existing)
    order by p.id
    for no key update
  ) l;
  if v_merged_from is not null then
    select array_agg(coalesce(r.survivor, s.pid) order by s.n) into v_set_pid
    from unnest(v_set_pid) with ordinality s (pid, n)
    left join unnest(v_merged_from, v_merged_to) r (id, survivor) on r.id = s.pid;
    -- Survivors found through merged_into, locked in id order too.
    v_existing := array(select distinct p from unnest(v_set_pid) p
                        where p <> all (coalesce(v_new_pid, '{}')) order by 1);
    perform 1 from public.profiles p
    where p.org_id = p_org_id and p.id = any (v_existing)
    order by p.id
    for no key update;
  end if;

  -- PARTITIONS for historical or early timestamps the maintenance job has not made.
  for v_day in
    select distinct date_trunc('day', m.ts at time zone 'UTC') at time zone 'UTC' from unnest(v_msgs) m
  loop
    if to_regclass(format('partitions.events_p%s', to_char(v_day at time zone 'UTC', 'YYYY_MM_DD'))) is null then
      perform private.create_time_partition('public.events', v_day);
    end if;
  end loop;

  -- EVENTS: the full messages are read here only.
  insert into public.events (
    org_id, timestamp, source_id, message_id, type, event, profile_id, anonymous_id, user_id,
    group_id, received_at, sent_at, original_timestamp, channel, utm_source, utm_medium,
    utm_campaign, utm_term, utm_content, campaign_id, revenue, value, currency, browser, os,
    device_type, ip, properties, traits, context, integrations)
  select p_org_id, m.ts, p_source_id, m.message_id, m.type, m.event, s.pid, r.anonymous_id,
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
         currency text, browser text, os text, device_type text, ip text, properties jsonb, traits jsonb,
         context jsonb, integrations jsonb))
       with ordinality as r (anonymous_id, user_id, group_id, received_at, sent_at, original_timestamp,
                             utm_term, utm_content, campaign_id, value, currency, browser, os, device_type,
                             ip, properties, traits, context, integrations, ord)
    on r.ord = m.ord
  left join unnest(v_set_ids, v_set_pid) s (ids, pid) on s.ids = m.ids
  cross join lateral (select private.parse_ip(r.ip) as addr) ip;

  -- PROFILE FOLD: the batch's events per profile, then one INSERT of each new
  -- profile (whole) with its identifier, and one UPDATE of each existing one.
  with ev as (
    select s.pid as profile_id, m.type, m.ts, m.revenue, m.channel, m.traits,
           case when m.channel is not null then jsonb_build_object(
             'channel', m.channel, 'source', m.utm_source, 'medium', m.utm_medium,
             'campaign', m.utm_campaign, 'at',
             to_char(m.ts at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
           end as touch,
           private.engagement_weight(m.type, m.event, m.revenue,
                                     v_org_settings -> 'engagement_weights') as weight,
           max(m.ts) over (partition by s.pid) as profile_last_ts
    from unnest(v_msgs) m
    join unnest(v_set_ids, v_set_pid) s (ids, pid) on s.ids = m.ids
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
    select f.*, p.row_ctid, t.merged, g.at as new_at,
           private.decayed_engagement(p.engagement_raw, p.engagement_at, g.at)
             + private.decayed_engagement(f.raw, f.last_ts, g.at) as new_raw
    from folded f
    cross join lateral (
      select p.ctid as row_ctid, p.traits, p.trait_timestamps, p.engagement_raw, p.engagement_at
      from public.profiles p
      where p.org_id = p_org_id and p.id = f.profile_id
      offset 0 -- optimization fence: an index probe per profile (a join here was rescanned per row)
    ) p
    cross join lateral (
      select case when f.b_stamps is not null
        then private.merge_traits(p.traits, p.trait_timestamps, f.b_traits, f.b_stamps) end as merged
    ) t
    cross join lateral (select greatest(p.engagement_at, f.last_ts) as at) g
    where f.profile_id = any (v_existing)
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
  -- By the row version `next` read (locked above, so it cannot move): a TID
  -- probe per profile whatever the estimates. Joined on id, the planner
  -- misjudged the batch (one row) or the organization (stale statistics) and
  -- rescanned one side per row of the other: quadratic, most of the fold's time.
  where p.ctid = n.row_ctid and p.org_id = p_org_id;

  return jsonb_build_object('received', jsonb_array_length(p_messages),
                            'accepted', v_accepted,
                            'duplicates', jsonb_array_length(p_messages) - v_accepted);
end;
$$;
comment on function private.ingest_batch(uuid, uuid, jsonb) is
  'Stores a batch of validated messages in one transaction: dedupe, identity resolution, events, profiles.';

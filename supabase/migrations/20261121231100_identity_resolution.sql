-- Identity resolution and batch ingestion. One call per HTTP request:
-- private.ingest_batch dedupes the batch, resolves every message's identifiers to
-- a profile (merging when they meet, within each organization's limits), inserts
-- the events set-based and folds them into the profiles, in one transaction.

-- The small IMMUTABLE SQL helpers below run for every identifier or event of a
-- batch. They have no SET search_path so the planner can inline them (a SET
-- clause costs a GUC save and restore per call, measured at ~10 us each); they
-- call only pg_catalog functions and operators, which resolve before any other
-- schema, and private.* by name.

-- NORMALIZATION ----------------------------------------------------------------------
-- Values that never identify anyone, whatever a buggy SDK sends.
create function private.is_blocked_identifier(p_value text, p_extra text[] default '{}')
returns boolean
language sql
immutable
-- No SET search_path: inlined into every ingested row (see the note at the top).
as $$
  select p_value is null
      or btrim(p_value) = ''
      or lower(btrim(p_value)) in ('null', 'undefined', 'anonymous', 'guest', '0', '-1',
                                   '[object object]', 'none', 'nan', 'unknown')
      or btrim(p_value) ~ '^[0-]+$'                -- all zeros or dashes, e.g. 00000000-0000-...
      or lower(btrim(p_value)) = any (coalesce(p_extra, '{}'))
$$;
comment on function private.is_blocked_identifier(text, text[]) is
  'Whether a value is blocked from identifying anyone (null, undefined, anonymous, guest, 0, -1, [object Object], all-zero or dash-only ids, empty, or per-org additions).';

create function private.normalize_identifier(p_type text, p_value text, p_fold_gmail boolean default false)
returns text
language sql
immutable
-- No SET search_path: inlined into every ingested row (see the note at the top).
-- One expression, no FROM, so it inlines; emails must look like a@b.
as $$
  select case
    when p_type = 'email' then
      case
        when pg_catalog.lower(pg_catalog.btrim(p_value)) !~ '^[^@\s]+@[^@\s]+$' then null
        when p_fold_gmail
             and pg_catalog.split_part(pg_catalog.lower(pg_catalog.btrim(p_value)), '@', 2)
                 in ('gmail.com', 'googlemail.com')
          then pg_catalog.replace(pg_catalog.split_part(pg_catalog.split_part(
                 pg_catalog.lower(pg_catalog.btrim(p_value)), '@', 1), '+', 1), '.', '') || '@gmail.com'
        else pg_catalog.lower(pg_catalog.btrim(p_value))
      end
    when p_type = 'phone' then
      -- E.164: '+' and digits; a leading international 00 counts as '+'.
      case
        when pg_catalog.regexp_replace(pg_catalog.regexp_replace(pg_catalog.btrim(p_value), '^00', ''),
               '[^0-9]', '', 'g') ~ '^[0-9]{6,15}$'
          then '+' || pg_catalog.regexp_replace(pg_catalog.regexp_replace(pg_catalog.btrim(p_value), '^00', ''),
               '[^0-9]', '', 'g')
      end
    else pg_catalog.left(pg_catalog.btrim(p_value), 512)
  end
$$;
comment on function private.normalize_identifier(text, text, boolean) is
  'Normal form of an identifier: emails lower-cased and trimmed (optionally Gmail dot/plus folded), phones to +digits (E.164), others trimmed.';

-- Identifier priority: lower is stronger. Segment Unify's defaults, then a fixed order.
create function private.identifier_priority(p_type text, p_priorities jsonb)
returns int
language sql
immutable
-- No SET search_path: inlined into every ingested row (see the note at the top).
as $$
  select coalesce((p_priorities ->> p_type)::int,
    case when p_type = 'user_id' then 1
         when p_type = 'email' then 2
         when p_type = 'phone' then 3
         when p_type like 'external:%' then 4
         when p_type = 'device_id' then 5
         else 6 end + 10)
$$;

-- RESOLUTION ------------------------------------------------------------------------------
-- Resolves one set of identifiers (already normalized, unblocked, strongest first)
-- to a profile: none known -> new profile; one -> it; several -> merge into the
-- oldest. When attaching or merging would give a profile more identifiers of a
-- type than its limit allows, the weakest identifier is dropped (and recorded)
-- and matching starts again, as Segment Unify does.
create function private.resolve_profile(
  p_org_id uuid,
  p_ids jsonb,                -- [{"type": ..., "value": ...}] strongest first
  p_limits jsonb,
  p_source_id uuid,
  p_at timestamptz,
  p_message_id text
)
returns uuid
language plpgsql
set search_path = ''
as $$
declare
  v_ids jsonb := p_ids;
  v_profiles uuid[];
  v_target uuid;
  v_losers uuid[];
  v_violation boolean;
  v_dropped jsonb;
  v_moved uuid[];
  v_loser uuid;
begin
  loop
    -- PROFILES THAT OWN ANY OF THE IDENTIFIERS (survivors, oldest first)
    -- Oldest = first seen (several may be created in one transaction).
    -- An index probe per identifier whatever the plan cache decides: a generic
    -- plan otherwise hash-joins all of the organization's identities (measured).
    select array_agg(o.id order by o.first_seen_at, o.created_at, o.id) into v_profiles
    from (
      select distinct s.id, s.first_seen_at, s.created_at
      from jsonb_array_elements(v_ids) x
      cross join lateral (
        select i.profile_id from public.identities i
        where i.org_id = p_org_id and i.type = x ->> 'type' and i.value = x ->> 'value'
        offset 0 -- optimization fence: keep the per-identifier index probe
      ) i
      cross join lateral (
        select coalesce(pr.merged_into, pr.id) as survivor from public.profiles pr
        where pr.org_id = p_org_id and pr.id = i.profile_id
        offset 0
      ) pr
      cross join lateral (
        select s.id, s.first_seen_at, s.created_at from public.profiles s
        where s.org_id = p_org_id and s.id = pr.survivor
        offset 0
      ) s
    ) o;

    -- LIMITS: would the survivor hold too many identifiers of one type?
    select exists (
      select 1
      from (
        select i.type, i.value
        from unnest(coalesce(v_profiles, '{}')) pid
        cross join lateral (
          select i.type, i.value from public.identities i
          where i.org_id = p_org_id and i.profile_id = pid
          offset 0
        ) i
        union
        select x ->> 'type', x ->> 'value' from jsonb_array_elements(v_ids) x
      ) held
      group by held.type
      having count(*) > coalesce((p_limits ->> held.type)::int, (p_limits ->> '*')::int, 5)
    ) into v_violation;

    exit when not v_violation or jsonb_array_length(v_ids) <= 1;
    v_dropped := v_ids -> (jsonb_array_length(v_ids) - 1);
    v_ids := v_ids - (jsonb_array_length(v_ids) - 1);
    insert into public.identity_conflicts (org_id, message_id, type, value, profile_id, reason)
    values (p_org_id, p_message_id, v_dropped ->> 'type', v_dropped ->> 'value', v_profiles[1],
            'limit exceeded: identifier dropped and message matched again');
  end loop;

  if v_violation then
    -- A single identifier that still exceeds a limit (its profile is full): keep
    -- the profile it already belongs to, if any, and attach nothing new.
    v_ids := '[]'::jsonb;
  end if;

  -- TARGET
  if v_profiles is null then
    insert into public.profiles (org_id, first_seen_at, last_seen_at)
    values (p_org_id, p_at, p_at)
    returning id into v_target;
  else
    v_target := v_profiles[1];
    v_losers := v_profiles[2:];
  end if;

  -- MERGE the younger profiles into the oldest.
  if cardinality(v_losers) > 0 then
    foreach v_loser in array v_losers loop
      with moved as (
        update public.identities set profile_id = v_target
        where org_id = p_org_id and profile_id = v_loser
        returning id
      )
      select coalesce(array_agg(id), '{}') into v_moved from moved;
      update public.profiles set merged_into = v_target where org_id = p_org_id and id = v_loser;
      -- Profiles already merged into the loser now point at the survivor.
      update public.profiles set merged_into = v_target
      where org_id = p_org_id and merged_into = v_loser;
      insert into public.profile_merges (org_id, winner_id, loser_id, reason, message_id, moved_identity_ids)
      values (p_org_id, v_target, v_loser,
              'identifiers of one message belonged to both profiles', p_message_id, v_moved);
      perform private.fold_profile_into(p_org_id, v_loser, v_target);
    end loop;
  end if;

  -- ATTACH the identifiers the survivor does not hold yet.
  insert into public.identities as i (org_id, type, value, profile_id, source_id, first_seen_at, last_seen_at)
  select p_org_id, x ->> 'type', x ->> 'value', v_target, p_source_id, p_at, p_at
  from jsonb_array_elements(v_ids) x
  on conflict (org_id, type, value) do update
    set last_seen_at = greatest(i.last_seen_at, excluded.last_seen_at);
  if exists (select 1 from jsonb_array_elements(v_ids) x where x ->> 'type' in ('user_id', 'email')) then
    update public.profiles set identified = true
    where org_id = p_org_id and id = v_target and not identified;
  end if;
  return v_target;
end;
$$;
comment on function private.resolve_profile(uuid, jsonb, jsonb, uuid, timestamptz, text) is
  'Resolves normalized identifiers to one profile, merging or dropping identifiers per the organization''s limits.';

-- Folds a merged profile's aggregates into its survivor.
create function private.fold_profile_into(p_org_id uuid, p_loser uuid, p_winner uuid)
returns void
language plpgsql
set search_path = ''
as $$
declare
  l public.profiles;
begin
  select * into l from public.profiles where org_id = p_org_id and id = p_loser;
  update public.profiles w set
    traits = t.merged -> 'traits',
    trait_timestamps = t.merged -> 'timestamps',
    first_seen_at = least(w.first_seen_at, l.first_seen_at),
    last_seen_at = greatest(w.last_seen_at, l.last_seen_at),
    first_touch = case when l.first_touch is not null and (w.first_touch is null
                    or (l.first_touch ->> 'at')::timestamptz < (w.first_touch ->> 'at')::timestamptz)
                    then l.first_touch else w.first_touch end,
    last_touch = case when l.last_touch is not null and (w.last_touch is null
                    or (l.last_touch ->> 'at')::timestamptz > (w.last_touch ->> 'at')::timestamptz)
                    then l.last_touch else w.last_touch end,
    event_count = w.event_count + l.event_count,
    event_counts = (select coalesce(jsonb_object_agg(k, n), '{}') from (
                      select k, sum(v::bigint) as n from (
                        select key as k, value as v from jsonb_each_text(w.event_counts)
                        union all
                        select key, value from jsonb_each_text(l.event_counts)) a group by k) s),
    revenue = w.revenue + l.revenue,
    engagement_raw = private.decayed_engagement(w.engagement_raw, w.engagement_at,
                       greatest(w.engagement_at, l.engagement_at))
                   + private.decayed_engagement(l.engagement_raw, l.engagement_at,
                       greatest(w.engagement_at, l.engagement_at)),
    engagement_at = greatest(w.engagement_at, l.engagement_at),
    identified = w.identified or l.identified,
    email = coalesce(w.email, l.email),
    phone = coalesce(w.phone, l.phone),
    name = coalesce(w.name, l.name)
  from (
    select private.merge_traits(w0.traits, w0.trait_timestamps, l.traits, l.trait_timestamps) as merged
    from public.profiles w0 where w0.org_id = p_org_id and w0.id = p_winner
  ) t
  where w.org_id = p_org_id and w.id = p_winner;
end;
$$;

-- TRAITS ------------------------------------------------------------------------------------
-- Merges two trait sets key by key: the value with the later timestamp wins; a
-- "$unset" entry in the timestamps marks a removed key (kept so an older value
-- arriving later does not bring it back).
create function private.merge_traits(
  p_traits jsonb, p_stamps jsonb, p_new_traits jsonb, p_new_stamps jsonb
)
returns jsonb
language sql
immutable
set search_path = ''
as $$
  with keys as (
    select k from jsonb_object_keys(coalesce(p_stamps, '{}') || coalesce(p_new_stamps, '{}')) k
  ), chosen as (
    select k,
      case when (p_new_stamps ->> k) is not null
                and ((p_stamps ->> k) is null or (p_new_stamps ->> k) >= (p_stamps ->> k))
           then 'new' else 'old' end as side
    from keys
  )
  select jsonb_build_object(
    'traits', coalesce(jsonb_object_agg(c.k,
                case when c.side = 'new' then p_new_traits -> c.k else p_traits -> c.k end)
                filter (where (case when c.side = 'new' then p_new_traits ? c.k else p_traits ? c.k end)), '{}'),
    'timestamps', coalesce(jsonb_object_agg(c.k,
                case when c.side = 'new' then p_new_stamps -> c.k else p_stamps -> c.k end), '{}'))
  from chosen c
$$;
comment on function private.merge_traits(jsonb, jsonb, jsonb, jsonb) is
  'Per-key merge of traits by timestamp (ISO-8601 UTC strings compare in time order); a key absent from the winning side is unset.';

-- ENGAGEMENT --------------------------------------------------------------------------------
-- Raw engagement decays with a 14-day half-life; the score maps it to 0-100.
create function private.decayed_engagement(p_raw double precision, p_from timestamptz, p_to timestamptz)
returns double precision
language sql
immutable
-- No SET search_path: inlined into every ingested row (see the note at the top).
as $$
  select case when p_raw is null or p_raw = 0 or p_from is null or p_to is null then coalesce(p_raw, 0)
    else p_raw * power(0.5, greatest(0, extract(epoch from p_to - p_from)) / (14 * 86400.0)) end
$$;

create function private.engagement_weight(p_type text, p_event text, p_revenue numeric, p_weights jsonb)
returns double precision
language sql
immutable
-- No SET search_path: inlined into every ingested row (see the note at the top).
as $$
  select coalesce((p_weights ->> ('event:' || p_event))::double precision,
                  (p_weights ->> p_type)::double precision,
                  case p_type when 'track' then 3 when 'identify' then 2 when 'alias' then 0 else 1 end)
       + case when coalesce(p_revenue, 0) > 0 then 5 else 0 end
$$;
comment on function private.engagement_weight(text, text, numeric, jsonb) is
  'Weight of one event: per-org overrides (organizations.settings.engagement_weights, by "event:<name>" or type), else track 3, identify 2, alias 0, others 1; +5 with revenue.';

create function private.engagement_score(p_raw double precision)
returns smallint
language sql
immutable
-- No SET search_path: inlined into every ingested row (see the note at the top).
as $$
  select round(100 * (1 - exp(-greatest(p_raw, 0) / 25.0)))::smallint
$$;

-- INGESTION --------------------------------------------------------------------------------
-- One call per request. p_messages are validated and enriched by the ingest edge
-- function: message_id, type, event, timestamp (skew-corrected ISO-8601), sent_at,
-- received_at, original_timestamp, user_id, anonymous_id, group_id, properties,
-- traits, context, integrations, channel, utm_*, campaign_id, revenue, value,
-- currency, browser, os, device_type, ip, and identifiers [{type, value}] as sent
-- (type user_id, anonymous_id, email, phone, device_id, external:<system>, or
-- previous_id for alias). Normalization, blocking and resolution happen here.
create function private.ingest_batch(p_org_id uuid, p_source_id uuid, p_messages jsonb)
returns jsonb
language plpgsql
set search_path = ''
-- JIT compiling these statements costs more than running them (tens of ms per
-- batch, measured): ingestion is many small statements, not analytics.
set jit = off
as $$
declare
  v_limits jsonb := '{"user_id": 1, "*": 5}';
  v_priorities jsonb := '{}';
  v_blocked text[] := '{}';
  v_fold boolean := false;
  v_org_settings jsonb;
  v_ip_handling text;
  v_today date := (now() at time zone 'UTC')::date;
  v_fresh jsonb;
  v_group record;
  v_profile_of jsonb := '{}';
  v_plan jsonb;
  v_day timestamptz;
  v_profiles uuid[];
begin
  -- SETTINGS
  select s.limits, s.priorities, coalesce(array(select lower(b) from unnest(s.blocked_values) b), '{}'),
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

  -- DEDUPE: a messageId seen for this source in the last 24 hours is skipped.
  with msgs as (
    select distinct on (t.m ->> 'message_id') t.m, t.ord
    from jsonb_array_elements(p_messages) with ordinality as t (m, ord)
    order by t.m ->> 'message_id', t.ord
  ), fresh as (
    insert into private.ingested_messages (org_id, source_id, message_id, received_day)
    select p_org_id, p_source_id, msgs.m ->> 'message_id', v_today
    from msgs
    where not exists (
      select 1 from private.ingested_messages d
      where d.org_id = p_org_id and d.source_id = p_source_id
        and d.message_id = msgs.m ->> 'message_id'
        and d.received_day = v_today - 1
        and d.received_at > now() - interval '24 hours')
    on conflict do nothing
    returning message_id
  )
  select coalesce(jsonb_agg(msgs.m || jsonb_build_object('ids', ids.ids)
                            order by (msgs.m ->> 'timestamp')::timestamptz, msgs.ord), '[]')
    into v_fresh
  from msgs
  join fresh on fresh.message_id = msgs.m ->> 'message_id'
  -- NORMALIZE: identifiers in normal form, blocked values out, strongest first.
  cross join lateral (
    select coalesce(jsonb_agg(jsonb_build_object('type', n.type, 'value', n.value)
                              order by private.identifier_priority(n.type, v_priorities), n.type, n.value),
                    '[]') as ids
    from (
      select distinct t.type, private.normalize_identifier(t.type, r.value, v_fold) as value
      from jsonb_to_recordset(coalesce(msgs.m -> 'identifiers', '[]')) as r (type text, value text)
      cross join lateral (
        -- alias: previousId is whichever kind of id it already is, else an anonymous id
        select case when r.type <> 'previous_id' then r.type
                    when exists (select 1 from public.identities i
                                 where i.org_id = p_org_id and i.type = 'user_id' and i.value = r.value)
                    then 'user_id' else 'anonymous_id' end as type
      ) t
      where not private.is_blocked_identifier(r.value, v_blocked)
    ) n
    where n.value is not null and not private.is_blocked_identifier(n.value, v_blocked)
  ) ids;

  if jsonb_array_length(v_fresh) = 0 then
    return jsonb_build_object('received', jsonb_array_length(p_messages), 'accepted', 0,
                              'duplicates', jsonb_array_length(p_messages));
  end if;

  -- LOCK every identifier of the batch, in one global order, so batches racing
  -- on the same identifiers serialize instead of creating two profiles or
  -- deadlocking.
  perform pg_advisory_xact_lock(l.h)
  from (
    select distinct hashtextextended(p_org_id::text || ':' || (x ->> 'type') || ':' || (x ->> 'value'), 0) as h
    from jsonb_array_elements(v_fresh) m, jsonb_array_elements(m -> 'ids') x
    order by 1
  ) l;

  -- RESOLVE. Most identifier sets need no decision: every identifier already
  -- belongs to one profile (a returning visitor or user), or a lone identifier
  -- is new and appears nowhere else in the batch. Those resolve set-based; the
  -- rest (links, merges, limits) go one by one through resolve_profile, in the
  -- order they first appear.
  with grp as (
    select m -> 'ids' as ids, min(ord) as first, min((m ->> 'timestamp')::timestamptz) as at
    from jsonb_array_elements(v_fresh) with ordinality as t (m, ord)
    where jsonb_array_length(m -> 'ids') > 0
    group by m -> 'ids'
  ), idf as (
    select g.ids, x ->> 'type' as type, x ->> 'value' as value, o.survivor
    from grp g
    cross join lateral jsonb_array_elements(g.ids) x
    left join lateral (
      select coalesce(pr.merged_into, pr.id) as survivor
      from public.identities i
      join public.profiles pr on pr.org_id = i.org_id and pr.id = i.profile_id
      where i.org_id = p_org_id and i.type = x ->> 'type' and i.value = x ->> 'value'
      offset 0 -- optimization fence: an index probe per identifier
    ) o on true
  ), shared as (
    -- identifiers that occur in more than one set of this batch
    select type, value from idf group by type, value having count(distinct ids) > 1
  ), per_group as (
    select g.ids, g.first, g.at,
           case
             when count(*) filter (where f.survivor is null) = 0 and count(distinct f.survivor) = 1
               then 'known'
             when count(*) = 1 and count(*) filter (where f.survivor is null) = 1
                  and not exists (select 1 from shared sh
                                  where sh.type = min(f.type) and sh.value = min(f.value))
               then 'new'
             else 'decide'
           end as kind,
           min(f.survivor::text)::uuid as owner,
           min(f.type) as type, min(f.value) as value
    from grp g join idf f on f.ids = g.ids
    group by g.ids, g.first, g.at
  )
  select coalesce(jsonb_agg(jsonb_build_object('ids', ids, 'first', first, 'at', at, 'kind', kind,
                                               'owner', owner, 'type', type, 'value', value)
                            order by first), '[]')
    into v_plan
  from per_group;

  -- known sets: their profile, nothing to write
  select v_profile_of || coalesce(jsonb_object_agg((e -> 'ids')::text, e -> 'owner'), '{}')
    into v_profile_of
  from jsonb_array_elements(v_plan) e where e ->> 'kind' = 'known';

  -- new lone identifiers: a profile each, in bulk
  with fresh_profiles as (
    select e, gen_random_uuid() as pid from jsonb_array_elements(v_plan) e where e ->> 'kind' = 'new'
  ), made as (
    insert into public.profiles (org_id, id, first_seen_at, last_seen_at, identified)
    select p_org_id, pid, (e ->> 'at')::timestamptz, (e ->> 'at')::timestamptz,
           e ->> 'type' in ('user_id', 'email')
    from fresh_profiles
  ), attached as (
    insert into public.identities (org_id, type, value, profile_id, source_id, first_seen_at, last_seen_at)
    select p_org_id, e ->> 'type', e ->> 'value', pid, p_source_id, (e ->> 'at')::timestamptz,
           (e ->> 'at')::timestamptz
    from fresh_profiles
  )
  select v_profile_of || coalesce(jsonb_object_agg((e -> 'ids')::text, pid), '{}')
    into v_profile_of
  from fresh_profiles;

  -- the rest, one decision at a time
  for v_group in
    select e -> 'ids' as ids, (e ->> 'at')::timestamptz as at,
           (select m ->> 'message_id' from jsonb_array_elements(v_fresh) m
            where m -> 'ids' = e -> 'ids' order by (m ->> 'timestamp')::timestamptz limit 1) as message_id
    from jsonb_array_elements(v_plan) e
    where e ->> 'kind' = 'decide'
    order by (e ->> 'first')::int
  loop
    v_profile_of := v_profile_of || jsonb_build_object(v_group.ids::text,
      private.resolve_profile(p_org_id, v_group.ids, v_limits, p_source_id, v_group.at, v_group.message_id));
  end loop;

  -- A later message of the batch may have merged an earlier one's profile:
  -- everything below writes to the survivors.
  select coalesce(jsonb_object_agg(kv.key, p.survivor), '{}') into v_profile_of
  from jsonb_each_text(v_profile_of) kv
  cross join lateral (
    select coalesce(p.merged_into, p.id) as survivor from public.profiles p
    where p.org_id = p_org_id and p.id = kv.value::uuid
    offset 0 -- optimization fence: an index probe per profile, never a scan
  ) p;

  -- PARTITIONS for historical or early timestamps the maintenance job has not made.
  for v_day in
    select distinct date_trunc('day', (m ->> 'timestamp')::timestamptz at time zone 'UTC') at time zone 'UTC'
    from jsonb_array_elements(v_fresh) m
  loop
    if to_regclass(format('partitions.events_p%s', to_char(v_day at time zone 'UTC', 'YYYY_MM_DD'))) is null then
      perform private.create_time_partition('public.events', v_day);
    end if;
  end loop;

  -- EVENTS
  insert into public.events (
    org_id, timestamp, source_id, message_id, type, event, profile_id, anonymous_id, user_id,
    group_id, received_at, sent_at, original_timestamp, channel, utm_source, utm_medium,
    utm_campaign, utm_term, utm_content, campaign_id, revenue, value, currency, browser, os,
    device_type, ip, properties, traits, context, integrations)
  select p_org_id, (m ->> 'timestamp')::timestamptz, p_source_id, m ->> 'message_id', m ->> 'type',
         m ->> 'event', (v_profile_of ->> (m -> 'ids')::text)::uuid, m ->> 'anonymous_id',
         m ->> 'user_id', m ->> 'group_id', (m ->> 'received_at')::timestamptz,
         (m ->> 'sent_at')::timestamptz, (m ->> 'original_timestamp')::timestamptz,
         m ->> 'channel', m ->> 'utm_source', m ->> 'utm_medium', m ->> 'utm_campaign',
         m ->> 'utm_term', m ->> 'utm_content', m ->> 'campaign_id',
         (m ->> 'revenue')::numeric, (m ->> 'value')::numeric, m ->> 'currency',
         m ->> 'browser', m ->> 'os', m ->> 'device_type',
         case v_ip_handling
           when 'drop' then null
           when 'truncate' then network(set_masklen(ip.addr, case when family(ip.addr) = 4 then 24 else 48 end))
           else ip.addr end,
         coalesce(m -> 'properties', '{}'), m -> 'traits',
         case when v_ip_handling = 'keep' then coalesce(m -> 'context', '{}')
              else coalesce(m -> 'context', '{}') - 'ip' end,
         m -> 'integrations'
  from jsonb_array_elements(v_fresh) m
  cross join lateral (select private.parse_ip(m ->> 'ip') as addr) ip;

  -- PROFILES: lock in id order (no deadlock between batches), then fold the batch in.
  select array_agg(distinct (value #>> '{}')::uuid) into v_profiles from jsonb_each(v_profile_of);
  perform 1 from public.profiles p
  where p.org_id = p_org_id and p.id = any (v_profiles)
  order by p.id
  for no key update;

  with ev as (
    select (v_profile_of ->> (m -> 'ids')::text)::uuid as profile_id,
           m ->> 'type' as type, m ->> 'event' as event,
           (m ->> 'timestamp')::timestamptz as ts,
           (m ->> 'revenue')::numeric as revenue, m ->> 'channel' as channel,
           case when m ->> 'channel' is not null then jsonb_build_object(
             'channel', m ->> 'channel', 'source', m ->> 'utm_source', 'medium', m ->> 'utm_medium',
             'campaign', m ->> 'utm_campaign', 'at',
             to_char((m ->> 'timestamp')::timestamptz at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
           end as touch,
           case when m ->> 'type' = 'identify' then m -> 'traits' end as traits,
           private.engagement_weight(m ->> 'type', m ->> 'event', (m ->> 'revenue')::numeric,
                                     v_org_settings -> 'engagement_weights') as weight
    from jsonb_array_elements(v_fresh) m
    where v_profile_of ? (m -> 'ids')::text
  ), ev_latest as (
    select ev.*, max(ev.ts) over (partition by ev.profile_id) as profile_last_ts from ev
  ), trait_rows as (
    select ev.profile_id, kv.key, kv.value, ev.ts
    from ev, jsonb_each(coalesce(ev.traits, '{}')) kv
    where kv.key <> '$unset'
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
  ), counts as (
    select profile_id, jsonb_object_agg(type, n) as by_type
    from (select profile_id, type, count(*) as n from ev group by 1, 2) c group by profile_id
  ), agg as (
    select ev.profile_id,
           min(ev.ts) as first_ts, max(ev.ts) as last_ts, count(*) as n,
           coalesce(sum(ev.revenue) filter (where ev.revenue > 0), 0) as revenue,
           -- Each event's weight, decayed to the profile's latest event of the batch.
           sum(ev.weight * power(0.5, extract(epoch from ev.profile_last_ts - ev.ts) / (14 * 86400.0))) as raw,
           (array_agg(ev.touch order by ev.ts) filter (where ev.touch is not null))[1] as first_touch,
           (array_agg(ev.touch order by ev.ts desc)
              filter (where ev.touch is not null and ev.channel <> 'direct'))[1] as last_touch
    from ev_latest ev group by ev.profile_id
  ), merged as (
    select a.*, c.by_type, bt.traits as b_traits, bt.stamps as b_stamps
    from agg a join counts c using (profile_id) left join batch_traits bt using (profile_id)
  ), next as (
    -- Each profile's new traits and engagement, computed once, so one UPDATE
    -- writes the whole new state (and the derived fields) of every profile.
    select m.*, t.merged, g.at as new_at,
           private.decayed_engagement(p.engagement_raw, p.engagement_at, g.at)
             + private.decayed_engagement(m.raw, m.last_ts, g.at) as new_raw
    from merged m
    join public.profiles p on p.org_id = p_org_id and p.id = m.profile_id
    cross join lateral (
      select case when m.b_stamps is not null
        then private.merge_traits(p.traits, p.trait_timestamps, m.b_traits, m.b_stamps) end as merged
    ) t
    cross join lateral (select greatest(p.engagement_at, m.last_ts) as at) g
  )
  update public.profiles p set
    first_seen_at = least(p.first_seen_at, n.first_ts),
    last_seen_at = greatest(p.last_seen_at, n.last_ts),
    event_count = p.event_count + n.n,
    event_counts = (select coalesce(jsonb_object_agg(k, total), '{}') from (
                      select k, sum(v::bigint) as total from (
                        select key as k, value as v from jsonb_each_text(p.event_counts)
                        union all
                        select key, value from jsonb_each_text(n.by_type)) a group by k) s),
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
    name = coalesce(
      coalesce(n.merged -> 'traits', p.traits) ->> 'name',
      nullif(btrim(concat_ws(' ',
        coalesce(n.merged -> 'traits', p.traits) ->> 'firstName',
        coalesce(n.merged -> 'traits', p.traits) ->> 'lastName',
        coalesce(n.merged -> 'traits', p.traits) ->> 'first_name',
        coalesce(n.merged -> 'traits', p.traits) ->> 'last_name')), ''),
      p.name),
    lifecycle_stage = case
      when p.revenue + n.revenue > 0 then 'customer'::public.lifecycle_stage
      when not p.identified then 'anonymous'
      when private.engagement_score(n.new_raw) >= 50 then 'engaged'
      else 'identified' end
  from next n
  where p.org_id = p_org_id and p.id = n.profile_id;

  return jsonb_build_object('received', jsonb_array_length(p_messages),
                            'accepted', jsonb_array_length(v_fresh),
                            'duplicates', jsonb_array_length(p_messages) - jsonb_array_length(v_fresh));
end;
$$;
comment on function private.ingest_batch(uuid, uuid, jsonb) is
  'Stores a batch of validated messages in one transaction: dedupe, identity resolution, events, profiles.';
grant execute on function private.ingest_batch(uuid, uuid, jsonb) to service_role;

-- UNMERGE -------------------------------------------------------------------------------------
-- Undoes a merge: the merged profile stands alone again with the identities it
-- brought. Events keep the profile they were written with; aggregates folded into
-- the survivor stay there (they describe what was observed).
create function public.unmerge_profiles(p_org_id uuid, p_merge_id uuid)
returns public.profile_merges
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_merge public.profile_merges;
begin
  perform private.require_permission(p_org_id, 'privacy:manage');
  select * into v_merge from public.profile_merges
  where org_id = p_org_id and id = p_merge_id for update;
  if v_merge.id is null then
    raise exception 'merge not found' using errcode = 'P0002', detail = 'field: merge_id';
  end if;
  if v_merge.unmerged_at is not null then
    raise exception 'this merge was already undone' using errcode = '22023', detail = 'field: merge_id';
  end if;
  update public.identities set profile_id = v_merge.loser_id
  where org_id = p_org_id and id = any (v_merge.moved_identity_ids);
  update public.profiles set merged_into = null where org_id = p_org_id and id = v_merge.loser_id;
  update public.profiles p set identified = exists (
    select 1 from public.identities i
    where i.org_id = p_org_id and i.profile_id = p.id and i.type in ('user_id', 'email'))
  where p.org_id = p_org_id and p.id in (v_merge.loser_id, v_merge.winner_id);
  update public.profile_merges set unmerged_at = now(), unmerged_by = auth.uid()
  where org_id = p_org_id and id = p_merge_id
  returning * into v_merge;
  return v_merge;
end;
$$;
comment on function public.unmerge_profiles(uuid, uuid) is
  'Undoes a profile merge (privacy:manage): the merged profile gets its identities back.';
grant execute on function public.unmerge_profiles(uuid, uuid) to authenticated, service_role;

-- Stores one ingest request's batch in one transaction (called through
-- private.ingest_batch_metered): dedupes it, resolves every message's
-- identifiers to a profile (merging when they meet, within the organization's
-- limits), inserts the events set-based, folds them into the profiles and
-- records group calls.
--
-- p_messages come validated and enriched from the ingest edge function:
-- message_id, type, event, timestamp (skew-corrected), sent_at, received_at,
-- original_timestamp, user_id, anonymous_id, group_id, properties, traits,
-- context, integrations, channel, utm_*, campaign_id, revenue, value, currency,
-- browser, os, device_type, ip, and identifiers [{type, value}] as sent
-- (previous_id for an alias). Normalizing, blocking and resolving happen here.
--
-- Why it is written this way (costs measured with `npm run bench`, see
-- bench/README.md; behaviour pinned by supabase/tests/ingestion):
-- - jit off and generic plans: see the SET clauses below.
-- - One parse: jsonb_to_recordset into a typed private.ingest_message[] of the
--   fields resolution and the fold need; only the events INSERT and the group
--   step read the full messages again.
-- - Numbered identifier sets: each distinct set gets a number 1..n (the rank
--   of a text key that spells it unambiguously, compared bytewise) and its
--   profile is v_set_pid[set_no]. Grouping and joining by the sets' jsonb
--   spent its time comparing and hashing jsonb.
-- - OFFSET 0 fences: the normalized identifier is computed once (conditions
--   pushed down would each inline the normalization again), and each lookup
--   of identities or profiles is an index probe per row from a LATERAL
--   subquery, which even an empty table's estimates price below a scan (a
--   generic plan made on a new project's empty tables lasts the connection).
-- - Most sets resolve set-based (all known, or a lone new identifier); only
--   those needing a decision (links, merges, limits) go to resolve_profile.
-- - New profiles are inserted whole, after the aggregates are known, with
--   their one identifier, not inserted empty and then updated. Safe because a
--   "new" identifier is in no other set of the batch, and its advisory lock
--   keeps other batches away until commit.
-- - Existing profiles are locked in id order and updated by the TIDs locked (a
--   join on id was rescanned per row). The lock also returns merged_into, so a
--   merge a concurrent batch committed meanwhile redirects to the survivor.
-- - HOT updates: of the indexed values, the fold moves last_seen_at on every
--   event, and the index holds its 15-minute last_seen_bucket instead; with
--   profiles' fillfactor 70 most updates stay on the page and write no index
--   entry. It stamps updated_at = now() itself, so the trigger's WHEN skips it.
-- - IP addresses are cast for the whole batch in one subtransaction;
--   private.parse_ip (a subtransaction and a search_path change per call) runs
--   only when some value is no address.
-- - Batches without a group call (most) skip the group step.
-- - Merges are audited at commit (profile_merges' deferred trigger), so the
--   audit chain's head is not held through the rest of the batch.
create or replace function private.ingest_batch(p_org_id uuid, p_source_id uuid, p_messages jsonb)
returns jsonb
language plpgsql
set search_path = ''
-- JIT compiling these statements costs more than running them (measured):
-- ingestion is many small statements, not analytics.
set jit = off
-- Generic plans, always. With a one-message batch a custom plan looks cheaper,
-- so the plan cache re-planned the larger statements on every call. Every
-- statement here is written to plan the same whatever the parameters (fences,
-- TID and index probes).
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
$$;

grant execute on function private.ingest_batch(uuid, uuid, jsonb) to service_role;

comment on function private.ingest_batch(uuid, uuid, jsonb) is
  'Stores a batch of validated messages in one transaction: dedupe, identity resolution, events, profiles.';

-- Ingestion plans that stay good as organizations grow. Found with auto_explain
-- on 100-event batches into a new organization next to older ones.
--
-- 1. ORG_ID STATISTICS. Once ANALYZE has seen every organization of a table in
--    its most-common-values list, an organization it has not seen (a new
--    customer importing history) is estimated at one row. Every index starting
--    with org_id then looks equally good, and the planner took
--    identities_profile_idx for identifier lookups: a scan of all the
--    organization's identities per identifier, 0.7 s per batch and growing. A
--    per-tenant estimate helps no query here (every one names its org_id and
--    more), so org_id goes unanalyzed on these tables and is estimated
--    uniformly.
alter table public.identities alter column org_id set statistics 0;
alter table public.profiles alter column org_id set statistics 0;

-- 2. private.ingest_batch, same behaviour, two plan fixes:
--    a. The alias-type CASE (with its identities probe) was inlined into every
--       use of the normalized identifier, so evaluated up to 8 times each; an
--       OFFSET 0 fence computes it once.
--    b. The profile fold joined profiles on (org_id, id) from a CTE estimated
--       at one row, and could scan all of the organization's profiles,
--       rescanning the batch's aggregates for each. The batch's profile ids
--       now bound that scan as an index condition.
--    c. Events per type are counted inside the per-profile aggregate instead
--       of in a CTE joined back, which the planner rescanned once per profile.

create or replace function private.ingest_batch(p_org_id uuid, p_source_id uuid, p_messages jsonb)
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
        -- optimization fence: computed once, not copied into every use of t.type
        -- (the inlined normalization names it many times)
        offset 0
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
  ), agg as (
    select ev.profile_id,
           min(ev.ts) as first_ts, max(ev.ts) as last_ts, count(*) as n,
           -- Events per type, counted within the group (a separate per-type CTE
           -- joined back was rescanned once per profile).
           (select jsonb_object_agg(t.type, t.n) from (
              select u.type, count(*) as n from unnest(array_agg(ev.type)) u (type) group by u.type
            ) t) as by_type,
           coalesce(sum(ev.revenue) filter (where ev.revenue > 0), 0) as revenue,
           -- Each event's weight, decayed to the profile's latest event of the batch.
           sum(ev.weight * power(0.5, extract(epoch from ev.profile_last_ts - ev.ts) / (14 * 86400.0))) as raw,
           (array_agg(ev.touch order by ev.ts) filter (where ev.touch is not null))[1] as first_touch,
           (array_agg(ev.touch order by ev.ts desc)
              filter (where ev.touch is not null and ev.channel <> 'direct'))[1] as last_touch
    from ev_latest ev group by ev.profile_id
  ), merged as (
    select a.*, bt.traits as b_traits, bt.stamps as b_stamps
    from agg a left join batch_traits bt using (profile_id)
  ), next as (
    -- Each profile's new traits and engagement, computed once, so one UPDATE
    -- writes the whole new state (and the derived fields) of every profile.
    select m.*, t.merged, g.at as new_at,
           private.decayed_engagement(p.engagement_raw, p.engagement_at, g.at)
             + private.decayed_engagement(m.raw, m.last_ts, g.at) as new_raw
    from merged m
    join public.profiles p on p.org_id = p_org_id and p.id = m.profile_id
                          and p.id = any (v_profiles)
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
  -- `= any (v_profiles)` gives the scan of profiles an index condition whatever
  -- the join order: with statistics that lag a fast-growing organization the
  -- planner otherwise scanned the organization's profiles and rescanned the
  -- batch's aggregates for each (quadratic, seconds per batch).
  where p.org_id = p_org_id and p.id = any (v_profiles) and p.id = n.profile_id;

  return jsonb_build_object('received', jsonb_array_length(p_messages),
                            'accepted', jsonb_array_length(v_fresh),
                            'duplicates', jsonb_array_length(p_messages) - jsonb_array_length(v_fresh));
end;
$$;
comment on function private.ingest_batch(uuid, uuid, jsonb) is
  'Stores a batch of validated messages in one transaction: dedupe, identity resolution, events, profiles.';

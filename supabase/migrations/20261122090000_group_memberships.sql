-- Group calls and group memberships (issue 4). Segment's `group` call ties a
-- person to an account (a company, team or project) and carries the account's
-- traits. Until now a group call was stored as an event only: nobody could ask
-- which accounts a profile belongs to, and a merge had no memberships to repoint.
--
-- 1. public.groups: an organization's accounts by their groupId, with traits
--    merged per key (latest message wins, as for profiles) and first/last seen.
-- 2. public.group_memberships: which profile belongs to which group, first and
--    last seen. Readable by customers:read, like profiles and identities.
-- 3. private.ingest_batch records the batch's group calls set-based, in the same
--    transaction, after the profiles exist. Batches without a group call (most)
--    skip the step.
-- 4. A merge moves the merged profile's memberships to the survivor
--    (private.move_group_memberships, from resolve_profile), and records them in
--    profile_merges.moved_memberships so unmerge_profiles gives them back.
-- 5. get_profile lists the profile's groups.

-- TABLES ----------------------------------------------------------------------------------
create table public.groups (
  org_id uuid not null references public.organizations (id) on delete cascade,
  group_id text not null constraint groups_group_id_length check (char_length(group_id) between 1 and 512),
  name text,
  traits jsonb not null default '{}',
  trait_timestamps jsonb not null default '{}',
  source_id uuid,
  first_seen_at timestamptz not null,
  last_seen_at timestamptz not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (org_id, group_id)
);
comment on table public.groups is
  'Accounts named by Segment group calls (groupId), with their traits merged per key, latest wins.';
-- As on profiles: ingestion stamps now() itself, and the trigger's WHEN skips it.
create trigger groups_set_updated_at before update on public.groups
  for each row when (new.updated_at is distinct from now())
  execute function private.set_updated_at();

create table public.group_memberships (
  org_id uuid not null,
  group_id text not null,
  profile_id uuid not null,
  first_seen_at timestamptz not null,
  last_seen_at timestamptz not null,
  primary key (org_id, group_id, profile_id),
  -- The organization follows from both keys (groups and profiles cascade from it).
  foreign key (org_id, group_id) references public.groups (org_id, group_id) on delete cascade,
  foreign key (org_id, profile_id) references public.profiles (org_id, id) on delete cascade
);
comment on table public.group_memberships is
  'Which profile belongs to which group (from group calls); merges move them to the survivor.';
create index group_memberships_profile_idx on public.group_memberships (org_id, profile_id);

alter table public.profile_merges add column moved_memberships jsonb not null default '[]';
comment on column public.profile_merges.moved_memberships is
  'The merged profile''s group memberships as they were: [{group_id, first_seen_at, last_seen_at, joined}], joined when the survivor was not a member before.';

revoke all on public.groups, public.group_memberships from anon, authenticated;
grant all on public.groups, public.group_memberships to service_role;
grant select on public.groups, public.group_memberships to authenticated;
alter table public.groups enable row level security;
alter table public.group_memberships enable row level security;
create policy "Customer readers can read groups"
  on public.groups for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('customers:read'))::uuid[]));
create policy "Customer readers can read group memberships"
  on public.group_memberships for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('customers:read'))::uuid[]));

-- MERGES ----------------------------------------------------------------------------------
-- Moves one profile's memberships to another and returns them as they were. A
-- group both belong to keeps one membership spanning both.
create function private.move_group_memberships(p_org_id uuid, p_from uuid, p_to uuid)
returns jsonb
language sql
volatile
set search_path = ''
as $$
  with mine as (
    delete from public.group_memberships m
    where m.org_id = p_org_id and m.profile_id = p_from
    returning m.group_id, m.first_seen_at, m.last_seen_at
  ), noted as (
    -- Read before the insert below: this statement's snapshot predates it.
    select mine.*, not exists (
             select 1 from public.group_memberships w
             where w.org_id = p_org_id and w.group_id = mine.group_id and w.profile_id = p_to) as joined
    from mine
  ), moved as (
    insert into public.group_memberships as gm (org_id, group_id, profile_id, first_seen_at, last_seen_at)
    select p_org_id, n.group_id, p_to, n.first_seen_at, n.last_seen_at from noted n order by n.group_id
    on conflict (org_id, group_id, profile_id) do update set
      first_seen_at = least(gm.first_seen_at, excluded.first_seen_at),
      last_seen_at = greatest(gm.last_seen_at, excluded.last_seen_at)
  )
  select coalesce(jsonb_agg(jsonb_build_object('group_id', n.group_id, 'first_seen_at', n.first_seen_at,
                                               'last_seen_at', n.last_seen_at, 'joined', n.joined)
                            order by n.group_id), '[]')
  from noted n
$$;
comment on function private.move_group_memberships(uuid, uuid, uuid) is
  'Moves a merged profile''s group memberships to the survivor; returns them as they were, for unmerge.';

-- resolve_profile as in 20261121231100, with the merged profile's memberships moved
-- and recorded with its identities.
create or replace function private.resolve_profile(
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
  v_moved_memberships jsonb;
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
      v_moved_memberships := private.move_group_memberships(p_org_id, v_loser, v_target);
      insert into public.profile_merges (org_id, winner_id, loser_id, reason, message_id, moved_identity_ids,
                                         moved_memberships)
      values (p_org_id, v_target, v_loser,
              'identifiers of one message belonged to both profiles', p_message_id, v_moved,
              v_moved_memberships);
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

-- ingest_batch as in 20261122010000, with the batch's group calls recorded last.
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
  v_has_groups boolean;  -- any group call among them
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
                       coalesce(n.ids, '[]'))::private.ingest_message order by k.pos),
         bool_or(k.type = 'group')
    into v_msgs, v_has_groups
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

  -- GROUPS, once the batch's profiles exist: each group call makes its profile a
  -- member of the group and updates the group's traits, per key, the latest
  -- message winning (as for profiles). Groups and memberships are written in key
  -- order, so batches that share groups lock them in one order. Most batches
  -- have no group call and skip the step (known from the parse, at no cost).
  if v_has_groups then
    with calls as (
      select btrim(r.group_id) as group_id, s.pid as profile_id, m.ts,
             case when jsonb_typeof(r.traits) = 'object' then r.traits else '{}' end as traits
      from unnest(v_msgs) m
      join rows from (jsonb_to_recordset(p_messages) as (group_id text, traits jsonb))
           with ordinality as r (group_id, traits, ord)
        on r.ord = m.ord
      left join unnest(v_set_ids, v_set_pid) s (ids, pid) on s.ids = m.ids
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


-- unmerge_profiles as in 20261121231100, with the merged profile's memberships.
create or replace function public.unmerge_profiles(p_org_id uuid, p_merge_id uuid)
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
  -- Memberships the merged profile brought go back to it. The survivor keeps a
  -- group it belonged to before the merge, or has been seen in since.
  insert into public.group_memberships (org_id, group_id, profile_id, first_seen_at, last_seen_at)
  select p_org_id, m.group_id, v_merge.loser_id, m.first_seen_at, m.last_seen_at
  from jsonb_to_recordset(v_merge.moved_memberships)
         m (group_id text, first_seen_at timestamptz, last_seen_at timestamptz, joined boolean)
  join public.groups g on g.org_id = p_org_id and g.group_id = m.group_id -- not deleted since
  on conflict do nothing;
  delete from public.group_memberships w
  using jsonb_to_recordset(v_merge.moved_memberships) m (group_id text, last_seen_at timestamptz, joined boolean)
  where w.org_id = p_org_id and w.profile_id = v_merge.winner_id and w.group_id = m.group_id
    and m.joined and w.last_seen_at <= m.last_seen_at;
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

-- get_profile as in 20261121231200, with the profile's groups.
create or replace function public.get_profile(p_org_id uuid, p_profile_id uuid)
returns jsonb
language plpgsql
stable
security invoker
set search_path = ''
as $$
declare
  v_id uuid;
  v_profile public.profiles;
  v_lineage uuid[];
begin
  perform private.require_permission(p_org_id, 'customers:read');
  v_id := private.survivor_of(p_org_id, p_profile_id);
  select * into v_profile from public.profiles where org_id = p_org_id and id = v_id;
  if v_profile.id is null then
    raise exception 'profile not found' using errcode = 'P0002', detail = 'field: profile_id';
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
$$;
comment on function public.get_profile(uuid, uuid) is
  'A profile (following merges to the survivor) with its identities, groups and latest 100 events (customers:read).';

-- Events, identities and profiles: the storage of the customer data platform.
-- Events are range-partitioned by day on their timestamp; identities map every
-- identifier (user_id, anonymous_id, email, phone, device_id, external:<system>)
-- to one profile; profiles keep merged traits, touches, counts and engagement.
-- Anchors: Segment's Tracking API and Unify identity resolution, RudderStack.

-- SETTINGS ------------------------------------------------------------------------
-- Per-organization identity rules (Segment Unify's identity resolution settings).
-- Absent row = Segment's defaults.
create table public.identity_settings (
  org_id uuid primary key references public.organizations (id) on delete cascade,
  -- Most identifiers of a type one profile may hold; '*' is every other type.
  limits jsonb not null default '{"user_id": 1, "*": 5}'
    constraint identity_settings_limits_is_object check (jsonb_typeof(limits) = 'object'),
  -- Lower is stronger; types not listed come after, in the built-in order.
  priorities jsonb not null default '{"user_id": 1, "email": 2}'
    constraint identity_settings_priorities_is_object check (jsonb_typeof(priorities) = 'object'),
  blocked_values text[] not null default '{}',
  fold_gmail_addresses boolean not null default false,
  updated_at timestamptz not null default now()
);
comment on table public.identity_settings is
  'Identity resolution rules per organization: limits and priorities per identifier type, blocked values, Gmail folding.';

-- PROFILES ------------------------------------------------------------------------
create type public.lifecycle_stage as enum ('anonymous', 'identified', 'engaged', 'customer');

create table public.profiles (
  org_id uuid not null references public.organizations (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  merged_into uuid,
  email text,
  phone text,
  name text,
  traits jsonb not null default '{}'::jsonb,
  trait_timestamps jsonb not null default '{}'::jsonb,
  first_seen_at timestamptz not null,
  last_seen_at timestamptz not null,
  first_touch jsonb,
  last_touch jsonb,
  event_count bigint not null default 0,
  event_counts jsonb not null default '{}'::jsonb,
  revenue numeric not null default 0,
  engagement_raw double precision not null default 0,
  engagement_at timestamptz,
  engagement_score smallint not null default 0 check (engagement_score between 0 and 100),
  lifecycle_stage public.lifecycle_stage not null default 'anonymous',
  identified boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (org_id, id),
  foreign key (org_id, merged_into) references public.profiles (org_id, id)
);
comment on table public.profiles is
  'Unified profiles. A merged profile points at its survivor through merged_into.';
comment on column public.profiles.traits is 'Traits merged per key; the value with the latest timestamp wins.';
comment on column public.profiles.trait_timestamps is 'Per trait key, the timestamp of the value kept (or of its $unset).';
comment on column public.profiles.first_touch is 'Channel, source, medium and campaign of the first attributed event.';
comment on column public.profiles.last_touch is 'The latest non-direct touch.';
comment on column public.profiles.engagement_score is
  '0-100: 100 * (1 - exp(-raw / 25)), raw = sum of event weights decayed with a 14-day half-life (as of engagement_at).';
comment on column public.profiles.identified is 'Holds a user_id or an email (kept by identity resolution).';
comment on column public.profiles.lifecycle_stage is
  'anonymous (no user_id or email), identified, engaged (identified and score >= 50), customer (revenue seen).';
create index profiles_org_email_idx on public.profiles (org_id, lower(email)) where merged_into is null;
create index profiles_org_last_seen_idx on public.profiles (org_id, last_seen_at desc, id) where merged_into is null;
create index profiles_merged_into_idx on public.profiles (org_id, merged_into) where merged_into is not null;

create trigger profiles_set_updated_at before update on public.profiles
  for each row execute function private.set_updated_at();

-- IDENTITIES -----------------------------------------------------------------------
create table public.identities (
  org_id uuid not null references public.organizations (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  type text not null constraint identities_type_check
    check (type in ('user_id', 'anonymous_id', 'email', 'phone', 'device_id')
           or type ~ '^external:[a-z0-9_]{1,40}$'),
  value text not null constraint identities_value_length check (char_length(value) between 1 and 512),
  profile_id uuid not null,
  source_id uuid,
  first_seen_at timestamptz not null,
  last_seen_at timestamptz not null,
  primary key (org_id, id),
  constraint identities_org_type_value_key unique (org_id, type, value),
  foreign key (org_id, profile_id) references public.profiles (org_id, id) on delete cascade
);
comment on table public.identities is
  'Normalized identifiers and the profile each belongs to (one profile per identifier).';
create index identities_profile_idx on public.identities (org_id, profile_id);

create table public.profile_merges (
  org_id uuid not null references public.organizations (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  winner_id uuid not null,
  loser_id uuid not null,
  reason text not null,
  message_id text,
  moved_identity_ids uuid[] not null default '{}',
  created_at timestamptz not null default now(),
  unmerged_at timestamptz,
  unmerged_by uuid,
  primary key (org_id, id),
  foreign key (org_id, winner_id) references public.profiles (org_id, id) on delete cascade,
  foreign key (org_id, loser_id) references public.profiles (org_id, id) on delete cascade
);
comment on table public.profile_merges is
  'Every merge: which profile survived, why, and the identities moved (so an admin can unmerge).';
create index profile_merges_winner_idx on public.profile_merges (org_id, winner_id);

create table public.identity_conflicts (
  org_id uuid not null references public.organizations (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  message_id text,
  type text not null,
  value text not null,
  profile_id uuid,
  reason text not null,
  created_at timestamptz not null default now(),
  primary key (org_id, id)
);
comment on table public.identity_conflicts is
  'Identifiers a message carried but resolution dropped (a limit would have been exceeded).';

-- EVENTS ------------------------------------------------------------------------------
create table public.events (
  org_id uuid not null,
  timestamp timestamptz not null,
  id uuid not null default gen_random_uuid(),
  source_id uuid not null,
  message_id text not null,
  type text not null constraint events_type_check
    check (type in ('track', 'page', 'screen', 'identify', 'group', 'alias')),
  event text,
  profile_id uuid,
  anonymous_id text,
  user_id text,
  group_id text,
  received_at timestamptz not null,
  sent_at timestamptz,
  original_timestamp timestamptz,
  channel text,
  utm_source text,
  utm_medium text,
  utm_campaign text,
  utm_term text,
  utm_content text,
  campaign_id text,
  revenue numeric,
  value numeric,
  currency text,
  browser text,
  os text,
  device_type text,
  ip inet,
  properties jsonb not null default '{}'::jsonb,
  traits jsonb,
  context jsonb not null default '{}'::jsonb,
  integrations jsonb,
  primary key (org_id, timestamp, id)
) partition by range (timestamp);
comment on table public.events is
  'Every accepted message, partitioned by day on its (skew-corrected) timestamp. profile_id is the profile at write time; follow profiles.merged_into for the survivor.';
comment on column public.events.timestamp is
  'When it happened: Segment''s rule, receivedAt - (sentAt - timestamp) when the client sent sentAt.';
comment on column public.events.channel is
  'paid_search, organic_search, paid_social, organic_social, email, affiliate, display, referral, direct (see ingest/enrichment.ts).';

create index events_time_brin on public.events using brin (timestamp);
create index events_org_profile_time_idx on public.events (org_id, profile_id, timestamp);
create index events_org_event_time_idx on public.events (org_id, event, timestamp);

insert into private.time_partitioned_tables (parent, partition_interval, premake, retention)
values ('public.events', '1 day', 7, '2 years');

-- Messages seen per source in the last day, for idempotency: a repeated
-- messageId is accepted and not stored twice. Partitioned by day of receipt
-- and dropped after two days.
create table private.ingested_messages (
  org_id uuid not null,
  source_id uuid not null,
  message_id text not null,
  received_day date not null,
  received_at timestamptz not null default now(),
  primary key (org_id, source_id, message_id, received_day)
) partition by range (received_day);
comment on table private.ingested_messages is 'messageIds accepted per source and day, for 24-hour idempotency.';
insert into private.time_partitioned_tables (parent, partition_interval, premake, retention)
values ('private.ingested_messages', '1 day', 2, '2 days');
alter table private.ingested_messages enable row level security;

select private.create_time_partition('public.events',
  date_trunc('day', now() at time zone 'UTC') at time zone 'UTC' - interval '1 day');
select private.create_time_partition('private.ingested_messages',
  date_trunc('day', now() at time zone 'UTC') at time zone 'UTC' - interval '1 day');
select private.maintain_time_partitions();

-- GRANTS AND RLS ------------------------------------------------------------------------
revoke all on public.identity_settings, public.profiles, public.identities, public.profile_merges,
  public.identity_conflicts, public.events from anon, authenticated;
grant all on public.identity_settings, public.profiles, public.identities, public.profile_merges,
  public.identity_conflicts, public.events to service_role;
grant select on public.profiles, public.identities, public.profile_merges, public.identity_conflicts,
  public.events, public.identity_settings to authenticated;
grant insert, update (limits, priorities, blocked_values, fold_gmail_addresses)
  on public.identity_settings to authenticated;

alter table public.identity_settings enable row level security;
alter table public.profiles enable row level security;
alter table public.identities enable row level security;
alter table public.profile_merges enable row level security;
alter table public.identity_conflicts enable row level security;
alter table public.events enable row level security;

create policy "Members can read identity settings"
  on public.identity_settings for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('org:read'))::uuid[]));
create policy "Admins can create identity settings"
  on public.identity_settings for insert to authenticated
  with check (org_id = any ((select private.org_ids_with_permission('settings:manage'))::uuid[]));
create policy "Admins can change identity settings"
  on public.identity_settings for update to authenticated
  using (org_id = any ((select private.org_ids_with_permission('settings:manage'))::uuid[]))
  with check (org_id = any ((select private.org_ids_with_permission('settings:manage'))::uuid[]));
create policy "Customer readers can read profiles"
  on public.profiles for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('customers:read'))::uuid[]));
create policy "Customer readers can read identities"
  on public.identities for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('customers:read'))::uuid[]));
create policy "Customer readers can read merges"
  on public.profile_merges for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('customers:read'))::uuid[]));
create policy "Customer readers can read identity conflicts"
  on public.identity_conflicts for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('customers:read'))::uuid[]));
create policy "Customer readers can read events"
  on public.events for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('customers:read'))::uuid[]));

create trigger identity_settings_audit after insert or update or delete on public.identity_settings
  for each row execute function private.audit_row_change('org_id', 'org_id', 'medium');
-- Merges and unmerges are what admins ask about; ingestion's own writes to
-- profiles and identities are not audited row by row (they are the data).
create trigger profile_merges_audit after insert or update on public.profile_merges
  for each row execute function private.audit_row_change('org_id', 'id', 'low');

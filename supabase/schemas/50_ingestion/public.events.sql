-- Every accepted message. Range-partitioned by day on its timestamp: partitions
-- are made ahead and dropped past retention (private.time_partitioned_tables),
-- and ingest_batch makes a missing day's for historical timestamps.
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

revoke all on public.events from anon, authenticated;

grant all on public.events to service_role;

grant select on public.events to authenticated;

alter table public.events enable row level security;

create policy "Customer readers can read events"
  on public.events for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('customers:read'))::uuid[]));

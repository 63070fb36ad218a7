create table public.profiles (
  org_id uuid not null references public.organizations (id) on delete cascade,
  -- Time-ordered (UUIDv7): new keys land at the right edge of the indexes.
  id uuid not null default private.uuid_v7(),
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
  last_seen_bucket timestamptz not null
    generated always as (private.last_seen_bucket(last_seen_at)) stored,
  primary key (org_id, id),
  foreign key (org_id, merged_into) references public.profiles (org_id, id)
)
-- Room on each page so that ingestion's update of a profile stays HOT (in
-- place, no index entries): it changes no indexed column inside a bucket.
with (fillfactor = 70);

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

create index profiles_merged_into_idx on public.profiles (org_id, merged_into) where merged_into is not null;

revoke all on public.profiles from anon, authenticated;

grant all on public.profiles to service_role;

grant select on public.profiles to authenticated;

alter table public.profiles enable row level security;

create policy "Customer readers can read profiles"
  on public.profiles for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('customers:read'))::uuid[]));

-- org_id goes unanalyzed, as on identities: a new organization would be
-- estimated at one row once ANALYZE has seen all the others.
alter table public.profiles alter column org_id set statistics 0;

-- A writer that stamps now() itself (ingestion) skips the trigger; any other
-- value, forged or stale, is still overwritten.
create trigger profiles_set_updated_at before update on public.profiles
  for each row when (new.updated_at is distinct from now())
  execute function private.set_updated_at();

-- search_profiles' email prefix: lower(email) under "C", where a LIKE prefix
-- is a range of the index (not under the database's linguistic collation).
-- Profiles without an email (anonymous visitors) get no entry.
create index profiles_org_email_idx on public.profiles (org_id, (lower(email) collate "C"))
  where merged_into is null and email is not null;

comment on column public.profiles.last_seen_bucket is
  'last_seen_at rounded down to 15 minutes, the indexed order of search_profiles: it changes rarely, so ingestion''s updates stay HOT.';

-- search_profiles' newest-first pages read it backwards. It holds the bucket,
-- not last_seen_at, so ingestion's updates stay HOT; ascending, so the entries
-- a batch adds land at the end of the organization's range.
create index profiles_org_last_seen_bucket_idx on public.profiles (org_id, last_seen_bucket)
  where merged_into is null;

-- org_id has no foreign key of its own to organizations: the profile key
-- proves it (an identity's profile is in the same organization, and deleting
-- the organization cascades through profiles). The second key cost a check and
-- a KEY SHARE lock on the same organization row in every concurrent batch
-- (identity_keys.test.sql pins the guarantees). PostgREST therefore embeds an
-- identity's organization through its profile.
create table public.identities (
  org_id uuid not null,
  -- Time-ordered (UUIDv7): new keys land at the right edge of the indexes.
  id uuid not null default private.uuid_v7(),
  -- Identifiers compare bytewise: equality is all that is asked of them, and a
  -- memcmp is cheaper than the locale's comparison on every b-tree probe.
  type text collate "C" not null constraint identities_type_check
    check (type in ('user_id', 'anonymous_id', 'email', 'phone', 'device_id')
           or type ~ '^external:[a-z0-9_]{1,40}$'),
  value text collate "C" not null constraint identities_value_length check (char_length(value) between 1 and 512),
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

revoke all on public.identities from anon, authenticated;

grant all on public.identities to service_role;

grant select on public.identities to authenticated;

alter table public.identities enable row level security;

create policy "Customer readers can read identities"
  on public.identities for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('customers:read'))::uuid[]));

-- org_id goes unanalyzed: once ANALYZE has seen every organization in its
-- most-common values, a new one is estimated at one row and every index led by
-- org_id looks equally good (the planner then scanned identities_profile_idx
-- per identifier). Every query names org_id and more, so a uniform estimate
-- costs nothing.
alter table public.identities alter column org_id set statistics 0;

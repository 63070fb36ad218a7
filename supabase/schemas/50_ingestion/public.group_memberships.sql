-- Which profile belongs to which group, from group calls. A merge moves the
-- merged profile's memberships to the survivor (move_group_memberships) and
-- records them in profile_merges.moved_memberships for unmerge_profiles.
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

revoke all on public.group_memberships from anon, authenticated;

grant all on public.group_memberships to service_role;

grant select on public.group_memberships to authenticated;

alter table public.group_memberships enable row level security;

create policy "Customer readers can read group memberships"
  on public.group_memberships for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('customers:read'))::uuid[]));

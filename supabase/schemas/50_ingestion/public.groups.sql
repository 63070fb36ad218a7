-- An organization's accounts (a company, team or project) as Segment's group
-- call names them by groupId, with the traits group calls carry merged per key
-- (latest message wins, as for profiles). Written by ingest_batch.
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

revoke all on public.groups from anon, authenticated;

grant all on public.groups to service_role;

grant select on public.groups to authenticated;

alter table public.groups enable row level security;

create policy "Customer readers can read groups"
  on public.groups for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('customers:read'))::uuid[]));

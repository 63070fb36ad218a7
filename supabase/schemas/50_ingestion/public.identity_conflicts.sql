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

revoke all on public.identity_conflicts from anon, authenticated;

grant all on public.identity_conflicts to service_role;

grant select on public.identity_conflicts to authenticated;

alter table public.identity_conflicts enable row level security;

create policy "Customer readers can read identity conflicts"
  on public.identity_conflicts for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('customers:read'))::uuid[]));

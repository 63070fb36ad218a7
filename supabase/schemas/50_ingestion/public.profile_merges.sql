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
  moved_memberships jsonb not null default '[]',
  primary key (org_id, id),
  foreign key (org_id, winner_id) references public.profiles (org_id, id) on delete cascade,
  foreign key (org_id, loser_id) references public.profiles (org_id, id) on delete cascade
);

comment on table public.profile_merges is
  'Every merge: which profile survived, why, and the identities moved (so an admin can unmerge).';

create index profile_merges_winner_idx on public.profile_merges (org_id, winner_id);

revoke all on public.profile_merges from anon, authenticated;

grant all on public.profile_merges to service_role;

grant select on public.profile_merges to authenticated;

alter table public.profile_merges enable row level security;

create policy "Customer readers can read merges"
  on public.profile_merges for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('customers:read'))::uuid[]));

-- Merges and unmerges are what admins ask about; ingestion's own writes to
-- profiles and identities are not audited row by row. Audited as the batch
-- commits (deferred): appending to the audit chain locks the organization's
-- chain head until commit, so a merge audited when it happened held it through
-- the rest of its batch. A merge rolled back with its batch is not audited.
create constraint trigger profile_merges_audit after insert or update on public.profile_merges
  deferrable initially deferred
  for each row execute function private.audit_row_change('org_id', 'id', 'low');

comment on column public.profile_merges.moved_memberships is
  'The merged profile''s group memberships as they were: [{group_id, first_seen_at, last_seen_at, joined}], joined when the survivor was not a member before.';

-- The chain is followed by loser, through standing merges only: an index probe
-- per step, not a scan of the organization's merges.
create index profile_merges_standing_loser_idx on public.profile_merges (org_id, loser_id)
  where unmerged_at is null;

-- Webhook events for merges and unmerges (profile.merged, profile.unmerged).
create trigger profile_merges_webhook_events
  after insert or update of unmerged_at on public.profile_merges
  for each row execute function private.emit_change_events();

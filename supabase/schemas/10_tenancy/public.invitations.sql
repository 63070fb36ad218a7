create table public.invitations (
  org_id uuid not null references public.organizations (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  email text not null constraint invitations_email_format
    check (email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' and email = lower(email)),
  role public.org_role not null default 'member',
  invited_by uuid references auth.users (id) on delete set null,
  expires_at timestamptz not null default now() + interval '7 days',
  accepted_at timestamptz,
  accepted_by uuid references auth.users (id) on delete set null,
  revoked_at timestamptz,
  created_at timestamptz not null default now(),
  primary key (org_id, id)
);

comment on table public.invitations is
  'Pending, accepted and revoked invitations. The token is shown once; only its hash is kept.';

create index invitations_org_email_idx on public.invitations (org_id, email);

revoke all on public.invitations from anon, authenticated;

grant all on public.invitations to service_role;

grant select, delete on public.invitations to authenticated;

alter table public.invitations enable row level security;

create policy "Admins can read invitations"
  on public.invitations for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('members:manage'))::uuid[]));

create policy "Admins can delete invitations"
  on public.invitations for delete to authenticated
  using (org_id = any ((select private.org_ids_with_permission('members:manage'))::uuid[]));

create trigger invitations_audit after insert or update or delete on public.invitations
  for each row execute function private.audit_row_change('org_id', 'id', 'low');

-- Each foreign key has an index that covers it: deleting or re-keying the row
-- it references finds the rows that point at it without a scan.
create index invitations_accepted_by_idx on public.invitations (accepted_by) where accepted_by is not null;
create index invitations_invited_by_idx on public.invitations (invited_by) where invited_by is not null;

-- Where an organization's audit chain continues once retention has dropped its
-- oldest partition: the last row the dropped partition held. Without it, every
-- verification from the start would report the dropped rows as a sequence gap,
-- forever. Written only by private.checkpoint_audit_partition, just before the
-- partition is dropped, in the same transaction.
create table private.audit_chain_checkpoints (
  org_id uuid primary key,
  seq bigint not null,
  hash bytea not null,
  occurred_at timestamptz not null,
  recorded_at timestamptz not null default now()
);

comment on table private.audit_chain_checkpoints is
  'Per organization, the newest audit row dropped by retention (seq and hash): verify_audit_chain starts from it. RLS on with no policy: only definer functions reach it.';

alter table private.audit_chain_checkpoints enable row level security;
-- No policy: only definer functions read or write it.
revoke all on private.audit_chain_checkpoints from anon, authenticated, service_role;

-- Deleted organizations whose rows are still being removed. Most tenant tables
-- reach organizations through cascading foreign keys, but the time-partitioned
-- ones (events, ingested_messages, webhook_events, audit_log) have none on
-- purpose: a foreign-key check per ingested row would lock the organization's
-- row from every batch. Their rows, and those of the few other tables without
-- a key, are removed in bounded batches by private.purge_deleted_organizations
-- (pg_cron, each minute), so a large organization's deletion never holds one
-- long transaction.
create table private.organization_purges (
  org_id uuid primary key,
  deleted_at timestamptz not null default now()
);

comment on table private.organization_purges is
  'Deleted organizations whose remaining rows private.purge_deleted_organizations is removing. RLS on with no policy: only definer functions reach it.';

alter table private.organization_purges enable row level security;
-- No policy: only the trigger and the purge (definer functions) touch it.
revoke all on private.organization_purges from anon, authenticated, service_role;

-- One row per event and endpoint it is for: the delivery queue. Made by
-- private.emit_webhook_event in the transaction of the event (the outbox fan-
-- out), claimed by dispatchers with FOR UPDATE SKIP LOCKED and a lease
-- (private.claim_webhook_deliveries), settled by private.record_webhook_results.
-- Postgres is the only queue: a change and its deliveries commit together.
--   pending    not attempted yet, due at next_attempt_at
--   delivering claimed by lease_owner until lease_expires_at (then due again)
--   failed     last attempt failed, retried at next_attempt_at
--   succeeded  a 2xx was received
--   dead       out of attempts, or the endpoint answered 410 Gone: the
--              dead-letter queue, which replay_webhook_deliveries takes back
-- The event's id is the webhook-id receivers deduplicate on: retries and
-- replays keep it.
create table public.webhook_deliveries (
  org_id uuid not null,
  id uuid not null default gen_random_uuid(),
  endpoint_id uuid not null,
  event_id uuid not null,
  event_created_at timestamptz not null,
  event_type text not null,
  status text not null default 'pending' constraint webhook_deliveries_status_check
    check (status in ('pending', 'delivering', 'failed', 'succeeded', 'dead')),
  attempts int not null default 0,
  next_attempt_at timestamptz not null default now(),
  lease_owner text,
  lease_expires_at timestamptz,
  -- Deliveries with a key are sent one at a time per endpoint and key, in
  -- the order they were made (per-key FIFO); the others in parallel.
  ordering_key text constraint webhook_deliveries_ordering_key_length check (char_length(ordering_key) <= 200),
  last_status_code int,
  last_error text,
  replay_of uuid,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  finished_at timestamptz,
  primary key (org_id, id),
  foreign key (org_id, endpoint_id) references public.webhook_endpoints (org_id, id) on delete cascade
);

comment on table public.webhook_deliveries is
  'The webhook delivery queue: one row per event and endpoint, from pending to succeeded or dead (the dead-letter queue).';
comment on column public.webhook_deliveries.event_id is
  'The event''s id, sent as webhook-id: the same across retries and replays, for receivers to deduplicate.';

-- Dispatchers' claims: due rows in time order (a cross-organization scan by
-- nature, the one query that names no org_id), and expired leases.
create index webhook_deliveries_due_idx on public.webhook_deliveries (next_attempt_at)
  where status in ('pending', 'failed');
create index webhook_deliveries_leased_idx on public.webhook_deliveries (lease_expires_at)
  where status = 'delivering';
create index webhook_deliveries_endpoint_idx on public.webhook_deliveries (org_id, endpoint_id, created_at desc);
create index webhook_deliveries_ordering_idx on public.webhook_deliveries (org_id, endpoint_id, ordering_key, created_at)
  where ordering_key is not null and status in ('pending', 'failed', 'delivering');
create index webhook_deliveries_event_idx on public.webhook_deliveries (org_id, event_id);
create index webhook_deliveries_finished_idx on public.webhook_deliveries (finished_at)
  where finished_at is not null;

create trigger webhook_deliveries_set_updated_at before update on public.webhook_deliveries
  for each row execute function private.set_updated_at();

revoke all on public.webhook_deliveries from anon, authenticated, service_role;
grant select on public.webhook_deliveries to authenticated, service_role;

alter table public.webhook_deliveries enable row level security;

create policy "Webhook readers can read their organization's deliveries"
  on public.webhook_deliveries for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('webhooks:read'))::uuid[]));

-- The webhook outbox: state changes other systems care about, written in the
-- transaction of the change (private.emit_webhook_event). Delivery (endpoints,
-- fan-out, Svix-style attempts in their own table) is to read it on its own
-- cursor with FOR UPDATE SKIP LOCKED, so rows here never change.
-- No foreign key to organizations: an append-only table cannot take a cascading
-- delete, so, like audit rows, events outlive their organization until
-- retention drops their partition.
create table public.webhook_events (
  org_id uuid not null,
  created_at timestamptz not null default now(),
  id uuid not null default gen_random_uuid(),
  type text not null constraint webhook_events_type_format check (type ~ '^[a-z_]+(\.[a-z_]+)+$'),
  payload jsonb not null default '{}'
    constraint webhook_events_payload_object check (jsonb_typeof(payload) = 'object'),
  primary key (org_id, created_at, id)
) partition by range (created_at);

comment on table public.webhook_events is
  'Append-only outbox of events for customer webhooks, written with the change that caused them.';

comment on column public.webhook_events.type is 'Dotted event type, e.g. quota.threshold_reached.';

create index webhook_events_created_brin on public.webhook_events using brin (created_at);

create index webhook_events_org_type_idx on public.webhook_events (org_id, type, created_at);

create trigger webhook_events_append_only
  before update or delete on public.webhook_events
  for each row execute function private.refuse_append_only_change();

create trigger webhook_events_no_truncate
  before truncate on public.webhook_events
  for each statement execute function private.refuse_append_only_change();

revoke all on public.webhook_events from anon, authenticated, service_role;

grant select on public.webhook_events to authenticated, service_role;

alter table public.webhook_events enable row level security;

create policy "Webhook readers can read their organization's events"
  on public.webhook_events for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('webhooks:read'))::uuid[]));

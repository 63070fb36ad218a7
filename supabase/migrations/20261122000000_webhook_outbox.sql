-- The webhook outbox: state changes other systems care about are written here,
-- in the same transaction as the change, through private.emit_webhook_event.
-- This issue (quotas) is the first emitter; the webhooks issue adds endpoints,
-- fan-out and delivery (Svix-style attempts in their own table), and reads this
-- table with FOR UPDATE SKIP LOCKED on its own cursor, so rows here never change.

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

-- Customers replay up to 90 days, as Svix keeps messages.
insert into private.time_partitioned_tables (parent, partition_interval, premake, retention)
values ('public.webhook_events', '1 month', 3, '90 days');
select private.create_time_partition('public.webhook_events',
  date_trunc('month', now() at time zone 'UTC') at time zone 'UTC' - interval '1 month');
select private.maintain_time_partitions();

-- For every append-only table from here on (audit_log keeps its own, older
-- copy): the message names the table.
create function private.refuse_append_only_change()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  raise exception '% is append-only: % is not allowed', tg_table_name, tg_op
    using errcode = '42501', hint = 'Rows leave only when retention drops their partition.';
end;
$$;
comment on function private.refuse_append_only_change() is
  'Trigger: refuses UPDATE, DELETE and TRUNCATE on an append-only table.';
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

-- The one way rows enter the outbox.
create function private.emit_webhook_event(p_org_id uuid, p_type text, p_payload jsonb)
returns uuid
language sql
security definer
set search_path = ''
as $$
  insert into public.webhook_events (org_id, type, payload)
  values (p_org_id, p_type, coalesce(p_payload, '{}'))
  returning id
$$;
comment on function private.emit_webhook_event(uuid, text, jsonb) is
  'Appends an event to the webhook outbox in the caller''s transaction; returns its id.';
grant execute on function private.emit_webhook_event(uuid, text, jsonb) to service_role;

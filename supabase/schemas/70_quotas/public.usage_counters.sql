-- Durable usage counts, incremented in the transaction of the work they count
-- (private.meter_usage) and checked against the quotas.
-- Each increment goes to one of 8 slots chosen by backend, so concurrent
-- ingestion batches of one organization do not queue on one row lock until
-- commit; readers sum the slots.
create table public.usage_counters (
  org_id uuid not null references public.organizations (id) on delete cascade,
  metric public.usage_metric not null,
  period public.quota_period not null,
  period_start date not null,
  slot smallint not null constraint usage_counters_slot_check check (slot between 0 and 7),
  used bigint not null default 0,
  updated_at timestamptz not null default now(),
  primary key (org_id, metric, period, period_start, slot)
);

comment on table public.usage_counters is
  'Usage per organization, metric and period (UTC day or month), split in slots to spread row locks.';

comment on column public.usage_counters.slot is
  'Which of 8 rows of the period took this increment (by backend); usage is their sum.';

revoke all on public.usage_counters from anon, authenticated, service_role;

grant select on public.usage_counters to authenticated, service_role;

alter table public.usage_counters enable row level security;

create policy "Members read their organization's usage"
  on public.usage_counters for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('org:read'))::uuid[]));

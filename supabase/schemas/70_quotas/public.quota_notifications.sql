-- One row per threshold crossed per period: the primary key is what makes the
-- notification happen once, however many concurrent requests cross together.
create table public.quota_notifications (
  org_id uuid not null references public.organizations (id) on delete cascade,
  metric public.usage_metric not null,
  period public.quota_period not null,
  period_start date not null,
  threshold smallint not null constraint quota_notifications_threshold_check check (threshold in (80, 100)),
  quota bigint not null,
  used bigint not null,
  notified_at timestamptz not null default now(),
  primary key (org_id, metric, period, period_start, threshold)
);

comment on table public.quota_notifications is 'Quota thresholds (80%, 100%) crossed, once per organization, metric and period.';

revoke all on public.quota_notifications from anon, authenticated, service_role;

grant select on public.quota_notifications to authenticated, service_role;

alter table public.quota_notifications enable row level security;

create policy "Members read their organization's quota notifications"
  on public.quota_notifications for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('org:read'))::uuid[]));

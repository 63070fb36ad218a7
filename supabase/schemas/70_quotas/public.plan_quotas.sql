-- Each plan's quotas (rows in supabase/schemas/90_reference_data).
-- A hard quota refuses work once reached; a soft one only notifies.
create table public.plan_quotas (
  plan public.org_plan not null,
  metric public.usage_metric not null,
  period public.quota_period not null,
  quota bigint not null constraint plan_quotas_quota_check check (quota >= 0),
  hard boolean not null default true,
  primary key (plan, metric, period)
);

comment on table public.plan_quotas is 'What each plan includes per metric and period; no row means unlimited.';

revoke all on public.plan_quotas from anon, authenticated, service_role;

grant select on public.plan_quotas to authenticated, service_role;

alter table public.plan_quotas enable row level security;

create policy "Plans are public to signed-in users"
  on public.plan_quotas for select to authenticated using (true);

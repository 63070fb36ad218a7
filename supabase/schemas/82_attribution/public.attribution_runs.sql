-- Every attribution computed: the model, its parameters, the period and
-- window, a fingerprint of its input (the conversions and touches it read),
-- the totals it distributed and what it could not use (conversions without a
-- touch, values without an exchange rate), so a report says exactly what it
-- was computed from. Read with analytics:read; written by the attribution
-- function (analytics:manage).
create table public.attribution_runs (
  org_id uuid not null references public.organizations (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  model text not null constraint attribution_runs_model_check check (model in (
    'first_touch', 'last_touch', 'last_non_direct', 'linear', 'time_decay', 'position_based', 'markov',
    'shapley')),
  params jsonb not null default '{}',
  period_from timestamptz not null,
  period_to timestamptz not null,
  window_days int not null,
  base_currency text not null,
  input_hash text,
  conversions numeric,
  value numeric,
  unattributed_conversions numeric,
  unattributed_value numeric,
  missing_rates jsonb not null default '[]',
  diagnostics jsonb not null default '{}',
  duration_ms int,
  created_by uuid references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  primary key (org_id, id),
  constraint attribution_runs_period_order check (period_to > period_from)
);

comment on table public.attribution_runs is
  'Attribution runs: model, parameters, period, input fingerprint, totals, what could not be used, diagnostics.';

create index attribution_runs_org_created_idx on public.attribution_runs (org_id, created_at desc);
create index attribution_runs_created_by_idx on public.attribution_runs (created_by) where created_by is not null;

revoke all on public.attribution_runs from anon, authenticated, service_role;
grant select on public.attribution_runs to authenticated, service_role;

alter table public.attribution_runs enable row level security;

create policy "Analysts can read attribution runs"
  on public.attribution_runs for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('analytics:read'))::uuid[]));

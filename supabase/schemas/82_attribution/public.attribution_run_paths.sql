-- The conversion paths a data-driven run read: each distinct channel
-- sequence with its converting and non-converting journeys and the value
-- earned. Read with analytics:read (analytics.conversion_paths).
create table public.attribution_run_paths (
  org_id uuid not null,
  run_id uuid not null,
  path text[] not null,
  conversions int not null,
  non_conversions int not null,
  value numeric not null,
  primary key (org_id, run_id, path),
  foreign key (org_id, run_id) references public.attribution_runs (org_id, id) on delete cascade
);

comment on table public.attribution_run_paths is
  'Distinct channel paths of a data-driven run with converting and non-converting journeys and value.';

revoke all on public.attribution_run_paths from anon, authenticated, service_role;
grant select on public.attribution_run_paths to authenticated, service_role;

alter table public.attribution_run_paths enable row level security;

create policy "Analysts can read attribution paths"
  on public.attribution_run_paths for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('analytics:read'))::uuid[]));

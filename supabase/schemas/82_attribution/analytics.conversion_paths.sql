-- The distinct channel paths each data-driven attribution run read, with
-- converting and non-converting journeys and value (security_invoker).
create view analytics.conversion_paths
with (security_invoker = true)
as
select r.org_id, r.id as run_id, r.model, r.period_from, r.period_to, p.path,
       array_to_string(p.path, ' > ') as path_text, p.conversions, p.non_conversions, p.value,
       r.base_currency as currency
from public.attribution_runs r
join public.attribution_run_paths p on p.org_id = r.org_id and p.run_id = r.id;

comment on view analytics.conversion_paths is
  'Channel paths per data-driven run: converting and non-converting journeys and value.';

grant select on analytics.conversion_paths to authenticated, service_role;

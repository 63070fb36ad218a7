-- The function's half of a data-driven run: its credit per channel (with the
-- bootstrap interval of each share) and what the model reported, stored on
-- the run.
create or replace function private.finish_path_attribution(
  p_org_id uuid,
  p_run_id uuid,
  p_credits jsonb,
  p_diagnostics jsonb,
  p_duration_ms int
)
returns public.attribution_runs
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_run public.attribution_runs;
begin
  insert into public.attribution_results (org_id, run_id, channel, conversions, value, share, share_lo, share_hi)
  select p_org_id, p_run_id, c.channel, c.conversions, c.value, c.share, c.lo, c.hi
  from jsonb_to_recordset(p_credits) as c (channel text, conversions numeric, value numeric, share numeric,
                                           lo numeric, hi numeric);
  update public.attribution_runs r set
    diagnostics = r.diagnostics || coalesce(p_diagnostics, '{}'), duration_ms = p_duration_ms
  where r.org_id = p_org_id and r.id = p_run_id
  returning r.* into v_run;
  if v_run.id is null then
    raise exception 'attribution run not found' using errcode = 'PT404', detail = 'field: run_id';
  end if;
  return v_run;
end;
$$;

comment on function private.finish_path_attribution(uuid, uuid, jsonb, jsonb, int) is
  'Stores a data-driven run''s channel credit and diagnostics.';

grant execute on function private.finish_path_attribution(uuid, uuid, jsonb, jsonb, int) to service_role;

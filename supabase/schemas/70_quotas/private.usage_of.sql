-- Usage of a metric in one period: the sum of its counter slots. plpgsql, as
-- quota_for, so its plan is kept rather than made again on every call.
create or replace function private.usage_of(p_org_id uuid, p_metric public.usage_metric,
                                 p_period public.quota_period, p_period_start date)
returns bigint
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return (select coalesce(sum(u.used), 0)::bigint from public.usage_counters u
          where u.org_id = p_org_id and u.metric = p_metric and u.period = p_period
            and u.period_start = p_period_start);
end;
$$;

comment on function private.usage_of(uuid, public.usage_metric, public.quota_period, date) is
  'Usage of a metric in one period, summed over the counter slots.';

grant execute on function private.usage_of(uuid, public.usage_metric, public.quota_period, date) to service_role;

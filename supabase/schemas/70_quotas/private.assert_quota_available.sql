-- Refuses up front when a hard quota is already used up, so refused work costs
-- nothing. SQLSTATE MQ001 is Meridian's "quota exceeded" (edge functions answer
-- 429 quota_exceeded); the detail names the metric and period.
create or replace function private.assert_quota_available(p_org_id uuid, p_metric public.usage_metric)
returns void
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_state record;
begin
  for v_state in select * from private.quota_state(p_org_id, p_metric) q
                 where q.hard and q.used >= q.quota loop
    raise exception 'quota exceeded: % of % % per % used', v_state.used, v_state.quota, p_metric,
                    v_state.period
      using errcode = 'MQ001',
            detail = format('%s:%s', p_metric, v_state.period),
            hint = 'Upgrade the plan or wait for the next period.';
  end loop;
end;
$$;

comment on function private.assert_quota_available(uuid, public.usage_metric) is
  'Raises MQ001 when a hard quota of the metric is already used up.';

grant execute on function private.assert_quota_available(uuid, public.usage_metric) to service_role;

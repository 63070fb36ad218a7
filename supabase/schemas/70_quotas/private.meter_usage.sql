-- Counts p_amount of work done in this transaction. Refuses (MQ001, rolling the
-- work back) when the hard quota had been reached before this work began;
-- the work that reaches a quota is admitted whole, so a batch is never split.
-- Concurrent transactions do not see each other's uncommitted counts, so usage
-- can pass a hard quota by the work in flight at the moment it is reached.
create or replace function private.meter_usage(p_org_id uuid, p_metric public.usage_metric, p_amount bigint)
returns void
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_state record;
  v_threshold smallint;
begin
  if p_amount is null or p_amount <= 0 then
    return;
  end if;
  insert into public.usage_counters as u (org_id, metric, period, period_start, slot, used)
  select p_org_id, p_metric, p.period, pg_catalog.date_trunc(p.period::text, now() at time zone 'UTC')::date,
         pg_backend_pid() % 8, p_amount
  from unnest(enum_range(null::public.quota_period)) p (period)
  on conflict (org_id, metric, period, period_start, slot)
  do update set used = u.used + excluded.used, updated_at = now();

  for v_state in select * from private.quota_state(p_org_id, p_metric) loop
    if v_state.hard and v_state.used - p_amount >= v_state.quota then
      raise exception 'quota exceeded: % of % % per % used', v_state.used - p_amount, v_state.quota,
                      p_metric, v_state.period
        using errcode = 'MQ001',
              detail = format('%s:%s', p_metric, v_state.period),
              hint = 'Upgrade the plan or wait for the next period.';
    end if;
    foreach v_threshold in array array[80, 100]::smallint[] loop
      continue when v_state.used * 100 < v_state.quota * v_threshold;
      insert into public.quota_notifications (org_id, metric, period, period_start, threshold, quota, used)
      values (p_org_id, p_metric, v_state.period, v_state.period_start, v_threshold, v_state.quota,
              v_state.used)
      on conflict do nothing;
      if found then
        perform private.emit_webhook_event(p_org_id, 'quota.threshold_reached', jsonb_build_object(
          'metric', p_metric, 'period', v_state.period, 'period_start', v_state.period_start,
          'threshold_percent', v_threshold, 'quota', v_state.quota, 'used', v_state.used,
          'hard', v_state.hard));
        perform private.append_audit(p_org_id, 'quota.threshold_reached', 'quota',
          p_metric || ':' || v_state.period,
          null,
          jsonb_build_object('threshold_percent', v_threshold, 'quota', v_state.quota,
                             'used', v_state.used, 'period_start', v_state.period_start,
                             'hard', v_state.hard),
          case when v_threshold = 100 then 'medium' else 'low' end::public.audit_risk,
          'success', array['quota'], jsonb_build_object('type', 'system'));
      end if;
    end loop;
  end loop;
end;
$$;

comment on function private.meter_usage(uuid, public.usage_metric, bigint) is
  'Adds work done in this transaction to the day and month usage; refuses past a hard quota; notifies at 80% and 100%.';

grant execute on function private.meter_usage(uuid, public.usage_metric, bigint) to service_role;

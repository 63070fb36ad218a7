-- The quota in force: the organization's override, else its plan's, else none.
-- plpgsql, not SQL: an SQL function with SET search_path is planned afresh on
-- every call (measured), and plpgsql keeps its plans. get_usage reads it;
-- metering, which runs in every ingestion transaction, reads everything at
-- once through quota_state.
create or replace function private.quota_for(p_org_id uuid, p_metric public.usage_metric, p_period public.quota_period,
                                  out quota bigint, out hard boolean, out limited boolean)
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  select coalesce(ov.quota, pq.quota),
         coalesce(ov.hard, pq.hard, false),
         case when ov.org_id is not null then ov.quota is not null else pq.quota is not null end
    into quota, hard, limited
  from public.organizations o
  left join public.org_quota_overrides ov
    on ov.org_id = o.id and ov.metric = p_metric and ov.period = p_period
  left join public.plan_quotas pq
    on pq.plan = o.plan and pq.metric = p_metric and pq.period = p_period
  where o.id = p_org_id;
end;
$$;

comment on function private.quota_for(uuid, public.usage_metric, public.quota_period) is
  'The quota in force for a metric and period: the organization''s override, else its plan''s; limited is false when none.';

grant execute on function private.quota_for(uuid, public.usage_metric, public.quota_period) to service_role;

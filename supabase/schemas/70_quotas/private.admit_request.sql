-- The one call an edge function makes before any work when Postgres decides
-- rate limits (see _shared/rate_limit.ts): the policy, the rate-limit decision
-- and, for metered calls, the quota, in one round trip. A quota refusal raises
-- MQ001 and rolls the rate-limit hit back. With Upstash configured, the edge
-- decides in Redis and reads only the policy (rate_limit_policy_for).
create or replace function private.admit_request(p_principal jsonb, p_endpoint text, p_cost int default 1,
                                      p_meter public.usage_metric default null)
returns table (allowed boolean, remaining int, reset_at timestamptz, retry_after_ms int,
               request_limit int, window_ms int, scope public.rate_limit_scope, bucket text)
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_policy record;
  v_decision record;
  v_org uuid := (p_principal ->> 'org_id')::uuid;
begin
  select * into v_policy from private.rate_limit_policy_for(p_principal, p_endpoint);
  if v_policy.bucket is not null then
    select * into v_decision
    from public.check_rate_limit(v_policy.bucket, v_policy.request_limit, v_policy.window_ms,
                                 least(p_cost, v_policy.request_limit));
    allowed := v_decision.allowed;
    remaining := v_decision.remaining;
    reset_at := v_decision.reset_at;
    retry_after_ms := v_decision.retry_after_ms;
    request_limit := v_policy.request_limit;
    window_ms := v_policy.window_ms;
    scope := v_policy.scope;
    bucket := v_policy.bucket;
  else
    allowed := true;
  end if;
  if allowed and p_meter is not null and v_org is not null then
    perform private.meter_usage(v_org, p_meter, 1);
  end if;
  return next;
end;
$$;

comment on function private.admit_request(jsonb, text, int, public.usage_metric) is
  'Rate-limit decision (and optional quota metering) for a request, before any work.';

grant execute on function private.admit_request(jsonb, text, int, public.usage_metric) to service_role;

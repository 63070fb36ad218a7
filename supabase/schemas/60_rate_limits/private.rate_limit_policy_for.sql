-- The policy for a principal ({"kind", "org_id", "key_id", "user_id", "ip"}, as
-- _shared/auth.ts builds it) on an endpoint. Most specific wins: a key override,
-- then an org override, then the org's plan, then the platform default; within a
-- level an exact endpoint beats '*', and a per-caller scope beats 'org'. A scope
-- applies only when the principal has it (no IP bucket without an IP). A tenant's
-- api_keys.rate_limit_per_minute applies when it is stricter than the policy.
-- With Upstash configured, the edge reads the policy here and decides in Redis.
create or replace function private.rate_limit_policy_for(p_principal jsonb, p_endpoint text)
returns table (policy_id uuid, scope public.rate_limit_scope, request_limit int, window_ms int,
               bucket text)
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_org uuid := (p_principal ->> 'org_id')::uuid;
  v_key uuid := (p_principal ->> 'key_id')::uuid;
  v_user uuid := (p_principal ->> 'user_id')::uuid;
  v_ip text := p_principal ->> 'ip';
  v_key_rpm int;
  v_policy public.rate_limit_policies;
begin
  select r.* into v_policy
  from public.rate_limit_policies r
  where r.endpoint in (p_endpoint, '*')
    and (r.api_key_id is null or r.api_key_id = v_key)
    and (r.org_id is null or r.org_id = v_org)
    and (r.plan is null
         or r.plan = (select o.plan from public.organizations o where o.id = v_org))
    and case r.scope
          when 'org' then v_org is not null
          when 'api_key' then v_key is not null
          when 'user' then v_user is not null
          when 'ip' then v_ip is not null
        end
  order by r.api_key_id is not null desc, r.org_id is not null desc, r.plan is not null desc,
           r.endpoint <> '*' desc, r.scope <> 'org' desc
  limit 1;

  if v_key is not null then
    select k.rate_limit_per_minute into v_key_rpm
    from public.api_keys k where k.org_id = v_org and k.id = v_key;
  end if;
  if v_key_rpm is not null
     and (v_policy.id is null
          or v_key_rpm::numeric / 60000 < v_policy.request_limit::numeric / v_policy.window_ms) then
    policy_id := null;
    scope := 'api_key';
    request_limit := v_key_rpm;
    window_ms := 60000;
    bucket := 'key:' || v_key || ':' || p_endpoint || ':per-minute';
    return next;
    return;
  end if;
  if v_policy.id is null then
    return;
  end if;
  policy_id := v_policy.id;
  scope := v_policy.scope;
  request_limit := v_policy.request_limit;
  window_ms := v_policy.window_ms;
  bucket := case v_policy.scope
      when 'org' then 'org:' || v_org
      when 'api_key' then 'key:' || v_key
      when 'user' then 'user:' || v_user
      when 'ip' then 'ip:' || v_ip
    end || ':' || v_policy.endpoint;
  return next;
end;
$$;

comment on function private.rate_limit_policy_for(jsonb, text) is
  'The most specific rate-limit policy for a principal on an endpoint, with its bucket key.';

grant execute on function private.rate_limit_policy_for(jsonb, text) to service_role;

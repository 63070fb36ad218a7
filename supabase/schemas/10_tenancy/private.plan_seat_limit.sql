-- Seats each plan includes; an organization may carry an override.
create or replace function private.plan_seat_limit(p_plan public.org_plan)
returns int
language sql
immutable
set search_path = ''
as $$
  select case p_plan
    when 'free' then 3
    when 'starter' then 10
    when 'professional' then 50
    when 'enterprise' then 1000
  end
$$;

comment on function private.plan_seat_limit(public.org_plan) is
  'Seats included in a plan (free 3, starter 10, professional 50, enterprise 1000).';

grant execute on function private.plan_seat_limit(public.org_plan) to authenticated, service_role;

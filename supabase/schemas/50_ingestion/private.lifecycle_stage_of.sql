-- Lifecycle stage from what the profile now holds (see profiles.lifecycle_stage).
create or replace function private.lifecycle_stage_of(p_revenue numeric, p_identified boolean, p_score smallint)
returns public.lifecycle_stage
language sql
immutable
-- No SET search_path, so the planner can inline it into the profile fold: it
-- names only pg_catalog objects, which are searched first.
as $$
  select case
    when p_revenue > 0 then 'customer'::public.lifecycle_stage
    when not p_identified then 'anonymous'::public.lifecycle_stage
    when p_score >= 50 then 'engaged'::public.lifecycle_stage
    else 'identified'::public.lifecycle_stage end
$$;

comment on function private.lifecycle_stage_of(numeric, boolean, smallint) is
  'anonymous (no user_id or email), identified, engaged (identified and score >= 50), customer (revenue seen).';

grant execute on function private.lifecycle_stage_of(numeric, boolean, smallint) to service_role;

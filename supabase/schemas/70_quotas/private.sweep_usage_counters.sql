-- Old daily counters: the monthly ones keep the totals; a year of days is plenty.
create or replace function private.sweep_usage_counters()
returns bigint
language sql
security definer
set search_path = ''
as $$
  with gone as (
    delete from public.usage_counters u
    where u.period = 'day' and u.period_start < (now() at time zone 'UTC')::date - 400
    returning 1)
  select count(*) from gone
$$;

comment on function private.sweep_usage_counters() is
  'Deletes daily usage counters older than 400 days; run daily by pg_cron.';

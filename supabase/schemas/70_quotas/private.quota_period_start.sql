-- Quota periods are UTC days and months.
create or replace function private.quota_period_start(p_period public.quota_period, p_at timestamptz default now())
returns date
language plpgsql
stable
set search_path = ''
as $$
begin
  return pg_catalog.date_trunc(p_period::text, p_at at time zone 'UTC')::date;
end;
$$;

comment on function private.quota_period_start(public.quota_period, timestamptz) is
  'First day of the UTC day or month containing p_at.';

grant execute on function private.quota_period_start(public.quota_period, timestamptz) to service_role;

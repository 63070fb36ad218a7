-- An amount in another currency on a day, through the dollar, with the most
-- recent rate of each currency at most 7 days before that day (markets close
-- on weekends and holidays); null when either rate is missing, so the caller
-- reports it rather than treating the rate as 1.
create or replace function private.convert_currency(p_amount numeric, p_from text, p_to text, p_day date)
returns numeric
language sql
stable
security definer
set search_path = ''
as $$
  select case
    when p_amount is null then null
    when p_from = p_to then p_amount
    else p_amount
         / (case when p_from = 'USD' then 1 else
              (select r.rate from public.exchange_rates r
               where r.currency = p_from and r.day <= p_day and r.day > p_day - 8
               order by r.day desc limit 1) end)
         * (case when p_to = 'USD' then 1 else
              (select r.rate from public.exchange_rates r
               where r.currency = p_to and r.day <= p_day and r.day > p_day - 8
               order by r.day desc limit 1) end)
  end
$$;

comment on function private.convert_currency(numeric, text, text, date) is
  'Converts through USD with each currency''s latest rate within 7 days; null when a rate is missing.';

grant execute on function private.convert_currency(numeric, text, text, date) to authenticated, service_role;

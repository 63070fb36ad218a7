-- Daily exchange rates, quoted as units of a currency per one US dollar (the
-- form central banks and FX APIs publish against a base). Converting between
-- any two currencies goes through the dollar: amount / rate(from) * rate(to).
-- Shared reference data, loaded by the platform (service role); readable by
-- every signed-in user. A conversion without a rate is reported, never
-- assumed to be 1.
create table public.exchange_rates (
  day date not null,
  currency text not null constraint exchange_rates_currency_format check (currency ~ '^[A-Z]{3}$'),
  rate numeric not null constraint exchange_rates_rate_positive check (rate > 0),
  source text,
  primary key (currency, day)
);

comment on table public.exchange_rates is
  'Units of a currency per 1 USD, by day; reports convert through USD and report a missing rate.';

revoke all on public.exchange_rates from anon, authenticated, service_role;
grant select on public.exchange_rates to authenticated;
grant select, insert, update, delete on public.exchange_rates to service_role;

alter table public.exchange_rates enable row level security;

create policy "Signed-in users can read exchange rates"
  on public.exchange_rates for select to authenticated using (true);

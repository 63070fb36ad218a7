-- Raw engagement decays with a 14-day half-life: p_raw as of p_from, decayed to
-- p_to. Double precision throughout (date_part, not extract): numeric power()
-- made the decay a tenth of an ingestion batch (measured).
create or replace function private.decayed_engagement(p_raw double precision, p_from timestamptz,
                                                      p_to timestamptz)
returns double precision
language sql
immutable
-- No SET search_path, so the planner can inline it into every ingested row: it
-- names only pg_catalog objects, which are searched first.
as $$
  select case when p_raw is null or p_raw = 0 or p_from is null or p_to is null then coalesce(p_raw, 0)
    else p_raw * pg_catalog.power(0.5::double precision,
                   greatest(0, pg_catalog.date_part('epoch', p_to - p_from)) / (14 * 86400.0))
  end
$$;

comment on function private.decayed_engagement(double precision, timestamptz, timestamptz) is
  'An engagement sum decayed from one instant to a later one, with a 14-day half-life (double precision: numeric power() cost ~11 us a call).';

grant execute on function private.decayed_engagement(double precision, timestamptz, timestamptz) to authenticated, service_role;

-- The 0-100 engagement score of a raw engagement sum: 100 * (1 - exp(-raw / 25)).
create or replace function private.engagement_score(p_raw double precision)
returns smallint
language sql
immutable
-- No SET search_path, so the planner can inline it into every ingested row: it
-- names only pg_catalog objects, which are searched first.
as $$
  select round(100 * (1 - exp(-greatest(p_raw, 0) / 25.0)))::smallint
$$;

grant execute on function private.engagement_score(double precision) to authenticated, service_role;

create or replace function private.engagement_score(p_raw double precision)
returns smallint
language sql
immutable
-- No SET search_path: inlined into every ingested row (see the note at the top).
as $$
  select round(100 * (1 - exp(-greatest(p_raw, 0) / 25.0)))::smallint
$$;

grant execute on function private.engagement_score(double precision) to authenticated, service_role;

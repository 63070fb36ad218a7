create or replace function private.engagement_weight(p_type text, p_event text, p_revenue numeric, p_weights jsonb)
returns double precision
language sql
immutable
-- No SET search_path, so the planner can inline it into every ingested row: it
-- names only pg_catalog objects, which are searched first.
as $$
  select coalesce((p_weights ->> ('event:' || p_event))::double precision,
                  (p_weights ->> p_type)::double precision,
                  case p_type when 'track' then 3 when 'identify' then 2 when 'alias' then 0 else 1 end)
       + case when coalesce(p_revenue, 0) > 0 then 5 else 0 end
$$;

comment on function private.engagement_weight(text, text, numeric, jsonb) is
  'Weight of one event: per-org overrides (organizations.settings.engagement_weights, by "event:<name>" or type), else track 3, identify 2, alias 0, others 1; +5 with revenue.';

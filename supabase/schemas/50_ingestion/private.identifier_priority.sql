-- Identifier priority: lower is stronger. Segment Unify's defaults, then a fixed order.
create or replace function private.identifier_priority(p_type text, p_priorities jsonb)
returns int
language sql
immutable
-- No SET search_path, so the planner can inline it into every ingested row: it
-- names only pg_catalog objects, which are searched first.
as $$
  select coalesce((p_priorities ->> p_type)::int,
    case when p_type = 'user_id' then 1
         when p_type = 'email' then 2
         when p_type = 'phone' then 3
         when p_type like 'external:%' then 4
         when p_type = 'device_id' then 5
         else 6 end + 10)
$$;

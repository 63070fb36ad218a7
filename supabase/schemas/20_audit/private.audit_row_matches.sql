-- The filters search and export share. Immutable SQL with no SET search_path, so
-- it inlines into their WHERE clauses (time range and org stay outside it, for
-- partition pruning and the primary key).
create or replace function private.audit_row_matches(
  a public.audit_log,
  p_actor text,
  p_action text,
  p_resource_type text,
  p_resource_id text,
  p_risk public.audit_risk,
  p_query text
)
returns boolean
language sql
immutable
as $$
  select (p_actor is null or a.actor_email = p_actor or a.actor_user_id::text = p_actor
          or a.actor_api_key_id::text = p_actor)
     and (p_action is null or a.action = p_action
          or pg_catalog.starts_with(a.action, p_action || '.'))
     and (p_resource_type is null or a.resource_type = p_resource_type)
     and (p_resource_id is null or a.resource_id = p_resource_id)
     and (p_risk is null or a.risk >= p_risk)
     and (p_query is null or a.search @@ pg_catalog.websearch_to_tsquery('simple', p_query))
$$;

comment on function private.audit_row_matches(public.audit_log, text, text, text, text, public.audit_risk, text) is
  'Whether an audit row matches the actor, action (or prefix), resource, minimum risk and free-text filters.';

grant execute on function private.audit_row_matches(public.audit_log, text, text, text, text, public.audit_risk, text)
  to authenticated, service_role;

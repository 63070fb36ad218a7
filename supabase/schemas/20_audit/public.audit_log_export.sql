-- The rows an export streams (CSV through COPY, JSON Lines through a cursor), in
-- chain order, hashes as hex so a reader can re-verify the chain offline.
create or replace function public.audit_log_export(
  p_org_id uuid,
  p_from timestamptz,
  p_to timestamptz,
  p_actor text default null,
  p_action text default null,
  p_resource_type text default null,
  p_risk public.audit_risk default null,
  p_query text default null,
  p_limit int default 10000
)
returns table (
  seq bigint, occurred_at timestamptz, id uuid, actor_type text, actor_user_id uuid,
  actor_email text, actor_api_key_id uuid, action text, resource_type text, resource_id text,
  before jsonb, after jsonb, changed_fields text[], ip inet, user_agent text, request_id text,
  risk public.audit_risk, tags text[], status public.audit_status, retention_until timestamptz,
  prev_hash text, hash text
)
language plpgsql
stable
security invoker
set search_path = ''
as $$
begin
  -- VALIDATION
  perform private.require_permission(p_org_id, 'audit:read');
  if p_from is null or p_to is null or p_from >= p_to then
    raise exception 'from must be before to' using errcode = '22023', detail = 'field: from';
  end if;
  if p_limit is null or p_limit not between 1 and 100000 then
    raise exception 'limit must be between 1 and 100000' using errcode = '22023', detail = 'field: limit';
  end if;

  return query
  select a.seq, a.occurred_at, a.id, a.actor_type, a.actor_user_id, a.actor_email,
         a.actor_api_key_id, a.action, a.resource_type, a.resource_id, a.before, a.after,
         a.changed_fields, a.ip, a.user_agent, a.request_id, a.risk, a.tags, a.status,
         a.retention_until, encode(a.prev_hash, 'hex'), encode(a.hash, 'hex')
  from public.audit_log a
  where a.org_id = p_org_id
    and a.occurred_at >= p_from and a.occurred_at < p_to
    and private.audit_row_matches(a, p_actor, p_action, p_resource_type, null, p_risk, p_query)
  order by a.occurred_at, a.seq
  limit p_limit;
end;
$$;

comment on function public.audit_log_export(uuid, timestamptz, timestamptz, text, text, text, public.audit_risk, text, int) is
  'Rows for an audit export (audit:read), oldest first, capped at p_limit (at most 100000).';

grant execute on function
  public.audit_log_export(uuid, timestamptz, timestamptz, text, text, text, public.audit_risk, text, int)
  to authenticated, service_role;

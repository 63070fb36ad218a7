-- The canonical text of a row that its hash covers. Timestamps are rendered in
-- UTC with a fixed format, so the text does not depend on session settings.
-- Each hash_version's text must stay exactly what it always was, or no earlier
-- row of any chain would verify: supabase/tests/audit/audit_canonical.test.sql
-- pins both. A change of canonical form is a new version, never an edit.
-- PL/pgSQL so its plan is kept for the connection: as SQL it would not be
-- inlined (it is immutable, to_char is stable) and would be planned again on
-- every call.
create or replace function private.audit_canonical(r public.audit_log)
returns text
language plpgsql
immutable
set search_path = ''
as $$
begin
  -- A row literal is unambiguous (values are quoted and escaped) and cheaper to
  -- build than JSON; jsonb, arrays, uuids and inet print the same in every
  -- session.
  if r.hash_version = 2 then
    -- The whole address with its mask, and the version, so that a row cannot
    -- be passed off as version 1 to hide a changed mask.
    return row(
      r.org_id, r.seq,
      pg_catalog.to_char(pg_catalog.timezone('UTC', r.occurred_at), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
      r.id, r.actor_type, r.actor_user_id, r.actor_email, r.actor_api_key_id,
      r.action, r.resource_type, r.resource_id, r.before, r.after, r.changed_fields,
      r.ip, r.user_agent, r.request_id, r.risk, r.tags, r.status,
      pg_catalog.to_char(pg_catalog.timezone('UTC', r.retention_until), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
      r.hash_version
    )::text;
  end if;
  -- Version 1, the rows written before: host(ip), no version.
  return row(
    r.org_id, r.seq,
    pg_catalog.to_char(pg_catalog.timezone('UTC', r.occurred_at), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    r.id, r.actor_type, r.actor_user_id, r.actor_email, r.actor_api_key_id,
    r.action, r.resource_type, r.resource_id, r.before, r.after, r.changed_fields,
    pg_catalog.host(r.ip), r.user_agent, r.request_id, r.risk, r.tags, r.status,
    pg_catalog.to_char(pg_catalog.timezone('UTC', r.retention_until), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
  )::text;
end;
$$;

comment on function private.audit_canonical(public.audit_log) is
  'Deterministic text of an audit row, the input of its hash (by hash_version: 1 hashed host(ip), 2 the whole address and the version).';

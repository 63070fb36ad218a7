-- The prev_hash of an organization's first audit row.
create or replace function private.audit_genesis_hash(p_org_id uuid)
returns bytea
language sql
immutable
set search_path = ''
as $$
  select extensions.digest('meridian-audit-genesis:' || p_org_id::text, 'sha256')
$$;

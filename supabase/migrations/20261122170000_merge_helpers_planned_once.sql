-- Ingestion (issue 4): the helpers a merge calls are planned once per
-- connection, not once per call.
--
-- A SQL-language function that cannot be inlined (one with a SET clause, or
-- an IMMUTABLE one whose body calls STABLE functions) is parsed, analysed and
-- planned again on every call from a new statement: its plans live only as long
-- as the calling query. PL/pgSQL keeps a function's plans for the life of the
-- connection. Four such SQL functions ran for every merge a batch makes:
--
-- - private.move_group_memberships, from resolve_profile;
-- - private.audit_canonical, when the merge is appended to the audit chain at
--   commit (immutable, but to_char is stable, so it was never inlined);
-- - private.api_key_principal and private.is_trusted_caller, from append_audit.
--
-- A perf profile of the ingest bench's HTTP phase (MERIDIAN_PERF_DIR) put
-- 3.6% of Postgres's CPU in fmgr_sql, parsing and planning these bodies, and
-- 1.1% more in the SQL parser. With this migration: 0.3% in fmgr_sql, 0.4% in
-- the parser.
--
-- Each is the same statement as before, in PL/pgSQL. audit_canonical must
-- return exactly the text it returned, or no earlier row of any audit chain
-- would verify: the expression is unchanged, and
-- supabase/tests/audit/audit_canonical.test.sql pins its output for a row.

create or replace function private.move_group_memberships(p_org_id uuid, p_from uuid, p_to uuid)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_moved jsonb;
begin
  with mine as (
    delete from public.group_memberships m
    where m.org_id = p_org_id and m.profile_id = p_from
    returning m.group_id, m.first_seen_at, m.last_seen_at
  ), noted as (
    -- Read before the insert below: this statement's snapshot predates it.
    select mine.*, not exists (
             select 1 from public.group_memberships w
             where w.org_id = p_org_id and w.group_id = mine.group_id and w.profile_id = p_to) as joined
    from mine
  ), moved as (
    insert into public.group_memberships as gm (org_id, group_id, profile_id, first_seen_at, last_seen_at)
    select p_org_id, n.group_id, p_to, n.first_seen_at, n.last_seen_at from noted n order by n.group_id
    on conflict (org_id, group_id, profile_id) do update set
      first_seen_at = least(gm.first_seen_at, excluded.first_seen_at),
      last_seen_at = greatest(gm.last_seen_at, excluded.last_seen_at)
  )
  select coalesce(jsonb_agg(jsonb_build_object('group_id', n.group_id, 'first_seen_at', n.first_seen_at,
                                               'last_seen_at', n.last_seen_at, 'joined', n.joined)
                            order by n.group_id), '[]')
    into v_moved
  from noted n;
  return v_moved;
end;
$$;

create or replace function private.is_trusted_caller()
returns boolean
language plpgsql
stable
set search_path = ''
as $$
begin
  return coalesce(nullif(current_setting('role', true), 'none'), current_user::text)
         in ('service_role', 'postgres');
end;
$$;

create or replace function private.api_key_principal()
returns jsonb
language plpgsql
stable
set search_path = ''
as $$
begin
  return case when private.is_trusted_caller()
    then nullif(current_setting('meridian.principal', true), '')::jsonb
  end;
end;
$$;

create or replace function private.audit_canonical(r public.audit_log)
returns text
language plpgsql
immutable
set search_path = ''
as $$
begin
  -- A row literal is unambiguous (values are quoted and escaped) and cheaper to
  -- build than JSON; jsonb, arrays and uuids print the same in every session.
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

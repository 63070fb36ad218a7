-- Audit log: append-only, partitioned by month, hash-chained per organization so
-- that any edit or deletion of a row is detectable (verify_audit_chain), written
-- by a generic trigger on every tenant table and by the code paths that see
-- logins, key failures and denials. Anchors: SOC 2 audit trails (append-only,
-- searchable, exportable, retained).

create type public.audit_risk as enum ('low', 'medium', 'high', 'critical');
create type public.audit_status as enum ('success', 'failure');

-- array_to_string is only STABLE (it can format any element type); for text[]
-- it is immutable, which the generated search column needs. No SET search_path:
-- that would stop the planner inlining it into every audit insert, and the body
-- names its one function by schema.
create function private.text_array_to_string(p_values text[], p_separator text)
returns text
language sql
immutable
parallel safe
as $$
  select pg_catalog.array_to_string(p_values, p_separator)
$$;

create table public.audit_log (
  org_id uuid not null,
  seq bigint not null,
  occurred_at timestamptz not null,
  id uuid not null default gen_random_uuid(),
  actor_type text not null
    constraint audit_log_actor_type_check check (actor_type in ('user', 'api_key', 'system')),
  actor_user_id uuid,
  actor_email text,
  actor_api_key_id uuid,
  action text not null constraint audit_log_action_format check (action ~ '^[a-z_]+(\.[a-z_]+)+$'),
  resource_type text not null,
  resource_id text,
  before jsonb,
  after jsonb,
  changed_fields text[] not null default '{}',
  ip inet,
  user_agent text,
  request_id text,
  risk public.audit_risk not null default 'low',
  tags text[] not null default '{}',
  status public.audit_status not null default 'success',
  retention_until timestamptz not null,
  prev_hash bytea not null,
  hash bytea not null,
  search tsvector generated always as (
    -- Dots and underscores split words, so "exported" finds audit_log.exported
    -- and "alice" finds alice@example.com.
    to_tsvector('simple', translate(
      action || ' ' || resource_type || ' ' || coalesce(resource_id, '') || ' ' ||
      coalesce(actor_email, '') || ' ' || private.text_array_to_string(tags, ' ') || ' ' ||
      private.text_array_to_string(changed_fields, ' '), '._@', '   '))
  ) stored,
  primary key (org_id, occurred_at, seq)
) partition by range (occurred_at);

comment on table public.audit_log is
  'Append-only audit trail, one hash chain per organization (hash = sha256(prev_hash || canonical row)).';
comment on column public.audit_log.seq is 'Position in the organization''s hash chain, from 1.';
comment on column public.audit_log.before is 'Row image before the change, sensitive keys masked.';
comment on column public.audit_log.after is 'Row image after the change, sensitive keys masked.';
comment on column public.audit_log.retention_until is
  'Kept at least until then; partitions are dropped once all their rows are past it.';
comment on column public.audit_log.hash is 'sha256(prev_hash || canonical form of this row).';

-- The primary key (org_id, occurred_at, seq) also serves newest-first reads.
create index audit_log_org_seq_idx on public.audit_log (org_id, seq);
create index audit_log_occurred_brin on public.audit_log using brin (occurred_at);
create index audit_log_search_idx on public.audit_log using gin (search);

-- Where each organization's chain ends. One row per org; appending locks it, so
-- appends are serialized per organization and never globally.
create table private.audit_chain_heads (
  org_id uuid primary key,
  last_seq bigint not null,
  last_hash bytea not null
);
comment on table private.audit_chain_heads is 'The last sequence number and hash of each organization''s audit chain.';
alter table private.audit_chain_heads enable row level security;

insert into private.time_partitioned_tables (parent, partition_interval, premake, retention_column)
values ('public.audit_log', '1 month', 3, 'retention_until');
-- Last month too, so a fresh install can hold rows stamped just before midnight.
select private.create_time_partition('public.audit_log',
  date_trunc('month', now() at time zone 'UTC') at time zone 'UTC' - interval '1 month');
select private.maintain_time_partitions();

-- APPEND-ONLY -----------------------------------------------------------------------
create function private.refuse_audit_change()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  raise exception 'audit_log is append-only: % is not allowed', tg_op
    using errcode = '42501', hint = 'Rows leave only when retention drops their partition.';
end;
$$;
create trigger audit_log_append_only
  before update or delete on public.audit_log
  for each row execute function private.refuse_audit_change();
create trigger audit_log_no_truncate
  before truncate on public.audit_log
  for each statement execute function private.refuse_audit_change();

revoke all on public.audit_log from anon, authenticated, service_role;
grant select on public.audit_log to authenticated, service_role;

alter table public.audit_log enable row level security;
create policy "Auditors can read their organization's audit log"
  on public.audit_log for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('audit:read'))::uuid[]));

-- MASKING ---------------------------------------------------------------------------
create function private.mask_sensitive(p_value jsonb, p_extra_keys text[] default '{}')
returns jsonb
language plpgsql
immutable
set search_path = ''
as $$
declare
  v_keys text[] := array['password', 'secret', 'token', 'api_key', 'key_hash', 'mfa_secret']
                   || coalesce(p_extra_keys, '{}');
  v_result jsonb;
begin
  -- Fast path: most images name no sensitive key at all.
  if p_value is null
     or lower(p_value::text) !~ array_to_string(v_keys, '|') then
    return p_value;
  elsif jsonb_typeof(p_value) = 'object' then
    select coalesce(jsonb_object_agg(e.key,
             case when exists (
                    select 1 from unnest(v_keys) k
                    where lower(e.key) = k or lower(e.key) like '%\_' || k or lower(e.key) like k || '\_%')
                  then to_jsonb('***'::text)
                  else private.mask_sensitive(e.value, p_extra_keys) end), '{}'::jsonb)
      into v_result
    from jsonb_each(p_value) e;
    return v_result;
  elsif jsonb_typeof(p_value) = 'array' then
    select coalesce(jsonb_agg(private.mask_sensitive(e.value, p_extra_keys) order by e.ord), '[]'::jsonb)
      into v_result
    from jsonb_array_elements(p_value) with ordinality e(value, ord);
    return v_result;
  end if;
  return p_value;
end;
$$;
comment on function private.mask_sensitive(jsonb, text[]) is
  'Replaces values of sensitive keys (password, secret, token, api_key, key_hash, mfa_secret, extras; also as _-prefix/suffix) with ***, recursively.';

-- REQUEST CONTEXT -----------------------------------------------------------------
-- Client IPs come from headers a client can influence; a malformed one must not
-- fail the audited change, so it is dropped instead.
create function private.parse_ip(p_value text)
returns inet
language plpgsql
immutable
set search_path = ''
as $$
begin
  if p_value is null or p_value = '' then
    return null;
  end if;
  return p_value::inet;
exception when invalid_text_representation then
  return null;
end;
$$;
comment on function private.parse_ip(text) is 'The value as inet, or null when it is not an IP address.';

-- CHAIN -----------------------------------------------------------------------------
-- The canonical text of a row that its hash covers. Timestamps are rendered in
-- UTC with a fixed format, so the text does not depend on session settings.
create function private.audit_canonical(r public.audit_log)
returns text
language sql
immutable
-- No SET search_path, so the planner can inline it into append_audit and
-- verify_audit_chain; every function in the body is named by schema.
as $$
  -- A row literal is unambiguous (values are quoted and escaped) and cheaper to
  -- build than JSON; jsonb, arrays and uuids print the same in every session.
  select row(
    r.org_id, r.seq,
    pg_catalog.to_char(pg_catalog.timezone('UTC', r.occurred_at), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    r.id, r.actor_type, r.actor_user_id, r.actor_email, r.actor_api_key_id,
    r.action, r.resource_type, r.resource_id, r.before, r.after, r.changed_fields,
    pg_catalog.host(r.ip), r.user_agent, r.request_id, r.risk, r.tags, r.status,
    pg_catalog.to_char(pg_catalog.timezone('UTC', r.retention_until), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
  )::text
$$;
comment on function private.audit_canonical(public.audit_log) is
  'Deterministic text of an audit row, the input of its hash.';

create function private.audit_genesis_hash(p_org_id uuid)
returns bytea
language sql
immutable
set search_path = ''
as $$
  select extensions.digest('meridian-audit-genesis:' || p_org_id::text, 'sha256')
$$;

-- The one way rows enter the audit log.
create function private.append_audit(
  p_org_id uuid,
  p_action text,
  p_resource_type text,
  p_resource_id text default null,
  p_before jsonb default null,
  p_after jsonb default null,
  p_risk public.audit_risk default 'low',
  p_status public.audit_status default 'success',
  p_tags text[] default '{}',
  p_actor jsonb default null
)
returns public.audit_log
language plpgsql
security definer
set search_path = ''
as $$
declare
  -- Who acts and from where, read once from the transaction's settings (this
  -- runs for every audited row, so it avoids nested helper calls): the JWT for
  -- user sessions, meridian.principal for API keys (set by edge functions), and
  -- the request headers PostgREST sets or the context functions pass.
  v_claims jsonb := nullif(current_setting('request.jwt.claims', true), '')::jsonb;
  v_headers jsonb := coalesce(nullif(current_setting('request.headers', true), '')::jsonb, '{}');
  v_req jsonb := coalesce(nullif(current_setting('meridian.request', true), '')::jsonb, '{}');
  v_actor jsonb := p_actor;
  v_key jsonb;
  v_masked_keys text[];
  v_retention interval;
  v_mask_pattern text;
  v_seq bigint;
  v_prev_hash bytea;
  v_row public.audit_log;
begin
  if v_actor is null then
    if v_claims ->> 'sub' is not null then
      v_actor := jsonb_build_object('type', 'user', 'user_id', v_claims ->> 'sub',
                                    'email', v_claims ->> 'email');
    else
      v_key := private.api_key_principal();
      v_actor := case when v_key is not null
        then jsonb_build_object('type', 'api_key', 'api_key_id', v_key ->> 'key_id')
        else jsonb_build_object('type', 'system') end;
    end if;
  end if;
  -- CLAIM THE NEXT LINK: the UPDATE locks the organization's head row until
  -- commit, so appends serialize per organization (never globally), and it
  -- returns the newest committed head even after waiting for another appender.
  -- The organization's audit settings ride along (it may be gone: deletions
  -- are audited too).
  update private.audit_chain_heads h set last_seq = h.last_seq + 1
  where h.org_id = p_org_id
  returning h.last_seq, h.last_hash,
            (select o.audit_masked_keys from public.organizations o where o.id = p_org_id),
            (select o.audit_retention from public.organizations o where o.id = p_org_id)
  into v_seq, v_prev_hash, v_masked_keys, v_retention;
  if v_seq is null then
    -- First event of this organization (or a concurrent first: then wait for it).
    insert into private.audit_chain_heads as h (org_id, last_seq, last_hash)
    values (p_org_id, 1, private.audit_genesis_hash(p_org_id))
    on conflict (org_id) do update set last_seq = h.last_seq + 1
    returning h.last_seq, h.last_hash,
              (select o.audit_masked_keys from public.organizations o where o.id = p_org_id),
              (select o.audit_retention from public.organizations o where o.id = p_org_id)
    into v_seq, v_prev_hash, v_masked_keys, v_retention;
  end if;
  -- mask_sensitive's own fast path, checked here to skip the call for clean images.
  v_mask_pattern := array_to_string(
    array['password', 'secret', 'token', 'api_key', 'key_hash', 'mfa_secret']
    || coalesce(v_masked_keys, '{}'), '|');

  -- BUILD, HASH AND APPEND THE ROW in one statement.
  insert into public.audit_log (
    org_id, seq, occurred_at, id, actor_type, actor_user_id, actor_email, actor_api_key_id,
    action, resource_type, resource_id, before, after, changed_fields, ip, user_agent,
    request_id, risk, tags, status, retention_until, prev_hash, hash)
  select (c.r).org_id, (c.r).seq, (c.r).occurred_at, (c.r).id, (c.r).actor_type,
         (c.r).actor_user_id, (c.r).actor_email, (c.r).actor_api_key_id, (c.r).action,
         (c.r).resource_type, (c.r).resource_id, (c.r).before, (c.r).after,
         (c.r).changed_fields, (c.r).ip, (c.r).user_agent, (c.r).request_id, (c.r).risk,
         (c.r).tags, (c.r).status, (c.r).retention_until, (c.r).prev_hash,
         extensions.digest((c.r).prev_hash || convert_to(private.audit_canonical(c.r), 'UTF8'),
                           'sha256')
  from (
    select row(
      p_org_id,
      v_seq,
      -- clock_timestamp, taken while holding the head, keeps time order equal
      -- to chain order.
      t.now,
      gen_random_uuid(),
      v_actor ->> 'type',
      (v_actor ->> 'user_id')::uuid,
      v_actor ->> 'email',
      (v_actor ->> 'api_key_id')::uuid,
      p_action,
      p_resource_type,
      p_resource_id,
      case when lower(p_before::text) ~ v_mask_pattern
           then private.mask_sensitive(p_before, v_masked_keys) else p_before end,
      case when lower(p_after::text) ~ v_mask_pattern
           then private.mask_sensitive(p_after, v_masked_keys) else p_after end,
      -- Only an update has changed fields; inserts and deletes carry whole images.
      case when p_before is null or p_after is null then '{}'::text[] else
        coalesce((
          select array_agg(k order by k) from (
            select key as k from jsonb_each(p_after)
            union
            select key from jsonb_each(p_before)
          ) keys
          where p_before -> k is distinct from p_after -> k
            and k <> 'updated_at'), '{}') end,
      private.parse_ip(coalesce(v_req ->> 'ip',
                                btrim(split_part(v_headers ->> 'x-forwarded-for', ',', 1)))),
      left(coalesce(v_req ->> 'user_agent', v_headers ->> 'user-agent'), 512),
      left(coalesce(v_req ->> 'request_id', v_headers ->> 'x-request-id'), 128),
      p_risk,
      coalesce(p_tags, '{}'),
      p_status,
      t.now + coalesce(v_retention, interval '7 years'),
      v_prev_hash,
      null::bytea,    -- hash: computed over everything else, above
      null::tsvector  -- search: generated on insert
    )::public.audit_log as r
    from (select clock_timestamp() as now) t
    offset 0
  ) c
  returning * into v_row;

  -- The head's hash moves only now that the row's hash is known.
  update private.audit_chain_heads set last_hash = v_row.hash where org_id = p_org_id;
  return v_row;
end;
$$;
comment on function private.append_audit(uuid, text, text, text, jsonb, jsonb, public.audit_risk, public.audit_status, text[], jsonb) is
  'Appends one audit row to the organization''s hash chain; the only writer of audit_log.';
grant execute on function
  private.append_audit(uuid, text, text, text, jsonb, jsonb, public.audit_risk, public.audit_status, text[], jsonb)
  to service_role;

create function private.verify_audit_chain(
  p_org_id uuid,
  p_from timestamptz default '-infinity',
  p_to timestamptz default 'infinity'
)
returns table (ok boolean, rows_checked bigint, broken_seq bigint, broken_id uuid, reason text)
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  v_row public.audit_log;
  v_prev_seq bigint;
  v_prev_hash bytea;
  v_count bigint := 0;
begin
  -- The link into the range: the row just before it, or the genesis hash.
  select a.seq, a.hash into v_prev_seq, v_prev_hash
  from public.audit_log a
  where a.org_id = p_org_id and a.occurred_at < p_from
  order by a.occurred_at desc, a.seq desc limit 1;
  if v_prev_seq is null and p_from = '-infinity' then
    v_prev_seq := 0;
    v_prev_hash := private.audit_genesis_hash(p_org_id);
  end if;

  for v_row in
    select * from public.audit_log a
    where a.org_id = p_org_id and a.occurred_at >= p_from and a.occurred_at < p_to
    order by a.seq
  loop
    v_count := v_count + 1;
    if v_prev_seq is not null and v_row.seq <> v_prev_seq + 1 then
      return query select false, v_count, v_row.seq, v_row.id,
        format('sequence gap: expected %s, found %s (rows deleted?)', v_prev_seq + 1, v_row.seq);
      return;
    end if;
    if v_prev_hash is not null and v_row.prev_hash <> v_prev_hash then
      return query select false, v_count, v_row.seq, v_row.id,
        'prev_hash does not match the hash of the previous row'::text;
      return;
    end if;
    if v_row.hash <> extensions.digest(
         v_row.prev_hash || convert_to(private.audit_canonical(v_row), 'UTF8'), 'sha256') then
      return query select false, v_count, v_row.seq, v_row.id,
        'row content does not match its hash (row altered)'::text;
      return;
    end if;
    v_prev_seq := v_row.seq;
    v_prev_hash := v_row.hash;
  end loop;

  -- A deleted tail shows as a head beyond the last row.
  if p_to = 'infinity' and exists (
    select 1 from private.audit_chain_heads h
    where h.org_id = p_org_id and h.last_seq <> coalesce(v_prev_seq, 0)
  ) then
    return query select false, v_count, coalesce(v_prev_seq, 0) + 1, null::uuid,
      'rows missing at the end of the chain'::text;
    return;
  end if;
  return query select true, v_count, null::bigint, null::uuid, null::text;
end;
$$;
comment on function private.verify_audit_chain(uuid, timestamptz, timestamptz) is
  'Recomputes the organization''s audit chain over a time range and reports the first broken link.';
grant execute on function private.verify_audit_chain(uuid, timestamptz, timestamptz) to service_role;

create function public.verify_audit_chain(
  p_org_id uuid,
  p_from timestamptz default '-infinity',
  p_to timestamptz default 'infinity'
)
returns table (ok boolean, rows_checked bigint, broken_seq bigint, broken_id uuid, reason text)
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform private.require_permission(p_org_id, 'audit:read');
  return query select * from private.verify_audit_chain(p_org_id, p_from, p_to);
end;
$$;
comment on function public.verify_audit_chain(uuid, timestamptz, timestamptz) is
  'Verifies the audit chain for auditors (audit:read).';
grant execute on function public.verify_audit_chain(uuid, timestamptz, timestamptz)
  to authenticated, service_role;

-- GENERIC ROW TRIGGER ----------------------------------------------------------------
-- Attach to any tenant table:
--   audit_row_change(org column, id column, base risk [, 'ignored,columns'])
-- The action is <table>.<insert|update|delete>; deletes count one risk level up.
-- An update that changes only ignored columns (and updated_at) is not audited.
create function private.audit_row_change()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_org_column text := tg_argv[0];
  v_id_column text := tg_argv[1];
  v_risk public.audit_risk := coalesce(tg_argv[2], 'low')::public.audit_risk;
  v_old jsonb := case when tg_op <> 'INSERT' then to_jsonb(old) end;
  v_new jsonb := case when tg_op <> 'DELETE' then to_jsonb(new) end;
  v_row jsonb := coalesce(v_new, v_old);
  v_org_id uuid := (v_row ->> v_org_column)::uuid;
  v_ignored text[] := string_to_array(coalesce(tg_argv[3], ''), ',') || array['updated_at'];
begin
  if tg_op = 'UPDATE' and (v_old - v_ignored) = (v_new - v_ignored) then
    return null;
  end if;
  if tg_op = 'DELETE' then
    v_risk := (enum_range(v_risk, null))[least(2, array_length(enum_range(v_risk, null), 1))];
  end if;
  -- Role changes are what an attacker escalates with.
  if tg_table_name = 'organization_members' and tg_op = 'UPDATE'
     and v_old ->> 'role' is distinct from v_new ->> 'role' then
    v_risk := 'high';
  end if;
  perform private.append_audit(
    v_org_id,
    tg_table_name || '.' || lower(tg_op),
    tg_table_name,
    v_row ->> v_id_column,
    v_old,
    v_new,
    v_risk);
  return null;
end;
$$;
comment on function private.audit_row_change() is
  'Trigger: writes an audit row for each insert, update and delete. Args: org column, id column, base risk, ignored columns.';

create trigger organizations_audit after insert or update or delete on public.organizations
  for each row execute function private.audit_row_change('id', 'id', 'medium');
create trigger workspaces_audit after insert or update or delete on public.workspaces
  for each row execute function private.audit_row_change('org_id', 'id', 'low');
create trigger organization_members_audit after insert or update or delete on public.organization_members
  for each row execute function private.audit_row_change('org_id', 'user_id', 'medium');
create trigger workspace_members_audit after insert or update or delete on public.workspace_members
  for each row execute function private.audit_row_change('org_id', 'user_id', 'low');
create trigger invitations_audit after insert or update or delete on public.invitations
  for each row execute function private.audit_row_change('org_id', 'id', 'low');

-- EVENTS FROM CODE PATHS ----------------------------------------------------------------
-- Edge functions record what no row trigger sees: logins, failed logins, key-use
-- failures and permission denials (after the failed transaction, in a new one).
create function public.record_audit_event(
  p_org_id uuid,
  p_action text,
  p_resource_type text,
  p_resource_id text default null,
  p_status public.audit_status default 'success',
  p_risk public.audit_risk default 'low',
  p_details jsonb default null,
  p_tags text[] default '{}'
)
returns uuid
language plpgsql
security definer
set search_path = ''
as $$
begin
  if not private.is_trusted_caller() then
    raise exception 'record_audit_event is for server-side callers' using errcode = '42501';
  end if;
  return (private.append_audit(p_org_id, p_action, p_resource_type, p_resource_id,
                               null, p_details, p_risk, p_status, p_tags)).id;
end;
$$;
comment on function public.record_audit_event(uuid, text, text, text, public.audit_status, public.audit_risk, jsonb, text[]) is
  'Server-side (service role) entry for audit events no row trigger sees.';
grant execute on function
  public.record_audit_event(uuid, text, text, text, public.audit_status, public.audit_risk, jsonb, text[])
  to service_role;

-- FILTERS ------------------------------------------------------------------------------
-- The filters search and export share. Immutable SQL with no SET search_path, so
-- it inlines into their WHERE clauses (time range and org stay outside it, for
-- partition pruning and the primary key).
create function private.audit_row_matches(
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

-- SEARCH --------------------------------------------------------------------------------
-- Keyset pagination on (occurred_at, seq) descending: pass the last row's pair back.
create function public.search_audit_log(
  p_org_id uuid,
  p_from timestamptz default now() - interval '30 days',
  p_to timestamptz default now() + interval '1 minute',
  p_actor text default null,
  p_action text default null,
  p_resource_type text default null,
  p_resource_id text default null,
  p_risk public.audit_risk default null,
  p_query text default null,
  p_before_occurred_at timestamptz default null,
  p_before_seq bigint default null,
  p_limit int default 100
)
returns setof public.audit_log
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
  if p_to - p_from > interval '366 days' then
    raise exception 'time range is limited to 366 days' using errcode = '22023', detail = 'field: to';
  end if;
  if p_limit is null or p_limit not between 1 and 1000 then
    raise exception 'limit must be between 1 and 1000' using errcode = '22023', detail = 'field: limit';
  end if;
  if (p_before_occurred_at is null) <> (p_before_seq is null) then
    raise exception 'before_occurred_at and before_seq go together'
      using errcode = '22023', detail = 'field: before_seq';
  end if;

  return query
  select a.* from public.audit_log a
  where a.org_id = p_org_id
    and a.occurred_at >= p_from and a.occurred_at < p_to
    and private.audit_row_matches(a, p_actor, p_action, p_resource_type, p_resource_id, p_risk, p_query)
    and (p_before_seq is null or (a.occurred_at, a.seq) < (p_before_occurred_at, p_before_seq))
  order by a.occurred_at desc, a.seq desc
  limit p_limit;
end;
$$;
comment on function public.search_audit_log(uuid, timestamptz, timestamptz, text, text, text, text, public.audit_risk, text, timestamptz, bigint, int) is
  'Searches the audit log (audit:read): time range, actor, action, resource, minimum risk, free text; keyset pages.';
grant execute on function
  public.search_audit_log(uuid, timestamptz, timestamptz, text, text, text, text, public.audit_risk, text, timestamptz, bigint, int)
  to authenticated, service_role;

-- EXPORT --------------------------------------------------------------------------------
-- The rows an export streams (CSV through COPY, JSON Lines through a cursor), in
-- chain order, hashes as hex so a reader can re-verify the chain offline.
create function public.audit_log_export(
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

-- The audit trail (SOC 2 style: append-only, searchable, exportable, retained).
-- Hash-chained per organization, so any edit or deletion of a row is detectable
-- (verify_audit_chain). Rows enter only through private.append_audit: from the
-- row trigger audit_row_change on every tenant table, and from the code paths
-- that see logins, key failures and denials. Partitioned by month; a partition
-- is dropped once all its rows are past retention_until (40_partitions).
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
  -- Which canonical text the hash covers (private.audit_canonical): 1 hashed
  -- host(ip), which drops the netmask, so a changed mask went unnoticed;
  -- rows from version 2 on hash the whole value, and the version itself.
  hash_version smallint not null default 2
    constraint audit_log_hash_version_check check (hash_version in (1, 2)),
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

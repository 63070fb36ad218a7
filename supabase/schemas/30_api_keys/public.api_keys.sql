-- API keys for servers and SDKs, after Stripe's: a visible prefix, the secret
-- shown once and only its SHA-256 kept (private.api_key_secrets), rotation with
-- a grace period, immediate revocation. `secret` keys (mk_live_/mk_test_) carry
-- scopes from the permission catalogue; `write` keys (wk_live_/wk_test_) can
-- only send events, for one source.
create table public.api_keys (
  org_id uuid not null references public.organizations (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  workspace_id uuid,
  source_id uuid,
  name text not null constraint api_keys_name_length check (char_length(btrim(name)) between 1 and 120),
  kind public.api_key_kind not null default 'secret',
  environment public.api_key_environment not null default 'live',
  scopes text[] not null default '{}',
  prefix text not null,
  last_four text not null,
  created_by uuid references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  expires_at timestamptz,
  revoked_at timestamptz,
  last_used_at timestamptz,
  usage_count bigint not null default 0,
  rate_limit_per_minute int constraint api_keys_rate_limit_check
    check (rate_limit_per_minute is null or rate_limit_per_minute > 0),
  allowed_cidrs cidr[],
  rotated_from uuid,
  replaced_by uuid,
  primary key (org_id, id),
  foreign key (org_id, workspace_id) references public.workspaces (org_id, id) on delete cascade,
  foreign key (org_id, source_id) references public.sources (org_id, id) on delete cascade,
  constraint api_keys_write_scope check (kind = 'secret' or scopes = array['events:write']),
  constraint api_keys_write_source check ((kind = 'write') = (source_id is not null))
);

comment on table public.api_keys is
  'Server-to-server keys. The secret is shown once at creation; only its hash is kept (privately).';

comment on column public.api_keys.prefix is 'The first characters of the secret, to recognise a key.';

comment on column public.api_keys.source_id is 'The source a write key sends events for (write keys only).';

comment on column public.api_keys.scopes is 'Permissions the key holds, a subset of the catalogue and of its creator''s.';

comment on column public.api_keys.expires_at is 'Set by rotation (grace period) or at creation; null means no expiry.';

comment on column public.api_keys.usage_count is 'Successful verifications, flushed from a buffer each minute.';

comment on column public.api_keys.rate_limit_per_minute is 'Per-key override of the plan''s rate limit.';

comment on column public.api_keys.allowed_cidrs is 'When set, the key works only from these networks.';

create index api_keys_org_created_idx on public.api_keys (org_id, created_at desc);

revoke all on public.api_keys from anon, authenticated;

grant all on public.api_keys to service_role;

grant select on public.api_keys to authenticated;

alter table public.api_keys enable row level security;

create policy "Key managers can list their organization's API keys"
  on public.api_keys for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('api_keys:manage'))::uuid[]));

create trigger api_keys_audit after insert or update or delete on public.api_keys
  for each row execute function private.audit_row_change('org_id', 'id', 'high', 'last_used_at,usage_count');

-- Each foreign key has an index that covers it: deleting or re-keying the row
-- it references finds the rows that point at it without a scan.
create index api_keys_created_by_idx on public.api_keys (created_by) where created_by is not null;
create index api_keys_source_idx on public.api_keys (org_id, source_id) where source_id is not null;
create index api_keys_workspace_idx on public.api_keys (org_id, workspace_id) where workspace_id is not null;

-- Webhook events for key changes (api_key.created, .rotated, .revoked).
create trigger api_keys_webhook_events
  after insert or update of revoked_at, replaced_by on public.api_keys
  for each row execute function private.emit_change_events();

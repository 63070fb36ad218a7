-- One table, three levels: a row with neither plan nor org is a platform default
-- (callers with no organization, e.g. anonymous IPs); with a plan, that plan's
-- default; with an org, an override for it; with an org and an API key, an
-- override for that key. Overrides are set by Meridian's operators (service
-- role), never by tenants: a tenant narrows a key with api_keys.rate_limit_per_minute.
create table public.rate_limit_policies (
  id uuid primary key default gen_random_uuid(),
  plan public.org_plan,
  org_id uuid references public.organizations (id) on delete cascade,
  api_key_id uuid,
  scope public.rate_limit_scope not null,
  endpoint text not null default '*'
    constraint rate_limit_policies_endpoint_format check (endpoint ~ '^(\*|[a-z0-9][a-z0-9-]*)$'),
  request_limit int not null constraint rate_limit_policies_limit_check check (request_limit > 0),
  window_ms int not null
    constraint rate_limit_policies_window_check check (window_ms between 1000 and 86400000),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint rate_limit_policies_level_check check (plan is null or org_id is null),
  constraint rate_limit_policies_key_needs_org check (api_key_id is null or org_id is not null),
  constraint rate_limit_policies_key_scope check (api_key_id is null or scope = 'api_key'),
  constraint rate_limit_policies_api_key_fkey foreign key (org_id, api_key_id)
    references public.api_keys (org_id, id) on delete cascade,
  constraint rate_limit_policies_unique unique nulls not distinct (plan, org_id, api_key_id, scope, endpoint)
);

comment on table public.rate_limit_policies is
  'Rate-limit policies: platform and plan defaults, per-org and per-key overrides (most specific wins).';

comment on column public.rate_limit_policies.scope is
  'What one bucket counts: the organization, the API key, the user, or the client IP.';

comment on column public.rate_limit_policies.endpoint is 'Function name (ingest, audit-export, ...) or * for all.';

create index rate_limit_policies_org_idx on public.rate_limit_policies (org_id) where org_id is not null;

create trigger rate_limit_policies_updated_at before update on public.rate_limit_policies
  for each row execute function private.set_updated_at();

revoke all on public.rate_limit_policies from anon, authenticated, service_role;

grant select on public.rate_limit_policies to authenticated;

grant select, insert, update, delete on public.rate_limit_policies to service_role;

alter table public.rate_limit_policies enable row level security;

create policy "Members read the defaults and their organization's overrides"
  on public.rate_limit_policies for select to authenticated
  using (org_id is null
         or org_id = any ((select private.org_ids_with_permission('org:read'))::uuid[]));

-- Overrides belong to an organization and are audited there; defaults are not.
create trigger rate_limit_policies_audit after insert or update on public.rate_limit_policies
  for each row when (new.org_id is not null)
  execute function private.audit_row_change('org_id', 'id', 'high');

create trigger rate_limit_policies_audit_delete after delete on public.rate_limit_policies
  for each row when (old.org_id is not null)
  execute function private.audit_row_change('org_id', 'id', 'high');

-- Each foreign key has an index that covers it: deleting or re-keying the row
-- it references finds the rows that point at it without a scan.
create index rate_limit_policies_api_key_idx on public.rate_limit_policies (org_id, api_key_id) where api_key_id is not null;

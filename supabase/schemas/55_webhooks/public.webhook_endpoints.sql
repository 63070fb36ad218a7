-- Where an organization's webhooks go, and which. The secret is not here: it
-- lives in private.webhook_endpoint_secrets, out of PostgREST's reach, and is
-- shown once by create_webhook_endpoint and rotate_webhook_secret. Written only
-- through those RPCs (webhooks:manage), read under RLS (webhooks:read).
create table public.webhook_endpoints (
  org_id uuid not null references public.organizations (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  url text not null constraint webhook_endpoints_url_format
    check (char_length(url) <= 2048 and url ~ '^https?://[^\s]+$'),
  description text constraint webhook_endpoints_description_length
    check (char_length(description) <= 500),
  -- Exact types, '*', or a prefix wildcard such as 'profile.*'.
  event_types text[] not null default '{*}' constraint webhook_endpoints_event_types_format
    check (cardinality(event_types) between 1 and 100
           and array_to_string(event_types, ',') ~ '^(\*|[a-z_]+(\.[a-z_]+)*(\.\*)?)(,(\*|[a-z_]+(\.[a-z_]+)*(\.\*)?))*$'),
  -- Only events whose data contains this object (jsonb @>) are sent.
  filter jsonb constraint webhook_endpoints_filter_object
    check (filter is null or (jsonb_typeof(filter) = 'object' and octet_length(filter::text) <= 4096)),
  enabled boolean not null default true,
  disabled_reason text,
  disabled_at timestamptz,
  timeout_ms int not null default 15000
    constraint webhook_endpoints_timeout_check check (timeout_ms between 1000 and 30000),
  max_attempts int not null default 8
    constraint webhook_endpoints_max_attempts_check check (max_attempts between 1 and 10),
  rate_limit_per_second int
    constraint webhook_endpoints_rate_limit_check check (rate_limit_per_second between 1 and 1000),
  -- Extra request headers; never the signature's own, nor hop-by-hop ones.
  headers jsonb not null default '{}' constraint webhook_endpoints_headers_valid
    check (private.webhook_headers_valid(headers)),
  -- How long a rotated-out secret keeps signing beside the new one.
  secret_rotation_grace interval not null default '24 hours'
    constraint webhook_endpoints_grace_check check (secret_rotation_grace between '0 seconds' and '7 days'),
  -- The start of the current unbroken run of failed attempts, if any: five
  -- days of it disable the endpoint.
  failing_since timestamptz,
  created_by uuid references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (org_id, id)
);

comment on table public.webhook_endpoints is
  'Customer endpoints that receive webhook events, with their filters and delivery settings; secrets are kept apart.';
comment on column public.webhook_endpoints.failing_since is
  'When the current run of failed attempts began (null when the last attempt succeeded); 5 days disable the endpoint.';

create trigger webhook_endpoints_set_updated_at before update on public.webhook_endpoints
  for each row execute function private.set_updated_at();

create index webhook_endpoints_created_by_idx on public.webhook_endpoints (created_by) where created_by is not null;

revoke all on public.webhook_endpoints from anon, authenticated, service_role;
grant select on public.webhook_endpoints to authenticated, service_role;

alter table public.webhook_endpoints enable row level security;

create policy "Webhook readers can read their organization's endpoints"
  on public.webhook_endpoints for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('webhooks:read'))::uuid[]));

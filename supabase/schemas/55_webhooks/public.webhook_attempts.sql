-- Every attempt to deliver, append-only, partitioned by month through the
-- time-partition registry (90 days, as deliveries are replayable): what the
-- receiver answered and how long it took, or why nothing was sent.
create table public.webhook_attempts (
  org_id uuid not null,
  attempted_at timestamptz not null default now(),
  id uuid not null default gen_random_uuid(),
  delivery_id uuid not null,
  endpoint_id uuid not null,
  attempt int not null,
  status_code int,
  duration_ms int,
  address inet,
  error_class text constraint webhook_attempts_error_class_check
    check (error_class in ('timeout', 'connection', 'tls', 'dns', 'ssrf_blocked', 'http_status', 'quota')),
  error text,
  -- The first 1 KB of the response body and the headers worth keeping.
  response_excerpt text constraint webhook_attempts_excerpt_length check (octet_length(response_excerpt) <= 1024),
  response_headers jsonb,
  primary key (org_id, attempted_at, id)
) partition by range (attempted_at);

comment on table public.webhook_attempts is
  'Append-only log of webhook delivery attempts: status, latency, address, error class and response excerpt.';

create index webhook_attempts_delivery_idx on public.webhook_attempts (org_id, delivery_id, attempted_at);
create index webhook_attempts_endpoint_idx on public.webhook_attempts (org_id, endpoint_id, attempted_at);

create trigger webhook_attempts_append_only
  before update or delete on public.webhook_attempts
  for each row execute function private.refuse_append_only_change();

revoke all on public.webhook_attempts from anon, authenticated, service_role;
grant select on public.webhook_attempts to authenticated, service_role;

alter table public.webhook_attempts enable row level security;

create policy "Webhook readers can read their organization's attempts"
  on public.webhook_attempts for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('webhooks:read'))::uuid[]));

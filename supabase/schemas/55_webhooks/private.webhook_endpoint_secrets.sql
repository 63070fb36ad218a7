-- The signing secrets of each endpoint: the current one, and the previous one
-- while its rotation grace lasts (both sign, so receivers can switch over).
-- The raw secret must be kept, since HMAC signing needs it; it never leaves
-- the database but to the dispatcher (service role).
create table private.webhook_endpoint_secrets (
  org_id uuid not null,
  endpoint_id uuid not null,
  secret text not null constraint webhook_endpoint_secrets_format check (secret ~ '^whsec_[A-Za-z0-9+/]+={0,2}$'),
  previous_secret text constraint webhook_endpoint_secrets_previous_format
    check (previous_secret ~ '^whsec_[A-Za-z0-9+/]+={0,2}$'),
  previous_valid_until timestamptz,
  rotated_at timestamptz,
  primary key (org_id, endpoint_id),
  foreign key (org_id, endpoint_id) references public.webhook_endpoints (org_id, id) on delete cascade
);

comment on table private.webhook_endpoint_secrets is
  'Signing secrets (whsec_...) per endpoint, and the previous one during its rotation grace. RLS on with no policy: only definer functions reach it.';

alter table private.webhook_endpoint_secrets enable row level security;
revoke all on private.webhook_endpoint_secrets from anon, authenticated, service_role;

-- OIDC client secrets, encrypted with the sso function's key
-- (MERIDIAN_SSO_ENCRYPTION_KEY): set and read only through that function, so
-- neither PostgREST nor a copy of the database yields them.
create table private.sso_connection_secrets (
  org_id uuid not null,
  connection_id uuid not null,
  client_secret_encrypted bytea not null,
  updated_at timestamptz not null default now(),
  primary key (org_id, connection_id),
  foreign key (org_id, connection_id) references public.sso_connections (org_id, id) on delete cascade
);

comment on table private.sso_connection_secrets is
  'Encrypted OIDC client secrets of SSO connections. RLS on with no policy: only definer functions reach it.';

alter table private.sso_connection_secrets enable row level security;
revoke all on private.sso_connection_secrets from anon, authenticated, service_role;

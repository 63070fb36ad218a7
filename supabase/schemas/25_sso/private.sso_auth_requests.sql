-- Sign-ins in flight between /sso/authorize and the IdP's callback: the
-- single-use state (for SAML, the AuthnRequest's ID, which the response's
-- InResponseTo names), the OIDC nonce and PKCE verifier of the IdP leg (none
-- for SAML), where to send the app back, and the app's own PKCE challenge. Taken (deleted) by the
-- callback; worthless after 10 minutes.
create table private.sso_auth_requests (
  state text primary key,
  org_id uuid not null,
  connection_id uuid not null,
  nonce text,
  code_verifier text,
  redirect_to text not null,
  app_code_challenge text not null,
  created_at timestamptz not null default now(),
  foreign key (org_id, connection_id) references public.sso_connections (org_id, id) on delete cascade
);

comment on table private.sso_auth_requests is
  'SSO sign-ins in flight (state, nonce, PKCE verifier, redirect), single use, 10 minutes. RLS on with no policy: only definer functions reach it.';

create index sso_auth_requests_connection_idx on private.sso_auth_requests (org_id, connection_id);

alter table private.sso_auth_requests enable row level security;
revoke all on private.sso_auth_requests from anon, authenticated, service_role;

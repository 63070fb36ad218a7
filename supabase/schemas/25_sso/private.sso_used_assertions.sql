-- Assertions and logout messages already accepted, by (issuer, id): a SAML
-- assertion ID, a LogoutRequest ID or an OIDC logout token's jti. Kept until
-- the message expires, so a captured one posted again is refused
-- (node-saml keeps no such record). Swept by private.sweep_sso_used_assertions.
create table private.sso_used_assertions (
  issuer text not null,
  assertion_id text not null,
  org_id uuid not null,
  connection_id uuid not null,
  expires_at timestamptz not null,
  primary key (issuer, assertion_id),
  foreign key (org_id, connection_id) references public.sso_connections (org_id, id) on delete cascade
);

comment on table private.sso_used_assertions is
  'SAML assertion IDs, logout request IDs and logout token jtis already accepted, until they expire (replay defence). RLS on with no policy: only definer functions reach it.';

create index sso_used_assertions_connection_idx on private.sso_used_assertions (org_id, connection_id);
create index sso_used_assertions_expires_idx on private.sso_used_assertions (expires_at);

alter table private.sso_used_assertions enable row level security;
revoke all on private.sso_used_assertions from anon, authenticated, service_role;

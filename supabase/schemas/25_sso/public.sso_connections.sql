-- An organization's enterprise identity providers: OIDC (an issuer found by
-- discovery, a client id; the client secret is kept encrypted apart, in
-- private.sso_connection_secrets) or SAML (the IdP's entity id, sign-in URL
-- and signing certificates, several at once for rotation). With each: the
-- email domains it may sign in, whether it provisions members on first
-- sign-in (JIT) and with which role, how IdP groups map to roles, whether an
-- MFA the IdP asserts counts as aal2, and where apps may be sent back after
-- sign-in. Managed with sso:manage through the RPCs; readable by sso:manage.
create table public.sso_connections (
  org_id uuid not null references public.organizations (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  protocol text not null constraint sso_connections_protocol_check check (protocol in ('oidc', 'saml')),
  name text not null constraint sso_connections_name_length check (char_length(btrim(name)) between 1 and 120),
  enabled boolean not null default true,
  -- https, or plain http on loopback for a provider on the developer's machine.
  oidc_issuer text constraint sso_connections_oidc_issuer_format
    check (oidc_issuer ~ '^(https://[^\s]+|http://(localhost|127\.0\.0\.1)(:[0-9]+)?(/[^\s]*)?)$'),
  oidc_client_id text constraint sso_connections_oidc_client_id_length check (char_length(oidc_client_id) between 1 and 255),
  saml_idp_entity_id text constraint sso_connections_saml_entity_length check (char_length(saml_idp_entity_id) between 1 and 1024),
  -- https, or plain http on loopback (an IdP on the developer's machine), as
  -- for OIDC issuers.
  saml_idp_sso_url text constraint sso_connections_saml_sso_url_format
    check (saml_idp_sso_url ~ '^(https://[^\s]+|http://(localhost|127\.0\.0\.1)(:[0-9]+)?(/[^\s]*)?)$'),
  saml_idp_certificates text[] not null default '{}'
    constraint sso_connections_saml_certificates_count check (cardinality(saml_idp_certificates) <= 5),
  allowed_email_domains text[] not null default '{}'
    constraint sso_connections_domains_format check (
      array_to_string(allowed_email_domains, ',') ~ '^([a-z0-9-]+(\.[a-z0-9-]+)+(,[a-z0-9-]+(\.[a-z0-9-]+)+)*)?$'),
  jit_provisioning boolean not null default false,
  -- Never owner: ownership is given by an owner, not by an identity provider.
  default_role public.org_role not null default 'member'
    constraint sso_connections_default_role_check check (default_role <> 'owner'),
  group_role_map jsonb not null default '{}' constraint sso_connections_group_role_map_valid
    check (private.sso_group_role_map_valid(group_role_map)),
  idp_mfa_counts boolean not null default false,
  allowed_redirect_urls text[] not null default '{}'
    constraint sso_connections_redirect_urls_format check (
      cardinality(allowed_redirect_urls) <= 20
      and array_to_string(allowed_redirect_urls, ' ') ~ '^((https://|http://(localhost|127\.0\.0\.1)(:[0-9]+)?/)[^\s]*( |$))*$'),
  allow_idp_initiated boolean not null default false,
  created_by uuid references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- Where single logout goes (HTTP-Redirect binding); none: signing out ends
  -- Meridian's session only.
  saml_idp_slo_url text constraint sso_connections_saml_slo_url_format
    check (saml_idp_slo_url ~ '^(https://[^\s]+|http://(localhost|127\.0\.0\.1)(:[0-9]+)?(/[^\s]*)?)$'),
  primary key (org_id, id),
  -- Each protocol's fields, and none of the other's, whoever writes the row
  -- (create_sso_connection, update_sso_connection, the metadata import).
  constraint sso_connections_protocol_fields check (
    (protocol = 'oidc' and oidc_issuer is not null and oidc_client_id is not null
     and saml_idp_entity_id is null and saml_idp_sso_url is null and saml_idp_slo_url is null
     and cardinality(saml_idp_certificates) = 0)
    or (protocol = 'saml' and saml_idp_entity_id is not null and saml_idp_sso_url is not null
        and cardinality(saml_idp_certificates) >= 1 and oidc_issuer is null and oidc_client_id is null))
);

comment on table public.sso_connections is
  'Per-organization OIDC and SAML identity providers, with domains, JIT provisioning, role mapping and redirect URLs; secrets kept apart.';
comment on column public.sso_connections.group_role_map is
  'IdP group name -> organization role for members it signs in or provisions (never owner).';

create index sso_connections_created_by_idx on public.sso_connections (created_by) where created_by is not null;

create trigger sso_connections_set_updated_at before update on public.sso_connections
  for each row execute function private.set_updated_at();

create trigger sso_connections_audit after insert or update or delete on public.sso_connections
  for each row execute function private.audit_row_change('org_id', 'id', 'high');

revoke all on public.sso_connections from anon, authenticated, service_role;
grant select on public.sso_connections to authenticated, service_role;

alter table public.sso_connections enable row level security;

create policy "SSO managers can read their organization's connections"
  on public.sso_connections for select to authenticated
  using (org_id = any ((select private.org_ids_with_permission('sso:manage'))::uuid[]));

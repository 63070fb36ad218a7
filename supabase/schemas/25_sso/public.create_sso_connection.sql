-- Creates an SSO connection (sso:manage). Fields of the other protocol must
-- be left out. An OIDC client secret is set afterwards through the sso
-- function (PUT /sso/connections/<id>/secret), which holds the encryption key.
create or replace function public.create_sso_connection(
  p_org_id uuid,
  p_protocol text,
  p_name text,
  p_oidc_issuer text default null,
  p_oidc_client_id text default null,
  p_saml_idp_entity_id text default null,
  p_saml_idp_sso_url text default null,
  p_saml_idp_certificates text[] default '{}',
  p_allowed_email_domains text[] default '{}',
  p_jit_provisioning boolean default false,
  p_default_role public.org_role default 'member',
  p_group_role_map jsonb default '{}',
  p_idp_mfa_counts boolean default false,
  p_allowed_redirect_urls text[] default '{}',
  p_allow_idp_initiated boolean default false,
  p_saml_idp_slo_url text default null
)
returns public.sso_connections
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_connection public.sso_connections;
begin
  perform private.require_permission(p_org_id, 'sso:manage');
  if p_protocol = 'oidc' and (p_saml_idp_entity_id is not null or p_saml_idp_sso_url is not null
                              or p_saml_idp_slo_url is not null
                              or cardinality(p_saml_idp_certificates) > 0) then
    raise exception 'an OIDC connection takes no SAML fields' using errcode = '22023', detail = 'field: protocol';
  end if;
  if p_protocol = 'saml' and (p_oidc_issuer is not null or p_oidc_client_id is not null) then
    raise exception 'a SAML connection takes no OIDC fields' using errcode = '22023', detail = 'field: protocol';
  end if;
  if exists (select 1 from unnest(p_saml_idp_certificates) c
             where c !~ '^-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----\s*$') then
    raise exception 'each certificate must be PEM (-----BEGIN CERTIFICATE-----)'
      using errcode = '22023', detail = 'field: saml_idp_certificates';
  end if;
  insert into public.sso_connections (org_id, protocol, name, oidc_issuer, oidc_client_id,
    saml_idp_entity_id, saml_idp_sso_url, saml_idp_certificates, allowed_email_domains,
    jit_provisioning, default_role, group_role_map, idp_mfa_counts, allowed_redirect_urls,
    allow_idp_initiated, created_by, saml_idp_slo_url)
  values (p_org_id, p_protocol, p_name, p_oidc_issuer, p_oidc_client_id, p_saml_idp_entity_id,
    p_saml_idp_sso_url, coalesce(p_saml_idp_certificates, '{}'),
    (select coalesce(array_agg(lower(d)), '{}') from unnest(p_allowed_email_domains) d),
    p_jit_provisioning, p_default_role, coalesce(p_group_role_map, '{}'), p_idp_mfa_counts,
    coalesce(p_allowed_redirect_urls, '{}'), p_allow_idp_initiated, auth.uid(), p_saml_idp_slo_url)
  returning * into v_connection;
  return v_connection;
end;
$$;

comment on function public.create_sso_connection(uuid, text, text, text, text, text, text, text[], text[], boolean, public.org_role, jsonb, boolean, text[], boolean, text) is
  'Creates an OIDC or SAML connection for the organization (sso:manage); audited by the table''s trigger.';

grant execute on function public.create_sso_connection(uuid, text, text, text, text, text, text, text[], text[], boolean, public.org_role, jsonb, boolean, text[], boolean, text)
  to authenticated, service_role;

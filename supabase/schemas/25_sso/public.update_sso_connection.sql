-- Changes an SSO connection (sso:manage): only the arguments given change.
-- Disabling one revokes the sessions it started.
create or replace function public.update_sso_connection(
  p_org_id uuid,
  p_connection_id uuid,
  p_name text default null,
  p_enabled boolean default null,
  p_oidc_issuer text default null,
  p_oidc_client_id text default null,
  p_saml_idp_entity_id text default null,
  p_saml_idp_sso_url text default null,
  p_saml_idp_certificates text[] default null,
  p_allowed_email_domains text[] default null,
  p_jit_provisioning boolean default null,
  p_default_role public.org_role default null,
  p_group_role_map jsonb default null,
  p_idp_mfa_counts boolean default null,
  p_allowed_redirect_urls text[] default null,
  p_allow_idp_initiated boolean default null,
  p_saml_idp_slo_url text default null
)
returns public.sso_connections
language plpgsql
security definer
set search_path = ''
as $$
declare
  v_after public.sso_connections;
begin
  perform private.require_permission(p_org_id, 'sso:manage');
  if exists (select 1 from unnest(p_saml_idp_certificates) c
             where c !~ '^-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----\s*$') then
    raise exception 'each certificate must be PEM (-----BEGIN CERTIFICATE-----)'
      using errcode = '22023', detail = 'field: saml_idp_certificates';
  end if;
  update public.sso_connections c set
    name = coalesce(p_name, c.name),
    enabled = coalesce(p_enabled, c.enabled),
    oidc_issuer = coalesce(p_oidc_issuer, c.oidc_issuer),
    oidc_client_id = coalesce(p_oidc_client_id, c.oidc_client_id),
    saml_idp_entity_id = coalesce(p_saml_idp_entity_id, c.saml_idp_entity_id),
    saml_idp_sso_url = coalesce(p_saml_idp_sso_url, c.saml_idp_sso_url),
    saml_idp_certificates = coalesce(p_saml_idp_certificates, c.saml_idp_certificates),
    allowed_email_domains = coalesce((select array_agg(lower(d)) from unnest(p_allowed_email_domains) d),
                                     case when p_allowed_email_domains is not null then '{}'::text[] end,
                                     c.allowed_email_domains),
    jit_provisioning = coalesce(p_jit_provisioning, c.jit_provisioning),
    default_role = coalesce(p_default_role, c.default_role),
    group_role_map = coalesce(p_group_role_map, c.group_role_map),
    idp_mfa_counts = coalesce(p_idp_mfa_counts, c.idp_mfa_counts),
    allowed_redirect_urls = coalesce(p_allowed_redirect_urls, c.allowed_redirect_urls),
    allow_idp_initiated = coalesce(p_allow_idp_initiated, c.allow_idp_initiated),
    saml_idp_slo_url = coalesce(p_saml_idp_slo_url, c.saml_idp_slo_url)
  where c.org_id = p_org_id and c.id = p_connection_id
  returning * into v_after;
  if v_after.id is null then
    raise exception 'SSO connection not found' using errcode = 'PT404', detail = 'field: connection_id';
  end if;
  if p_enabled = false then
    update public.sso_sessions s set revoked_at = now(), revoked_reason = 'connection disabled'
    where s.org_id = p_org_id and s.connection_id = p_connection_id and s.revoked_at is null;
  end if;
  return v_after;
end;
$$;

comment on function public.update_sso_connection(uuid, uuid, text, boolean, text, text, text, text, text[], text[], boolean, public.org_role, jsonb, boolean, text[], boolean, text) is
  'Changes an SSO connection (sso:manage); arguments left null keep their value; disabling revokes its sessions.';

grant execute on function public.update_sso_connection(uuid, uuid, text, boolean, text, text, text, text, text[], text[], boolean, public.org_role, jsonb, boolean, text[], boolean, text)
  to authenticated, service_role;

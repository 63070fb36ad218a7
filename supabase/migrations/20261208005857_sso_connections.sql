-- Enterprise sign-in, connections (issue 28): per-organization OIDC and SAML
-- identity providers with domains, JIT provisioning, role mapping and redirect
-- URLs, encrypted client secrets, and the sso:manage and scim:provision
-- permissions. Schema files: supabase/schemas/25_sso/*sso_connection*.

SET local check_function_bodies = off;

CREATE TABLE "private"."sso_connection_secrets" (
  "org_id"                  uuid                     NOT NULL,
  "connection_id"           uuid                     NOT NULL,
  "client_secret_encrypted" bytea                    NOT NULL,
  "updated_at"              timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT "sso_connection_secrets_pkey" PRIMARY KEY (org_id, connection_id)
);

ALTER TABLE "private"."sso_connection_secrets"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "public"."sso_connections" (
  "org_id"                uuid                     NOT NULL,
  "id"                    uuid                     NOT NULL DEFAULT gen_random_uuid(),
  "protocol"              text                     NOT NULL,
  "name"                  text                     NOT NULL,
  "enabled"               boolean                  NOT NULL DEFAULT true,
  "oidc_issuer"           text,
  "oidc_client_id"        text,
  "saml_idp_entity_id"    text,
  "saml_idp_sso_url"      text,
  "saml_idp_certificates" text[]                   NOT NULL DEFAULT '{}'::text[],
  "allowed_email_domains" text[]                   NOT NULL DEFAULT '{}'::text[],
  "jit_provisioning"      boolean                  NOT NULL DEFAULT false,
  "default_role"          public.org_role          NOT NULL DEFAULT 'member'::public.org_role,
  "group_role_map"        jsonb                    NOT NULL DEFAULT '{}'::jsonb,
  "idp_mfa_counts"        boolean                  NOT NULL DEFAULT false,
  "allowed_redirect_urls" text[]                   NOT NULL DEFAULT '{}'::text[],
  "allow_idp_initiated"   boolean                  NOT NULL DEFAULT false,
  "created_by"            uuid,
  "created_at"            timestamp with time zone NOT NULL DEFAULT now(),
  "updated_at"            timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT "sso_connections_default_role_check" CHECK ((default_role <> 'owner'::public.org_role)),
  CONSTRAINT "sso_connections_domains_format" CHECK ((array_to_string(allowed_email_domains, ','::text) ~ '^([a-z0-9-]+(\.[a-z0-9-]+)+(,[a-z0-9-]+(\.[a-z0-9-]+)+)*)?$'::text)),
  CONSTRAINT "sso_connections_name_length" CHECK (((char_length(btrim(name)) >= 1) AND (char_length(btrim(name)) <= 120))),
  CONSTRAINT "sso_connections_oidc_client_id_length" CHECK (((char_length(oidc_client_id) >= 1) AND (char_length(oidc_client_id) <= 255))),
  CONSTRAINT "sso_connections_oidc_issuer_format" CHECK ((oidc_issuer ~ '^https://[^\s]+$'::text)),
  CONSTRAINT "sso_connections_pkey" PRIMARY KEY (org_id, id),
  CONSTRAINT "sso_connections_protocol_check" CHECK ((protocol = ANY (ARRAY['oidc'::text, 'saml'::text]))),
  CONSTRAINT "sso_connections_protocol_fields" CHECK ((((protocol = 'oidc'::text) AND (oidc_issuer IS NOT NULL) AND (oidc_client_id IS
    NOT NULL)) OR ((protocol = 'saml'::text) AND (saml_idp_entity_id IS NOT NULL) AND (saml_idp_sso_url IS NOT NULL) AND (cardinality(saml_idp_certificates) >= 1)))),
  CONSTRAINT "sso_connections_redirect_urls_format"
    CHECK
    (((cardinality(allowed_redirect_urls) <= 20) AND (array_to_string(allowed_redirect_urls, ' '::text) ~
    '^((https://|http://(localhost|127\.0\.0\.1)(:[0-9]+)?/)[^\s]*( |$))*$'::text))),
  CONSTRAINT "sso_connections_saml_certificates_count" CHECK ((cardinality(saml_idp_certificates) <= 5)),
  CONSTRAINT "sso_connections_saml_entity_length" CHECK (((char_length(saml_idp_entity_id) >= 1) AND (char_length(saml_idp_entity_id) <= 1024))),
  CONSTRAINT "sso_connections_saml_sso_url_format" CHECK ((saml_idp_sso_url ~ '^https://[^\s]+$'::text))
);

ALTER TABLE "public"."sso_connections"
  ENABLE ROW LEVEL SECURITY;

REVOKE ALL ON TABLE "public"."sso_connections" FROM "anon";

CREATE OR REPLACE FUNCTION private.set_sso_client_secret (
  p_org_id        uuid,
  p_connection_id uuid,
  p_secret        text,
  p_key           text
)
  RETURNS void
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
begin
  perform private.require_permission(p_org_id, 'sso:manage');
  if not exists (select 1 from public.sso_connections c
                 where c.org_id = p_org_id and c.id = p_connection_id and c.protocol = 'oidc') then
    raise exception 'OIDC connection not found' using errcode = 'PT404', detail = 'field: connection_id';
  end if;
  if p_secret is null or char_length(p_secret) not between 8 and 512 then
    raise exception 'client_secret must be 8 to 512 characters' using errcode = '22023',
      detail = 'field: client_secret';
  end if;
  insert into private.sso_connection_secrets as s (org_id, connection_id, client_secret_encrypted)
  values (p_org_id, p_connection_id, extensions.pgp_sym_encrypt(p_secret, p_key))
  on conflict (org_id, connection_id) do update
    set client_secret_encrypted = excluded.client_secret_encrypted, updated_at = now();
  perform private.append_audit(p_org_id, 'sso_connection.secret_set', 'sso_connections',
    p_connection_id::text, null, null, 'high');
end;
$function$;

CREATE OR REPLACE FUNCTION private.sso_group_role_map_valid (
  p_map jsonb
)
  RETURNS boolean
  LANGUAGE sql
  IMMUTABLE
  SET search_path TO ''
  AS $function$
  select pg_catalog.jsonb_typeof(p_map) = 'object'
     and (select count(*) from pg_catalog.jsonb_object_keys(p_map)) <= 200
     and not exists (
       select 1 from pg_catalog.jsonb_each(p_map) e
       where pg_catalog.char_length(e.key) not between 1 and 255
          or pg_catalog.jsonb_typeof(e.value) <> 'string'
          or e.value #>> '{}' not in ('admin', 'manager', 'member', 'read_only'))
$function$;

CREATE OR REPLACE FUNCTION public.create_sso_connection (
  p_org_id                uuid,
  p_protocol              text,
  p_name                  text,
  p_oidc_issuer           text            DEFAULT NULL::text,
  p_oidc_client_id        text            DEFAULT NULL::text,
  p_saml_idp_entity_id    text            DEFAULT NULL::text,
  p_saml_idp_sso_url      text            DEFAULT NULL::text,
  p_saml_idp_certificates text[]          DEFAULT '{}'::text[],
  p_allowed_email_domains text[]          DEFAULT '{}'::text[],
  p_jit_provisioning      boolean         DEFAULT false,
  p_default_role          public.org_role DEFAULT 'member'::public.org_role,
  p_group_role_map        jsonb           DEFAULT '{}'::jsonb,
  p_idp_mfa_counts        boolean         DEFAULT false,
  p_allowed_redirect_urls text[]          DEFAULT '{}'::text[],
  p_allow_idp_initiated   boolean         DEFAULT false
)
  RETURNS public.sso_connections
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_connection public.sso_connections;
begin
  perform private.require_permission(p_org_id, 'sso:manage');
  if p_protocol = 'oidc' and (p_saml_idp_entity_id is not null or p_saml_idp_sso_url is not null
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
    allow_idp_initiated, created_by)
  values (p_org_id, p_protocol, p_name, p_oidc_issuer, p_oidc_client_id, p_saml_idp_entity_id,
    p_saml_idp_sso_url, coalesce(p_saml_idp_certificates, '{}'),
    (select coalesce(array_agg(lower(d)), '{}') from unnest(p_allowed_email_domains) d),
    p_jit_provisioning, p_default_role, coalesce(p_group_role_map, '{}'), p_idp_mfa_counts,
    coalesce(p_allowed_redirect_urls, '{}'), p_allow_idp_initiated, auth.uid())
  returning * into v_connection;
  return v_connection;
end;
$function$;

REVOKE ALL
  ON FUNCTION "public"."create_sso_connection"(uuid, text, text, text, text, text, text, text[], text[], boolean, public.org_role, jsonb, boolean, text[], boolean)
  FROM PUBLIC, "anon";

CREATE OR REPLACE FUNCTION public.delete_sso_connection (
  p_org_id        uuid,
  p_connection_id uuid
)
  RETURNS void
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_user uuid;
begin
  perform private.require_permission(p_org_id, 'sso:manage');
  delete from public.sso_connections c where c.org_id = p_org_id and c.id = p_connection_id;
  if not found then
    raise exception 'SSO connection not found' using errcode = 'PT404', detail = 'field: connection_id';
  end if;
  for v_user in
    select distinct s.user_id from public.sso_sessions s
    where s.org_id = p_org_id and s.connection_id = p_connection_id and s.revoked_at is null
  loop
    update public.sso_sessions s set revoked_at = now(), revoked_reason = 'connection deleted'
    where s.org_id = p_org_id and s.user_id = v_user and s.connection_id = p_connection_id
      and s.revoked_at is null;
  end loop;
end;
$function$;

REVOKE ALL ON FUNCTION "public"."delete_sso_connection"(uuid, uuid) FROM PUBLIC, "anon";

CREATE OR REPLACE FUNCTION public.update_sso_connection (
  p_org_id                uuid,
  p_connection_id         uuid,
  p_name                  text            DEFAULT NULL::text,
  p_enabled               boolean         DEFAULT NULL::boolean,
  p_oidc_issuer           text            DEFAULT NULL::text,
  p_oidc_client_id        text            DEFAULT NULL::text,
  p_saml_idp_entity_id    text            DEFAULT NULL::text,
  p_saml_idp_sso_url      text            DEFAULT NULL::text,
  p_saml_idp_certificates text[]          DEFAULT NULL::text[],
  p_allowed_email_domains text[]          DEFAULT NULL::text[],
  p_jit_provisioning      boolean         DEFAULT NULL::boolean,
  p_default_role          public.org_role DEFAULT NULL::public.org_role,
  p_group_role_map        jsonb           DEFAULT NULL::jsonb,
  p_idp_mfa_counts        boolean         DEFAULT NULL::boolean,
  p_allowed_redirect_urls text[]          DEFAULT NULL::text[],
  p_allow_idp_initiated   boolean         DEFAULT NULL::boolean
)
  RETURNS public.sso_connections
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_after public.sso_connections;
begin
  perform private.require_permission(p_org_id, 'sso:manage');
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
    allow_idp_initiated = coalesce(p_allow_idp_initiated, c.allow_idp_initiated)
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
$function$;

REVOKE ALL
  ON FUNCTION "public"."update_sso_connection"(uuid, uuid, text, boolean, text, text, text, text, text[], text[], boolean, public.org_role, jsonb, boolean, text[], boolean)
  FROM PUBLIC, "anon";

ALTER TABLE "public"."sso_connections"
  ADD CONSTRAINT "sso_connections_created_by_fkey" FOREIGN KEY (created_by) REFERENCES auth.users(id) ON DELETE SET NULL;

ALTER TABLE "public"."sso_connections"
  ADD CONSTRAINT "sso_connections_org_id_fkey" FOREIGN KEY (org_id) REFERENCES public.organizations(id) ON DELETE CASCADE;

ALTER TABLE "private"."sso_connection_secrets"
  ADD CONSTRAINT "sso_connection_secrets_org_id_connection_id_fkey" FOREIGN KEY (org_id, connection_id) REFERENCES public.sso_connections(org_id, id) ON DELETE CASCADE;

CREATE INDEX sso_connections_created_by_idx ON public.sso_connections USING btree (created_by)
  WHERE (created_by IS NOT NULL);

CREATE TRIGGER sso_connections_audit
  AFTER INSERT OR DELETE OR UPDATE ON public.sso_connections
  FOR EACH ROW
  EXECUTE FUNCTION private.audit_row_change('org_id', 'id', 'high');

CREATE TRIGGER sso_connections_set_updated_at
  BEFORE UPDATE ON public.sso_connections
  FOR EACH ROW
  EXECUTE FUNCTION private.set_updated_at();

CREATE POLICY "SSO managers can read their organization's connections" ON "public"."sso_connections"
  FOR SELECT
  TO "authenticated"
  USING ((org_id = ANY (( SELECT private.org_ids_with_permission('sso:manage'::text) AS org_ids_with_permission)::uuid[])));

COMMENT ON COLUMN "public"."sso_connections"."group_role_map" IS 'IdP group name -> organization role for members it signs in or provisions (never owner).';

COMMENT ON FUNCTION "private"."set_sso_client_secret"(uuid, uuid, text, text) IS 'Stores an OIDC client secret encrypted (caller needs sso:manage); audited.';

COMMENT ON FUNCTION "private"."sso_group_role_map_valid"(jsonb) IS 'Whether an IdP group -> role map is valid: string roles other than owner, 200 groups at most.';

COMMENT ON FUNCTION "public"."create_sso_connection"(uuid, text, text, text, text, text, text, text[], text[], boolean, public.org_role, jsonb, boolean, text[], boolean) IS
  'Creates an OIDC or SAML connection for the organization (sso:manage); audited by the table''s trigger.';

COMMENT ON FUNCTION "public"."delete_sso_connection"(uuid, uuid) IS 'Deletes an SSO connection (sso:manage) and revokes the sessions it started.';

COMMENT ON FUNCTION "public"."update_sso_connection"(uuid, uuid, text, boolean, text, text, text, text, text[], text[], boolean, public.org_role, jsonb, boolean, text[], boolean)
  IS 'Changes an SSO connection (sso:manage); arguments left null keep their value; disabling revokes its sessions.';

COMMENT ON TABLE "private"."sso_connection_secrets" IS 'Encrypted OIDC client secrets of SSO connections. RLS on with no policy: only definer functions reach it.';

COMMENT ON TABLE "public"."sso_connections" IS 'Per-organization OIDC and SAML identity providers, with domains, JIT provisioning, role mapping and redirect URLs; secrets kept apart.';

REVOKE ALL ON FUNCTION "private"."set_sso_client_secret"(uuid, uuid, text, text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "private"."set_sso_client_secret"(uuid, uuid, text, text) TO "authenticated";

REVOKE ALL ON FUNCTION "private"."set_sso_client_secret"(uuid, uuid, text, text) FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."set_sso_client_secret"(uuid, uuid, text, text) TO "postgres";

GRANT EXECUTE ON FUNCTION "private"."set_sso_client_secret"(uuid, uuid, text, text) TO "service_role";

REVOKE ALL ON FUNCTION "private"."sso_group_role_map_valid"(jsonb) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "private"."sso_group_role_map_valid"(jsonb) TO "authenticated";

REVOKE ALL ON FUNCTION "private"."sso_group_role_map_valid"(jsonb) FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."sso_group_role_map_valid"(jsonb) TO "postgres";

GRANT EXECUTE ON FUNCTION "private"."sso_group_role_map_valid"(jsonb) TO "service_role";

GRANT EXECUTE
  ON FUNCTION "public"."create_sso_connection"(uuid, text, text, text, text, text, text, text[], text[], boolean, public.org_role, jsonb, boolean, text[], boolean)
  TO "authenticated";

REVOKE ALL
  ON FUNCTION "public"."create_sso_connection"(uuid, text, text, text, text, text, text, text[], text[], boolean, public.org_role, jsonb, boolean, text[], boolean)
  FROM "postgres";

GRANT EXECUTE
  ON FUNCTION "public"."create_sso_connection"(uuid, text, text, text, text, text, text, text[], text[], boolean, public.org_role, jsonb, boolean, text[], boolean)
  TO "postgres";

GRANT EXECUTE
  ON FUNCTION "public"."create_sso_connection"(uuid, text, text, text, text, text, text, text[], text[], boolean, public.org_role, jsonb, boolean, text[], boolean)
  TO "service_role";

GRANT EXECUTE ON FUNCTION "public"."delete_sso_connection"(uuid, uuid) TO "authenticated";

REVOKE ALL ON FUNCTION "public"."delete_sso_connection"(uuid, uuid) FROM "postgres";

GRANT EXECUTE ON FUNCTION "public"."delete_sso_connection"(uuid, uuid) TO "postgres";

GRANT EXECUTE ON FUNCTION "public"."delete_sso_connection"(uuid, uuid) TO "service_role";

GRANT EXECUTE
  ON FUNCTION "public"."update_sso_connection"(uuid, uuid, text, boolean, text, text, text, text, text[], text[], boolean, public.org_role, jsonb, boolean, text[], boolean)
  TO "authenticated";

REVOKE ALL
  ON FUNCTION "public"."update_sso_connection"(uuid, uuid, text, boolean, text, text, text, text, text[], text[], boolean, public.org_role, jsonb, boolean, text[], boolean)
  FROM "postgres";

GRANT EXECUTE
  ON FUNCTION "public"."update_sso_connection"(uuid, uuid, text, boolean, text, text, text, text, text[], text[], boolean, public.org_role, jsonb, boolean, text[], boolean)
  TO "postgres";

GRANT EXECUTE
  ON FUNCTION "public"."update_sso_connection"(uuid, uuid, text, boolean, text, text, text, text, text[], text[], boolean, public.org_role, jsonb, boolean, text[], boolean)
  TO "service_role";

REVOKE ALL ON TABLE "public"."sso_connections" FROM "authenticated";

GRANT SELECT ON TABLE "public"."sso_connections" TO "authenticated";

REVOKE ALL ON TABLE "public"."sso_connections" FROM "postgres";

GRANT DELETE, INSERT, REFERENCES, SELECT, TRIGGER, TRUNCATE, UPDATE ON TABLE "public"."sso_connections" TO "postgres";

REVOKE ALL ON TABLE "public"."sso_connections" FROM "service_role";

GRANT SELECT ON TABLE "public"."sso_connections" TO "service_role";

ALTER TABLE "public"."sso_connections"
  ADD CONSTRAINT "sso_connections_group_role_map_valid" CHECK (private.sso_group_role_map_valid(group_role_map));

-- HAND-WRITTEN: the permission catalogue and role matrix, as 90_reference_data holds them.
-- The permission catalogue: every action a role can be granted. Each capability adds
-- its own keys here; role_permissions maps them to roles.
insert into public.permissions (key, description) values
  ('api_keys:manage', 'Create, rotate and revoke API keys'),
  ('audit:read', 'Search and export the audit log'),
  ('billing:manage', 'Change plan and billing'),
  ('campaigns:create', 'Create and edit campaigns'),
  ('campaigns:read', 'Read campaigns'),
  ('customers:export', 'Export profiles and events'),
  ('customers:read', 'Read profiles and events'),
  ('events:write', 'Send events (ingestion)'),
  ('experiments:manage', 'Create, start and stop experiments'),
  ('experiments:read', 'Read experiments'),
  ('members:manage', 'Invite, change roles of and deactivate members'),
  ('members:read', 'See members and their roles'),
  ('org:delete', 'Delete the organization'),
  ('org:read', 'See the organization, its workspaces and settings'),
  ('privacy:manage', 'Manage consent and data-subject requests'),
  ('segments:read', 'Read segments'),
  ('segments:write', 'Create and edit segments'),
  ('scim:provision', 'Provision members and groups through SCIM (API keys)'),
  ('settings:manage', 'Change organization and workspace settings'),
  ('sso:manage', 'Configure SSO connections, enforced SSO and MFA'),
  ('webhooks:manage', 'Create and change webhook endpoints'),
  ('webhooks:read', 'Read webhook endpoints and deliveries'),
  ('workspaces:manage', 'Create, rename and delete workspaces')
on conflict (key) do update set
  description = excluded.description;

-- The role matrix: which organization role holds which permission.
insert into public.role_permissions (role, permission) values
  ('owner', 'api_keys:manage'),
  ('owner', 'audit:read'),
  ('owner', 'billing:manage'),
  ('owner', 'campaigns:create'),
  ('owner', 'campaigns:read'),
  ('owner', 'customers:export'),
  ('owner', 'customers:read'),
  ('owner', 'events:write'),
  ('owner', 'experiments:manage'),
  ('owner', 'experiments:read'),
  ('owner', 'members:manage'),
  ('owner', 'members:read'),
  ('owner', 'org:delete'),
  ('owner', 'org:read'),
  ('owner', 'privacy:manage'),
  ('owner', 'segments:read'),
  ('owner', 'segments:write'),
  ('owner', 'settings:manage'),
  ('owner', 'scim:provision'),
  ('owner', 'sso:manage'),
  ('owner', 'webhooks:manage'),
  ('owner', 'webhooks:read'),
  ('owner', 'workspaces:manage'),
  ('admin', 'api_keys:manage'),
  ('admin', 'audit:read'),
  ('admin', 'campaigns:create'),
  ('admin', 'campaigns:read'),
  ('admin', 'customers:export'),
  ('admin', 'customers:read'),
  ('admin', 'events:write'),
  ('admin', 'experiments:manage'),
  ('admin', 'experiments:read'),
  ('admin', 'members:manage'),
  ('admin', 'members:read'),
  ('admin', 'org:read'),
  ('admin', 'privacy:manage'),
  ('admin', 'segments:read'),
  ('admin', 'segments:write'),
  ('admin', 'settings:manage'),
  ('admin', 'scim:provision'),
  ('admin', 'sso:manage'),
  ('admin', 'webhooks:manage'),
  ('admin', 'webhooks:read'),
  ('admin', 'workspaces:manage'),
  ('manager', 'campaigns:create'),
  ('manager', 'campaigns:read'),
  ('manager', 'customers:export'),
  ('manager', 'customers:read'),
  ('manager', 'events:write'),
  ('manager', 'experiments:manage'),
  ('manager', 'experiments:read'),
  ('manager', 'members:read'),
  ('manager', 'org:read'),
  ('manager', 'segments:read'),
  ('manager', 'segments:write'),
  ('manager', 'webhooks:read'),
  ('member', 'campaigns:create'),
  ('member', 'campaigns:read'),
  ('member', 'customers:read'),
  ('member', 'experiments:read'),
  ('member', 'members:read'),
  ('member', 'org:read'),
  ('member', 'segments:read'),
  ('member', 'segments:write'),
  ('member', 'webhooks:read'),
  ('read_only', 'campaigns:read'),
  ('read_only', 'customers:read'),
  ('read_only', 'experiments:read'),
  ('read_only', 'members:read'),
  ('read_only', 'org:read'),
  ('read_only', 'segments:read'),
  ('read_only', 'webhooks:read')
on conflict (role, permission) do nothing;

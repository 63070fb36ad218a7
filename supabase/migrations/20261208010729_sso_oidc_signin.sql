-- Enterprise sign-in, OIDC (issue 28): sign-ins in flight (single-use state,
-- nonce, PKCE), completion with verified email, domain check and just-in-time
-- provisioning, and the app's one-time code exchanged with PKCE for a session.
-- Schema files: supabase/schemas/25_sso/*sso_*signin*, *app_code*, *auth_requests*.

SET local check_function_bodies = off;

ALTER TABLE "public"."sso_connections"
  DROP CONSTRAINT "sso_connections_oidc_issuer_format";

CREATE TABLE "private"."sso_app_codes" (
  "code_hash"          bytea                    NOT NULL,
  "org_id"             uuid                     NOT NULL,
  "user_id"            uuid                     NOT NULL,
  "connection_id"      uuid                     NOT NULL,
  "amr"                jsonb                    NOT NULL,
  "aal"                text                     NOT NULL,
  "app_code_challenge" text                     NOT NULL,
  "created_at"         timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT "sso_app_codes_pkey" PRIMARY KEY (code_hash)
);

ALTER TABLE "private"."sso_app_codes"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "private"."sso_auth_requests" (
  "state"              text                     NOT NULL,
  "org_id"             uuid                     NOT NULL,
  "connection_id"      uuid                     NOT NULL,
  "nonce"              text                     NOT NULL,
  "code_verifier"      text                     NOT NULL,
  "redirect_to"        text                     NOT NULL,
  "app_code_challenge" text                     NOT NULL,
  "created_at"         timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT "sso_auth_requests_pkey" PRIMARY KEY (state)
);

ALTER TABLE "private"."sso_auth_requests"
  ENABLE ROW LEVEL SECURITY;

CREATE OR REPLACE FUNCTION private.sso_begin_signin (
  p_connection_id      uuid,
  p_redirect_to        text,
  p_app_code_challenge text,
  p_state              text,
  p_nonce              text,
  p_code_verifier      text,
  p_key                text
)
  RETURNS TABLE (
    org_id         uuid,
    protocol       text,
    oidc_issuer    text,
    oidc_client_id text,
    client_secret  text
  )
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_connection public.sso_connections;
begin
  select * into v_connection from public.sso_connections c where c.id = p_connection_id and c.enabled;
  if v_connection.id is null then
    raise exception 'SSO connection not found or disabled' using errcode = 'PT404', detail = 'field: connection_id';
  end if;
  if p_redirect_to is null or p_redirect_to <> all (v_connection.allowed_redirect_urls) then
    raise exception 'redirect_to is not one of the connection''s allowed URLs'
      using errcode = '22023', detail = 'field: redirect_to';
  end if;
  if p_app_code_challenge is null or p_app_code_challenge !~ '^[A-Za-z0-9_-]{43}$' then
    raise exception 'code_challenge must be an S256 PKCE challenge (43 base64url characters)'
      using errcode = '22023', detail = 'field: code_challenge';
  end if;
  delete from private.sso_auth_requests r where r.created_at < now() - interval '10 minutes';
  insert into private.sso_auth_requests (state, org_id, connection_id, nonce, code_verifier, redirect_to,
                                         app_code_challenge)
  values (p_state, v_connection.org_id, v_connection.id, p_nonce, p_code_verifier, p_redirect_to,
          p_app_code_challenge);
  return query
  select v_connection.org_id, v_connection.protocol, v_connection.oidc_issuer, v_connection.oidc_client_id,
         (select extensions.pgp_sym_decrypt(s.client_secret_encrypted, p_key)
          from private.sso_connection_secrets s
          where s.org_id = v_connection.org_id and s.connection_id = v_connection.id);
end;
$function$;

CREATE OR REPLACE FUNCTION private.sso_complete_signin (
  p_org_id             uuid,
  p_connection_id      uuid,
  p_email              text,
  p_email_verified     boolean,
  p_groups             text[],
  p_idp_mfa            boolean,
  p_app_code_challenge text
)
  RETURNS text
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_connection public.sso_connections;
  v_email text := lower(btrim(p_email));
  v_user_id uuid;
  v_member public.organization_members;
  v_role public.org_role;
  v_code text := private.new_refresh_token();
  v_aal text;
begin
  select * into v_connection from public.sso_connections c
  where c.org_id = p_org_id and c.id = p_connection_id and c.enabled;
  if v_connection.id is null then
    raise exception 'the SSO connection is disabled' using errcode = '42501';
  end if;
  if v_email is null or not coalesce(p_email_verified, false) then
    raise exception 'the identity provider did not assert a verified email' using errcode = '42501';
  end if;
  if cardinality(v_connection.allowed_email_domains) > 0
     and split_part(v_email, '@', 2) <> all (v_connection.allowed_email_domains) then
    raise exception 'the email''s domain is not allowed by this connection' using errcode = '42501';
  end if;

  select u.id into v_user_id from auth.users u where lower(u.email) = v_email limit 1;
  select * into v_member from public.organization_members m where m.org_id = p_org_id and m.user_id = v_user_id;
  if v_member.user_id is null then
    if not v_connection.jit_provisioning then
      raise exception 'not a member of the organization, and the connection does not provision members'
        using errcode = '42501';
    end if;
    if v_user_id is null then
      insert into auth.users (id, aud, role, email, email_confirmed_at, raw_app_meta_data, raw_user_meta_data,
                              is_sso_user)
      values (gen_random_uuid(), 'authenticated', 'authenticated', v_email, now(),
              jsonb_build_object('provider', 'sso', 'providers', jsonb_build_array('sso')), '{}', true)
      returning id into v_user_id;
    end if;
    select (v_connection.group_role_map ->> g)::public.org_role into v_role
    from unnest(coalesce(p_groups, '{}')) g
    where v_connection.group_role_map ? g
    order by array_position(array['admin', 'manager', 'member', 'read_only'], v_connection.group_role_map ->> g)
    limit 1;
    insert into public.organization_members (org_id, user_id, role, email)
    values (p_org_id, v_user_id, coalesce(v_role, v_connection.default_role), v_email);
  elsif v_member.status <> 'active' then
    raise exception 'the membership is not active' using errcode = '42501';
  end if;

  v_aal := case when p_idp_mfa and v_connection.idp_mfa_counts then 'aal2' else 'aal1' end;
  insert into private.sso_app_codes (code_hash, org_id, user_id, connection_id, amr, aal, app_code_challenge)
  values (extensions.digest(v_code, 'sha256'), p_org_id, v_user_id, p_connection_id,
          jsonb_build_array(jsonb_build_object('method', 'sso/' || v_connection.protocol,
            'timestamp', extract(epoch from now())::bigint, 'provider', p_connection_id)),
          v_aal, p_app_code_challenge);
  perform private.append_audit(p_org_id, 'sso.signed_in', 'sso_connections', p_connection_id::text, null,
    jsonb_build_object('email', v_email, 'aal', v_aal, 'provisioned', v_member.user_id is null), 'low', 'success',
    array['auth'], jsonb_build_object('type', 'user', 'user_id', v_user_id, 'email', v_email));
  return v_code;
end;
$function$;

CREATE OR REPLACE FUNCTION private.sso_redeem_app_code (
  p_code          text,
  p_code_verifier text
)
  RETURNS TABLE (
    session_id    uuid,
    org_id        uuid,
    user_id       uuid,
    connection_id uuid,
    aal           text,
    amr           jsonb,
    email         text,
    refresh_token text,
    error         text
  )
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_code private.sso_app_codes;
  v_started record;
begin
  delete from private.sso_app_codes c where c.code_hash = extensions.digest(coalesce(p_code, ''), 'sha256')
  returning * into v_code;
  if v_code.code_hash is null or v_code.created_at < now() - interval '60 seconds' then
    error := 'unknown, used or expired code';
    return next;
    return;
  end if;
  if translate(rtrim(encode(extensions.digest(coalesce(p_code_verifier, ''), 'sha256'), 'base64'), '='), '+/', '-_')
     <> v_code.app_code_challenge then
    error := 'code_verifier does not match the code_challenge';
    return next;
    return;
  end if;
  select * into v_started from private.start_sso_session(v_code.org_id, v_code.user_id, v_code.connection_id,
                                                         v_code.amr, v_code.aal);
  return query
  select v_started.session_id, v_code.org_id, v_code.user_id, v_code.connection_id, v_code.aal, v_code.amr,
         u.email::text, v_started.refresh_token, null::text
  from auth.users u where u.id = v_code.user_id;
end;
$function$;

CREATE OR REPLACE FUNCTION private.sso_take_signin (
  p_state text,
  p_key   text
)
  RETURNS TABLE (
    org_id             uuid,
    connection_id      uuid,
    nonce              text,
    code_verifier      text,
    redirect_to        text,
    app_code_challenge text,
    oidc_issuer        text,
    oidc_client_id     text,
    client_secret      text
  )
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_request private.sso_auth_requests;
begin
  delete from private.sso_auth_requests r where r.state = p_state returning * into v_request;
  if v_request.state is null or v_request.created_at < now() - interval '10 minutes' then
    raise exception 'unknown, used or expired sign-in state' using errcode = '28000', detail = 'field: state';
  end if;
  return query
  select v_request.org_id, v_request.connection_id, v_request.nonce, v_request.code_verifier,
         v_request.redirect_to, v_request.app_code_challenge, c.oidc_issuer, c.oidc_client_id,
         (select extensions.pgp_sym_decrypt(s.client_secret_encrypted, p_key)
          from private.sso_connection_secrets s where s.org_id = c.org_id and s.connection_id = c.id)
  from public.sso_connections c where c.org_id = v_request.org_id and c.id = v_request.connection_id;
end;
$function$;

ALTER TABLE "private"."sso_app_codes"
  ADD CONSTRAINT "sso_app_codes_org_id_connection_id_fkey" FOREIGN KEY (org_id, connection_id) REFERENCES public.sso_connections(org_id, id) ON DELETE CASCADE;

ALTER TABLE "private"."sso_app_codes"
  ADD CONSTRAINT "sso_app_codes_user_id_fkey" FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE;

ALTER TABLE "private"."sso_auth_requests"
  ADD CONSTRAINT "sso_auth_requests_org_id_connection_id_fkey" FOREIGN KEY (org_id, connection_id) REFERENCES public.sso_connections(org_id, id) ON DELETE CASCADE;

ALTER TABLE "public"."sso_connections"
  ADD CONSTRAINT "sso_connections_oidc_issuer_format" CHECK ((oidc_issuer ~ '^(https://[^\s]+|http://(localhost|127\.0\.0\.1)(:[0-9]+)?(/[^\s]*)?)$'::text));

CREATE INDEX sso_app_codes_connection_idx ON private.sso_app_codes USING btree (org_id, connection_id);

CREATE INDEX sso_app_codes_user_idx ON private.sso_app_codes USING btree (user_id);

CREATE INDEX sso_auth_requests_connection_idx ON private.sso_auth_requests USING btree (org_id, connection_id);

COMMENT ON FUNCTION "private"."sso_begin_signin"(uuid, text, text, text, text, text, text) IS 'Records an SSO sign-in in flight (state, nonce, PKCE) for an enabled connection and an allowed redirect; returns the IdP settings.';

COMMENT ON FUNCTION "private"."sso_complete_signin"(uuid, uuid, text, boolean, text[], boolean, text) IS 'Completes an SSO sign-in (verified email in an allowed domain, member or JIT-provisioned); returns a one-time code for the app.';

COMMENT ON FUNCTION "private"."sso_redeem_app_code"(text, text) IS 'Exchanges a one-time sign-in code with its PKCE verifier (once, 60 s) for a new SSO session.';

COMMENT ON FUNCTION "private"."sso_take_signin"(text, text) IS 'Takes an SSO sign-in request by its state, once and within 10 minutes, with its connection''s IdP settings.';

COMMENT ON TABLE "private"."sso_app_codes" IS 'SHA-256 of one-time sign-in codes for the app''s PKCE exchange, 60 seconds. RLS on with no policy: only definer functions reach it.';

COMMENT ON TABLE "private"."sso_auth_requests" IS 'SSO sign-ins in flight (state, nonce, PKCE verifier, redirect), single use, 10 minutes. RLS on with no policy: only definer functions reach it.';

REVOKE ALL ON FUNCTION "private"."sso_begin_signin"(uuid, text, text, text, text, text, text) FROM PUBLIC;

REVOKE ALL ON FUNCTION "private"."sso_begin_signin"(uuid, text, text, text, text, text, text) FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."sso_begin_signin"(uuid, text, text, text, text, text, text) TO "postgres";

GRANT EXECUTE ON FUNCTION "private"."sso_begin_signin"(uuid, text, text, text, text, text, text) TO "service_role";

REVOKE ALL ON FUNCTION "private"."sso_complete_signin"(uuid, uuid, text, boolean, text[], boolean, text) FROM PUBLIC;

REVOKE ALL ON FUNCTION "private"."sso_complete_signin"(uuid, uuid, text, boolean, text[], boolean, text) FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."sso_complete_signin"(uuid, uuid, text, boolean, text[], boolean, text) TO "postgres";

GRANT EXECUTE ON FUNCTION "private"."sso_complete_signin"(uuid, uuid, text, boolean, text[], boolean, text) TO "service_role";

REVOKE ALL ON FUNCTION "private"."sso_redeem_app_code"(text, text) FROM PUBLIC;

REVOKE ALL ON FUNCTION "private"."sso_redeem_app_code"(text, text) FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."sso_redeem_app_code"(text, text) TO "postgres";

GRANT EXECUTE ON FUNCTION "private"."sso_redeem_app_code"(text, text) TO "service_role";

REVOKE ALL ON FUNCTION "private"."sso_take_signin"(text, text) FROM PUBLIC;

REVOKE ALL ON FUNCTION "private"."sso_take_signin"(text, text) FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."sso_take_signin"(text, text) TO "postgres";

GRANT EXECUTE ON FUNCTION "private"."sso_take_signin"(text, text) TO "service_role";

-- Enterprise sign-in, first part (issue 28): the sessions Meridian issues for
-- SSO, with refresh-token rotation and reuse detection, revocation (by the user,
-- an admin, a reused token, a deactivated membership), and the RLS helpers
-- refusing revoked sessions and, where enforced, non-SSO sessions.
-- Schema files: supabase/schemas/25_sso, and the RLS helpers of 10_tenancy.

SET local check_function_bodies = off;

CREATE TABLE "private"."sso_refresh_tokens" (
  "token_hash"  bytea                    NOT NULL,
  "org_id"      uuid                     NOT NULL,
  "session_id"  uuid                     NOT NULL,
  "parent_hash" bytea,
  "created_at"  timestamp with time zone NOT NULL DEFAULT now(),
  "used_at"     timestamp with time zone,
  CONSTRAINT "sso_refresh_tokens_pkey" PRIMARY KEY (token_hash)
);

ALTER TABLE "private"."sso_refresh_tokens"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "public"."sso_sessions" (
  "org_id"         uuid                     NOT NULL,
  "id"             uuid                     NOT NULL DEFAULT gen_random_uuid(),
  "user_id"        uuid                     NOT NULL,
  "connection_id"  uuid                     NOT NULL,
  "aal"            text                     NOT NULL DEFAULT 'aal1'::text,
  "amr"            jsonb                    NOT NULL DEFAULT '[]'::jsonb,
  "ip"             inet,
  "user_agent"     text,
  "created_at"     timestamp with time zone NOT NULL DEFAULT now(),
  "refreshed_at"   timestamp with time zone,
  "expires_at"     timestamp with time zone NOT NULL,
  "revoked_at"     timestamp with time zone,
  "revoked_reason" text,
  CONSTRAINT "sso_sessions_aal_check" CHECK ((aal = ANY (ARRAY['aal1'::text, 'aal2'::text]))),
  CONSTRAINT "sso_sessions_amr_array" CHECK ((jsonb_typeof(amr) = 'array'::text)),
  CONSTRAINT "sso_sessions_pkey" PRIMARY KEY (org_id, id),
  CONSTRAINT "sso_sessions_user_agent_length" CHECK ((char_length(user_agent) <= 512))
);

ALTER TABLE "public"."sso_sessions"
  ENABLE ROW LEVEL SECURITY;

REVOKE ALL ON TABLE "public"."sso_sessions" FROM "anon";

CREATE OR REPLACE FUNCTION private.has_permission (
  p_org_id     uuid,
  p_permission text
)
  RETURNS boolean
  LANGUAGE plpgsql
  STABLE
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_uid uuid := auth.uid();
  v_key jsonb;
begin
  if v_uid is not null then
    return exists (
      select 1
      from public.organization_members m
      join public.organizations o on o.id = m.org_id
      join public.role_permissions rp on rp.role = m.role
      where m.org_id = p_org_id
        and m.user_id = v_uid
        and m.status = 'active'
        and rp.permission = p_permission
        and private.session_meets_org_policy(o.sso_enforced, o.mfa_required)
    );
  end if;
  v_key := private.api_key_principal();
  return v_key is not null
    and (v_key ->> 'org_id')::uuid = p_org_id
    and coalesce(v_key -> 'scopes', '[]'::jsonb) ? p_permission;
end;
$function$;

CREATE OR REPLACE FUNCTION private.new_refresh_token()
  RETURNS text
  LANGUAGE sql
  SET search_path TO ''
  AS $function$
  select pg_catalog.translate(pg_catalog.rtrim(pg_catalog.encode(extensions.gen_random_bytes(32), 'base64'), '='),
                              '+/', '-_')
$function$;

CREATE OR REPLACE FUNCTION private.org_ids_with_permission (
  p_permission text
)
  RETURNS uuid[]
  LANGUAGE sql
  STABLE
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  select coalesce(array_agg(m.org_id), '{}')
  from public.organization_members m
  join public.organizations o on o.id = m.org_id
  join public.role_permissions rp on rp.role = m.role
  where m.user_id = (select auth.uid())
    and m.status = 'active'
    and rp.permission = p_permission
    and private.session_meets_org_policy(o.sso_enforced, o.mfa_required)
$function$;

CREATE OR REPLACE FUNCTION private.refresh_sso_session (
  p_refresh_token  text,
  p_reuse_interval interval DEFAULT '00:00:10'::interval
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
  v_token private.sso_refresh_tokens;
  v_child private.sso_refresh_tokens;
  v_session public.sso_sessions;
  v_next text := private.new_refresh_token();
begin
  select * into v_token from private.sso_refresh_tokens t
  where t.token_hash = extensions.digest(coalesce(p_refresh_token, ''), 'sha256')
  for update;
  if v_token.token_hash is null then
    error := 'invalid refresh token';
    return next;
    return;
  end if;
  select * into v_session from public.sso_sessions s
  where s.org_id = v_token.org_id and s.id = v_token.session_id
  for update;
  if v_session.revoked_at is not null then
    error := format('the session was revoked (%s)', v_session.revoked_reason);
    return next;
    return;
  end if;
  if v_session.expires_at <= now() then
    error := 'the session has ended';
    return next;
    return;
  end if;
  if not exists (select 1 from public.organization_members m
                 where m.org_id = v_session.org_id and m.user_id = v_session.user_id and m.status = 'active') then
    perform private.revoke_sso_sessions(v_session.org_id, v_session.user_id, v_session.id, 'member not active');
    error := 'the member is not active in the organization';
    return next;
    return;
  end if;

  -- REUSE
  if v_token.used_at is not null then
    select * into v_child from private.sso_refresh_tokens c where c.parent_hash = v_token.token_hash;
    if v_token.used_at > now() - p_reuse_interval and v_child.used_at is null then
      delete from private.sso_refresh_tokens c where c.token_hash = v_child.token_hash;
    else
      perform private.revoke_sso_sessions(v_session.org_id, v_session.user_id, v_session.id,
                                          'refresh token reused');
      error := 'refresh token reused: the session is revoked';
      return next;
      return;
    end if;
  end if;

  -- ROTATE
  update private.sso_refresh_tokens t set used_at = coalesce(t.used_at, now())
  where t.token_hash = v_token.token_hash;
  insert into private.sso_refresh_tokens (token_hash, org_id, session_id, parent_hash)
  values (extensions.digest(v_next, 'sha256'), v_session.org_id, v_session.id, v_token.token_hash);
  update public.sso_sessions s set refreshed_at = now() where s.org_id = v_session.org_id and s.id = v_session.id;

  return query
  select v_session.id, v_session.org_id, v_session.user_id, v_session.connection_id, v_session.aal,
         v_session.amr, u.email::text, v_next, null::text
  from auth.users u where u.id = v_session.user_id;
end;
$function$;

CREATE OR REPLACE FUNCTION private.revoke_sessions_of_inactive_member()
  RETURNS TRIGGER
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
begin
  if tg_op = 'DELETE' then
    perform private.revoke_sso_sessions(old.org_id, old.user_id, null, 'member removed');
  elsif new.status <> 'active' and old.status = 'active' then
    perform private.revoke_sso_sessions(new.org_id, new.user_id, null, 'member deactivated');
  end if;
  return null;
end;
$function$;

CREATE OR REPLACE FUNCTION private.revoke_sso_sessions (
  p_org_id     uuid,
  p_user_id    uuid,
  p_session_id uuid,
  p_reason     text
)
  RETURNS integer
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_count int;
begin
  update public.sso_sessions s set revoked_at = now(), revoked_reason = p_reason
  where s.org_id = p_org_id and s.user_id = p_user_id
    and (p_session_id is null or s.id = p_session_id)
    and s.revoked_at is null;
  get diagnostics v_count = row_count;
  if v_count > 0 then
    perform private.append_audit(p_org_id, 'session.revoked', 'sso_sessions', p_session_id::text, null,
      jsonb_build_object('user_id', p_user_id, 'sessions', v_count, 'reason', p_reason),
      case when p_reason = 'refresh token reused' then 'high' else 'medium' end::public.audit_risk,
      'success', array['auth']);
  end if;
  return v_count;
end;
$function$;

CREATE OR REPLACE FUNCTION private.session_meets_org_policy (
  p_sso_enforced boolean,
  p_mfa_required boolean
)
  RETURNS boolean
  LANGUAGE sql
  STABLE
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  select (not p_mfa_required or coalesce(auth.jwt() ->> 'aal', 'aal1') = 'aal2')
     and (not p_sso_enforced or exists (
           select 1 from pg_catalog.jsonb_array_elements(
             case when pg_catalog.jsonb_typeof(auth.jwt() -> 'amr') = 'array' then auth.jwt() -> 'amr' else '[]' end) a
           where a ->> 'method' in ('sso/oidc', 'sso/saml')))
     and ((auth.jwt() -> 'app_metadata' ->> 'sso_connection_id') is null
          or exists (
            select 1 from public.sso_sessions s
            where s.org_id = (auth.jwt() -> 'app_metadata' ->> 'org_id')::uuid
              and s.id = (auth.jwt() ->> 'session_id')::uuid
              and s.revoked_at is null and s.expires_at > now()))
$function$;

CREATE OR REPLACE FUNCTION private.start_sso_session (
  p_org_id        uuid,
  p_user_id       uuid,
  p_connection_id uuid,
  p_amr           jsonb,
  p_aal           text     DEFAULT 'aal1'::text,
  p_ip            inet     DEFAULT NULL::inet,
  p_user_agent    text     DEFAULT NULL::text,
  p_lifetime      interval DEFAULT '30 days'::interval
)
  RETURNS TABLE (
    session_id    uuid,
    refresh_token text
  )
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_session public.sso_sessions;
  v_token text := private.new_refresh_token();
begin
  if not exists (select 1 from public.organization_members m
                 where m.org_id = p_org_id and m.user_id = p_user_id and m.status = 'active') then
    raise exception 'the user is not an active member of the organization'
      using errcode = '42501', detail = 'field: user_id';
  end if;
  insert into public.sso_sessions (org_id, user_id, connection_id, aal, amr, ip, user_agent, expires_at)
  values (p_org_id, p_user_id, p_connection_id, p_aal, coalesce(p_amr, '[]'), p_ip, left(p_user_agent, 512),
          now() + p_lifetime)
  returning * into v_session;
  insert into private.sso_refresh_tokens (token_hash, org_id, session_id)
  values (extensions.digest(v_token, 'sha256'), p_org_id, v_session.id);
  perform private.append_audit(p_org_id, 'session.started', 'sso_sessions', v_session.id::text, null,
    jsonb_build_object('connection_id', p_connection_id, 'aal', p_aal, 'amr', p_amr), 'low', 'success',
    array['auth'], jsonb_build_object('type', 'user', 'user_id', p_user_id));
  session_id := v_session.id;
  refresh_token := v_token;
  return next;
end;
$function$;

CREATE OR REPLACE FUNCTION public.revoke_sso_session (
  p_org_id     uuid,
  p_session_id uuid
)
  RETURNS void
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_session public.sso_sessions;
begin
  perform private.require_user();
  select * into v_session from public.sso_sessions s where s.org_id = p_org_id and s.id = p_session_id;
  if v_session.id is null
     or (v_session.user_id <> auth.uid() and not private.has_permission(p_org_id, 'members:manage')) then
    raise exception 'session not found' using errcode = 'PT404', detail = 'field: session_id';
  end if;
  perform private.revoke_sso_sessions(p_org_id, v_session.user_id, p_session_id,
    case when v_session.user_id = auth.uid() then 'signed out' else 'revoked by an admin' end);
end;
$function$;

REVOKE ALL ON FUNCTION "public"."revoke_sso_session"(uuid, uuid) FROM PUBLIC, "anon";

ALTER TABLE "public"."sso_sessions"
  ADD CONSTRAINT "sso_sessions_org_id_fkey" FOREIGN KEY (org_id) REFERENCES public.organizations(id) ON DELETE CASCADE;

ALTER TABLE "private"."sso_refresh_tokens"
  ADD CONSTRAINT "sso_refresh_tokens_org_id_session_id_fkey" FOREIGN KEY (org_id, session_id) REFERENCES public.sso_sessions(org_id, id) ON DELETE CASCADE;

ALTER TABLE "public"."sso_sessions"
  ADD CONSTRAINT "sso_sessions_user_id_fkey" FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE;

CREATE INDEX sso_refresh_tokens_parent_idx ON private.sso_refresh_tokens USING btree (parent_hash)
  WHERE (parent_hash IS NOT NULL);

CREATE INDEX sso_refresh_tokens_session_idx ON private.sso_refresh_tokens USING btree (org_id, session_id);

CREATE INDEX sso_sessions_org_user_idx ON public.sso_sessions USING btree (org_id, user_id);

CREATE INDEX sso_sessions_user_idx ON public.sso_sessions USING btree (user_id, created_at DESC);

CREATE TRIGGER organization_members_revoke_sessions
  AFTER DELETE OR UPDATE OF status ON public.organization_members
  FOR EACH ROW
  EXECUTE FUNCTION private.revoke_sessions_of_inactive_member();

CREATE POLICY "Users and member admins can read sessions" ON "public"."sso_sessions"
  FOR SELECT
  TO "authenticated"
  USING (((user_id = ( SELECT auth.uid() AS uid)) OR (org_id = ANY (( SELECT private.org_ids_with_permission('members:manage'::text) AS org_ids_with_permission)::uuid[]))));

COMMENT ON FUNCTION "private"."new_refresh_token"() IS 'A new opaque refresh token (32 random bytes, base64url).';

COMMENT ON FUNCTION "private"."refresh_sso_session"(text, interval) IS 'Rotates an SSO refresh token; a reused one (past the reuse interval) revokes the whole session.';

COMMENT ON FUNCTION "private"."revoke_sessions_of_inactive_member"() IS 'Trigger: revokes a member''s SSO sessions when the membership is deactivated or removed.';

COMMENT ON FUNCTION "private"."revoke_sso_sessions"(uuid, uuid, uuid, text) IS 'Revokes one or all of a user''s SSO sessions in an organization, with a reason; audited.';

COMMENT ON FUNCTION "private"."session_meets_org_policy"(boolean, boolean) IS 'Whether the caller''s session meets an organization''s policy: aal2 when MFA is required, an SSO session when SSO is enforced, and a live Meridian session.';

COMMENT ON FUNCTION "private"."start_sso_session"(uuid, uuid, uuid, jsonb, text, inet, text, interval) IS 'Starts an SSO session for an active member and returns its first refresh token (once).';

COMMENT ON FUNCTION "public"."revoke_sso_session"(uuid, uuid) IS 'Revokes an SSO session: the user''s own, or any in the organization with members:manage.';

COMMENT ON TABLE "private"."sso_refresh_tokens" IS 'SHA-256 of SSO refresh tokens, single-use with rotation (parent_hash links the family). RLS on with no policy: only definer functions reach it.';

COMMENT ON TABLE "public"."sso_sessions" IS 'Enterprise sign-in sessions Meridian issues (their tokens carry session_id); revoked ones are refused by RLS at once.';

REVOKE ALL ON FUNCTION "private"."new_refresh_token"() FROM PUBLIC;

REVOKE ALL ON FUNCTION "private"."new_refresh_token"() FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."new_refresh_token"() TO "postgres";

REVOKE ALL ON FUNCTION "private"."refresh_sso_session"(text, interval) FROM PUBLIC;

REVOKE ALL ON FUNCTION "private"."refresh_sso_session"(text, interval) FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."refresh_sso_session"(text, interval) TO "postgres";

GRANT EXECUTE ON FUNCTION "private"."refresh_sso_session"(text, interval) TO "service_role";

REVOKE ALL ON FUNCTION "private"."revoke_sessions_of_inactive_member"() FROM PUBLIC;

REVOKE ALL ON FUNCTION "private"."revoke_sessions_of_inactive_member"() FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."revoke_sessions_of_inactive_member"() TO "postgres";

REVOKE ALL ON FUNCTION "private"."revoke_sso_sessions"(uuid, uuid, uuid, text) FROM PUBLIC;

REVOKE ALL ON FUNCTION "private"."revoke_sso_sessions"(uuid, uuid, uuid, text) FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."revoke_sso_sessions"(uuid, uuid, uuid, text) TO "postgres";

REVOKE ALL ON FUNCTION "private"."session_meets_org_policy"(boolean, boolean) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION "private"."session_meets_org_policy"(boolean, boolean) TO "authenticated";

REVOKE ALL ON FUNCTION "private"."session_meets_org_policy"(boolean, boolean) FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."session_meets_org_policy"(boolean, boolean) TO "postgres";

GRANT EXECUTE ON FUNCTION "private"."session_meets_org_policy"(boolean, boolean) TO "service_role";

REVOKE ALL ON FUNCTION "private"."start_sso_session"(uuid, uuid, uuid, jsonb, text, inet, text, interval) FROM PUBLIC;

REVOKE ALL ON FUNCTION "private"."start_sso_session"(uuid, uuid, uuid, jsonb, text, inet, text, interval) FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."start_sso_session"(uuid, uuid, uuid, jsonb, text, inet, text, interval) TO "postgres";

GRANT EXECUTE ON FUNCTION "private"."start_sso_session"(uuid, uuid, uuid, jsonb, text, inet, text, interval) TO "service_role";

GRANT EXECUTE ON FUNCTION "public"."revoke_sso_session"(uuid, uuid) TO "authenticated";

REVOKE ALL ON FUNCTION "public"."revoke_sso_session"(uuid, uuid) FROM "postgres";

GRANT EXECUTE ON FUNCTION "public"."revoke_sso_session"(uuid, uuid) TO "postgres";

GRANT EXECUTE ON FUNCTION "public"."revoke_sso_session"(uuid, uuid) TO "service_role";

REVOKE ALL ON TABLE "public"."sso_sessions" FROM "authenticated";

GRANT SELECT ON TABLE "public"."sso_sessions" TO "authenticated";

REVOKE ALL ON TABLE "public"."sso_sessions" FROM "postgres";

GRANT DELETE, INSERT, REFERENCES, SELECT, TRIGGER, TRUNCATE, UPDATE ON TABLE "public"."sso_sessions" TO "postgres";

REVOKE ALL ON TABLE "public"."sso_sessions" FROM "service_role";

GRANT SELECT ON TABLE "public"."sso_sessions" TO "service_role";

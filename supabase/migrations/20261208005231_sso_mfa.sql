-- Enterprise sign-in, MFA (issue 28): TOTP factors kept encrypted, single-use
-- steps and recovery codes, aal2 sessions, a lockout after 5 failures in 15
-- minutes (and per address, and 100 in all), an admin's unlock.
-- Schema files: supabase/schemas/25_sso/*mfa*, public.unlock_mfa.

SET local check_function_bodies = off;

CREATE TABLE "private"."mfa_failures" (
  "id"        bigint                   GENERATED ALWAYS AS IDENTITY NOT NULL,
  "user_id"   uuid                     NOT NULL,
  "factor"    text                     NOT NULL,
  "ip"        inet,
  "failed_at" timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT "mfa_failures_factor_check" CHECK ((factor = ANY (ARRAY['totp'::text, 'recovery'::text]))),
  CONSTRAINT "mfa_failures_pkey" PRIMARY KEY (id)
);

ALTER TABLE "private"."mfa_failures"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "private"."mfa_recovery_codes" (
  "user_id"    uuid                     NOT NULL,
  "code_hash"  bytea                    NOT NULL,
  "used_at"    timestamp with time zone,
  "created_at" timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT "mfa_recovery_codes_pkey" PRIMARY KEY (user_id, code_hash)
);

ALTER TABLE "private"."mfa_recovery_codes"
  ENABLE ROW LEVEL SECURITY;

CREATE TABLE "private"."mfa_totp_factors" (
  "user_id"          uuid                     NOT NULL,
  "secret_encrypted" bytea                    NOT NULL,
  "verified_at"      timestamp with time zone,
  "last_used_step"   bigint,
  "created_at"       timestamp with time zone NOT NULL DEFAULT now(),
  CONSTRAINT "mfa_totp_factors_pkey" PRIMARY KEY (user_id)
);

ALTER TABLE "private"."mfa_totp_factors"
  ENABLE ROW LEVEL SECURITY;

CREATE OR REPLACE FUNCTION private.mfa_attempt (
  p_org_id        uuid,
  p_session_id    uuid,
  p_factor        text,
  p_totp_step     bigint DEFAULT NULL::bigint,
  p_recovery_code text   DEFAULT NULL::text,
  p_ip            inet   DEFAULT NULL::inet
)
  RETURNS text
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_session public.sso_sessions;
  v_locked timestamptz;
  v_ok boolean := false;
begin
  select * into v_session from public.sso_sessions s
  where s.org_id = p_org_id and s.id = p_session_id and s.revoked_at is null and s.expires_at > now()
  for update;
  if v_session.id is null then
    return 'invalid';
  end if;
  v_locked := private.mfa_lock_state(v_session.user_id, p_factor, p_ip);
  if v_locked is not null then
    return 'locked:' || v_locked;
  end if;

  if p_factor = 'totp' and p_totp_step is not null then
    update private.mfa_totp_factors f
    set last_used_step = p_totp_step, verified_at = coalesce(f.verified_at, now())
    where f.user_id = v_session.user_id and coalesce(f.last_used_step, -1) < p_totp_step;
    if not found and exists (select 1 from private.mfa_totp_factors f
                             where f.user_id = v_session.user_id and f.last_used_step >= p_totp_step) then
      return 'replayed';
    end if;
    v_ok := found;
  elsif p_factor = 'recovery' then
    update private.mfa_recovery_codes c set used_at = now()
    where c.user_id = v_session.user_id and c.used_at is null
      and c.code_hash = extensions.digest(upper(replace(coalesce(p_recovery_code, ''), '-', '')), 'sha256');
    v_ok := found;
  end if;

  if not v_ok then
    insert into private.mfa_failures (user_id, factor, ip) values (v_session.user_id, p_factor, p_ip);
    v_locked := private.mfa_lock_state(v_session.user_id, p_factor, p_ip);
    if v_locked is not null then
      perform private.append_audit(p_org_id, 'mfa.locked', 'sso_sessions', p_session_id::text, null,
        jsonb_build_object('factor', p_factor, 'until', v_locked), 'high', 'failure', array['auth'],
        jsonb_build_object('type', 'user', 'user_id', v_session.user_id));
    end if;
    return 'invalid';
  end if;

  delete from private.mfa_failures f where f.user_id = v_session.user_id;
  update public.sso_sessions s
  set aal = 'aal2',
      amr = s.amr || jsonb_build_array(jsonb_build_object(
        'method', p_factor, 'timestamp', extract(epoch from now())::bigint))
  where s.org_id = p_org_id and s.id = p_session_id;
  perform private.append_audit(p_org_id, 'mfa.verified', 'sso_sessions', p_session_id::text, null,
    jsonb_build_object('factor', p_factor), 'low', 'success', array['auth'],
    jsonb_build_object('type', 'user', 'user_id', v_session.user_id));
  return 'ok';
end;
$function$;

CREATE OR REPLACE FUNCTION private.mfa_enroll_totp (
  p_user_id uuid,
  p_secret  text,
  p_key     text,
  p_aal     text
)
  RETURNS void
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
begin
  if p_aal <> 'aal2' and exists (select 1 from private.mfa_totp_factors f
                                 where f.user_id = p_user_id and f.verified_at is not null) then
    raise exception 'changing a verified factor needs an aal2 session' using errcode = '42501';
  end if;
  insert into private.mfa_totp_factors as f (user_id, secret_encrypted)
  values (p_user_id, extensions.pgp_sym_encrypt(p_secret, p_key))
  on conflict (user_id) do update
    set secret_encrypted = excluded.secret_encrypted, verified_at = null, last_used_step = null,
        created_at = now();
end;
$function$;

CREATE OR REPLACE FUNCTION private.mfa_lock_state (
  p_user_id uuid,
  p_factor  text,
  p_ip      inet
)
  RETURNS timestamp WITH time zone
  LANGUAGE sql
  STABLE
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  select case when l.until > now() then l.until end
  from (
    select greatest(
      (select case when count(*) >= 5 then m.last_at + interval '30 minutes' end
       from private.mfa_failures f,
            (select max(g.failed_at) as last_at from private.mfa_failures g
             where g.user_id = p_user_id and g.factor = p_factor) m
       where f.user_id = p_user_id and f.factor = p_factor
         and f.failed_at > m.last_at - interval '15 minutes'
       group by m.last_at),
      (select case when count(*) >= 20 then max(f.failed_at) + interval '30 minutes' end
       from private.mfa_failures f
       where p_ip is not null and f.ip = p_ip and f.failed_at > now() - interval '15 minutes'),
      (select case when count(*) >= 100 then 'infinity'::timestamptz end
       from private.mfa_failures f where f.user_id = p_user_id)
    ) as until
  ) l
$function$;

CREATE OR REPLACE FUNCTION private.mfa_regenerate_recovery_codes (
  p_user_id uuid,
  p_aal     text
)
  RETURNS SETOF text
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
declare
  v_code text;
  v_alphabet constant text := 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  v_bytes bytea;
begin
  if p_aal <> 'aal2' then
    raise exception 'regenerating recovery codes needs an aal2 session' using errcode = '42501';
  end if;
  delete from private.mfa_recovery_codes c where c.user_id = p_user_id;
  for i in 1 .. 10 loop
    v_bytes := extensions.gen_random_bytes(12);
    v_code := '';
    for j in 0 .. 11 loop
      v_code := v_code || substr(v_alphabet, (get_byte(v_bytes, j) % 32) + 1, 1);
    end loop;
    insert into private.mfa_recovery_codes (user_id, code_hash)
    values (p_user_id, extensions.digest(v_code, 'sha256'));
    return next substr(v_code, 1, 4) || '-' || substr(v_code, 5, 4) || '-' || substr(v_code, 9, 4);
  end loop;
end;
$function$;

CREATE OR REPLACE FUNCTION private.mfa_totp_secret (
  p_user_id uuid,
  p_key     text
)
  RETURNS text
  LANGUAGE sql
  STABLE
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
  select extensions.pgp_sym_decrypt(f.secret_encrypted, p_key)
  from private.mfa_totp_factors f where f.user_id = p_user_id
$function$;

CREATE OR REPLACE FUNCTION public.unlock_mfa (
  p_org_id  uuid,
  p_user_id uuid
)
  RETURNS void
  LANGUAGE plpgsql
  SECURITY DEFINER
  SET search_path TO ''
  AS $function$
begin
  perform private.require_permission(p_org_id, 'members:manage');
  if not exists (select 1 from public.organization_members m
                 where m.org_id = p_org_id and m.user_id = p_user_id) then
    raise exception 'member not found' using errcode = 'PT404', detail = 'field: user_id';
  end if;
  delete from private.mfa_failures f where f.user_id = p_user_id;
  perform private.append_audit(p_org_id, 'mfa.unlocked', 'organization_members', p_user_id::text,
    null, null, 'high');
end;
$function$;

REVOKE ALL ON FUNCTION "public"."unlock_mfa"(uuid, uuid) FROM PUBLIC, "anon";

ALTER TABLE "private"."mfa_failures"
  ADD CONSTRAINT "mfa_failures_user_id_fkey" FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE;

ALTER TABLE "private"."mfa_recovery_codes"
  ADD CONSTRAINT "mfa_recovery_codes_user_id_fkey" FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE;

ALTER TABLE "private"."mfa_totp_factors"
  ADD CONSTRAINT "mfa_totp_factors_user_id_fkey" FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE;

CREATE INDEX mfa_failures_ip_idx ON private.mfa_failures USING btree (ip, failed_at)
  WHERE (ip IS NOT NULL);

CREATE INDEX mfa_failures_user_idx ON private.mfa_failures USING btree (user_id, factor, failed_at);

COMMENT ON FUNCTION "private"."mfa_attempt"(uuid, uuid, text, bigint, text, inet) IS 'Records an MFA attempt (TOTP step or recovery code) for a session: ok raises it to aal2; failures count toward the lockout.';

COMMENT ON FUNCTION "private"."mfa_enroll_totp"(uuid, text, text, text) IS 'Stores a user''s new TOTP secret, encrypted; replacing a verified one needs aal2.';

COMMENT ON FUNCTION "private"."mfa_lock_state"(uuid, text, inet) IS 'Until when a user''s MFA factor is locked (null when not): 5 failures in 15 min lock it 30 min; 20 from one address lock the address; 100 in all until an admin unlocks.';

COMMENT ON FUNCTION "private"."mfa_regenerate_recovery_codes"(uuid, text) IS 'Ten new single-use recovery codes (60 bits each), returned once; the old ones dropped; needs aal2.';

COMMENT ON FUNCTION "private"."mfa_totp_secret"(uuid, text) IS 'A user''s TOTP secret, decrypted for checking a code; null without a factor.';

COMMENT ON FUNCTION "public"."unlock_mfa"(uuid, uuid) IS 'Clears a member''s MFA failures, ending a lockout (members:manage); audited.';

COMMENT ON TABLE "private"."mfa_failures" IS 'Failed MFA attempts per user and address, for the lockout. RLS on with no policy: only definer functions reach it.';

COMMENT ON TABLE "private"."mfa_recovery_codes" IS 'SHA-256 of users'' MFA recovery codes, single use. RLS on with no policy: only definer functions reach it.';

COMMENT ON TABLE "private"."mfa_totp_factors" IS 'Users'' TOTP factors (secret encrypted at rest; last used step refuses replays). RLS on with no policy: only definer functions reach it.';

REVOKE ALL ON FUNCTION "private"."mfa_attempt"(uuid, uuid, text, bigint, text, inet) FROM PUBLIC;

REVOKE ALL ON FUNCTION "private"."mfa_attempt"(uuid, uuid, text, bigint, text, inet) FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."mfa_attempt"(uuid, uuid, text, bigint, text, inet) TO "postgres";

GRANT EXECUTE ON FUNCTION "private"."mfa_attempt"(uuid, uuid, text, bigint, text, inet) TO "service_role";

REVOKE ALL ON FUNCTION "private"."mfa_enroll_totp"(uuid, text, text, text) FROM PUBLIC;

REVOKE ALL ON FUNCTION "private"."mfa_enroll_totp"(uuid, text, text, text) FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."mfa_enroll_totp"(uuid, text, text, text) TO "postgres";

GRANT EXECUTE ON FUNCTION "private"."mfa_enroll_totp"(uuid, text, text, text) TO "service_role";

REVOKE ALL ON FUNCTION "private"."mfa_lock_state"(uuid, text, inet) FROM PUBLIC;

REVOKE ALL ON FUNCTION "private"."mfa_lock_state"(uuid, text, inet) FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."mfa_lock_state"(uuid, text, inet) TO "postgres";

REVOKE ALL ON FUNCTION "private"."mfa_regenerate_recovery_codes"(uuid, text) FROM PUBLIC;

REVOKE ALL ON FUNCTION "private"."mfa_regenerate_recovery_codes"(uuid, text) FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."mfa_regenerate_recovery_codes"(uuid, text) TO "postgres";

GRANT EXECUTE ON FUNCTION "private"."mfa_regenerate_recovery_codes"(uuid, text) TO "service_role";

REVOKE ALL ON FUNCTION "private"."mfa_totp_secret"(uuid, text) FROM PUBLIC;

REVOKE ALL ON FUNCTION "private"."mfa_totp_secret"(uuid, text) FROM "postgres";

GRANT EXECUTE ON FUNCTION "private"."mfa_totp_secret"(uuid, text) TO "postgres";

GRANT EXECUTE ON FUNCTION "private"."mfa_totp_secret"(uuid, text) TO "service_role";

GRANT EXECUTE ON FUNCTION "public"."unlock_mfa"(uuid, uuid) TO "authenticated";

REVOKE ALL ON FUNCTION "public"."unlock_mfa"(uuid, uuid) FROM "postgres";

GRANT EXECUTE ON FUNCTION "public"."unlock_mfa"(uuid, uuid) TO "postgres";

GRANT EXECUTE ON FUNCTION "public"."unlock_mfa"(uuid, uuid) TO "service_role";

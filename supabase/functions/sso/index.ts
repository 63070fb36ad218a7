// /functions/v1/sso: enterprise sign-in (issue 28), Meridian's own sessions.
//   GET    /sso/authorize?connection_id=|domain=&redirect_to=&code_challenge=
//                              (PKCE S256, as Supabase Auth's): to the IdP
//   GET    /sso/oidc/callback  the OIDC IdP's answer: back to redirect_to?code=
//   POST   /sso/saml/acs/<id>  the SAML IdP's response (SP- or IdP-initiated)
//   GET    /sso/saml/metadata/<id>   the SP's metadata for the IdP
//   GET|POST /sso/saml/slo/<id>     the IdP's LogoutRequest or LogoutResponse
//   POST   /sso/oidc/backchannel-logout/<id>  the IdP's logout token
//   POST   /sso/token          grant_type=authorization_code (code,
//                              code_verifier) or refresh_token: tokens
//   GET    /sso/sessions       the caller's sessions (their session's token)
//   DELETE /sso/sessions/<id>  revoke one (own; admins use revoke_sso_session)
//   POST   /sso/logout         revoke the caller's session; answers the IdP's
//                              logout URL (SAML SLO, OIDC end session)
//   POST   /sso/mfa/totp/enroll     {secret, otpauth_url}; a verified factor
//                                   is replaced only from an aal2 session
//   POST   /sso/mfa/totp/verify     {code}: aal2 tokens
//   POST   /sso/mfa/recovery/verify {code}: aal2 tokens, the code used up
//   POST   /sso/mfa/recovery-codes  ten new codes, shown once (aal2)
//   PUT    /sso/connections/<id>/secret  {org_id, client_secret}: an OIDC
//                                   connection's secret, kept encrypted (any
//                                   session with sso:manage; the connections
//                                   themselves are RPCs under RLS)
//   PUT    /sso/connections/<id>/saml-metadata  {org_id, metadata_xml |
//                                   metadata_url}: a SAML IdP's settings
//   POST   /sso/domains/verify      {org_id, domain}: the DNS TXT proof
// The rules (rotation, reuse detection, revocation, who may, domains) are in
// SQL: private.refresh_sso_session, private.revoke_sso_sessions,
// private.sso_complete_signin, private.revoke_idp_sessions.
import { z } from "zod";
import { HttpError, toErrorResponse } from "../_shared/errors.ts";
import { jsonResponse, preflight } from "../_shared/http.ts";
import {
  callerSession,
  db,
  encryptionKey,
  type SessionRow,
  tokenBody,
  tokenResponse,
} from "./common.ts";
import { importSamlMetadata, setClientSecret } from "./connection_routes.ts";
import { verifyDomain } from "./domain_routes.ts";
import { backchannelLogout, logout, samlSlo } from "./logout_routes.ts";
import { matchingStep, newTotp } from "./mfa.ts";
import {
  authorize,
  oidcCallback,
  samlAcs,
  samlMetadata,
} from "./signin_routes.ts";
import { readFields } from "../_shared/body.ts";

const CodeGrant = z.object({
  grant_type: z.literal("authorization_code"),
  code: z.string().min(20).max(200),
  code_verifier: z.string().min(43).max(128),
});

const RefreshGrant = z.object({
  grant_type: z.literal("refresh_token"),
  refresh_token: z.string().min(20).max(200),
});

async function token(req: Request): Promise<Response> {
  const body = await readFields(req);
  let row;
  if (body.grant_type === "authorization_code") {
    const grant = CodeGrant.safeParse(body);
    if (!grant.success) throw grant.error;
    [row] = await db()`
      select * from private.sso_redeem_app_code(${grant.data.code}, ${grant.data.code_verifier})`;
  } else {
    const grant = RefreshGrant.safeParse(body);
    if (!grant.success) throw grant.error;
    [row] = await db()`
      select * from private.refresh_sso_session(${grant.data.refresh_token})`;
  }
  if (row.error) {
    throw new HttpError(400, "invalid_grant", row.error, [
      {
        field: body.grant_type === "authorization_code"
          ? "code"
          : "refresh_token",
        rule: "live_refresh_token",
        message: row.error,
      },
    ]);
  }
  return await tokenResponse(row as unknown as SessionRow);
}

const CodeBody = z.object({ code: z.string().min(6).max(20) });

/**
 * An MFA attempt on the caller's session; on success, tokens at aal2 (the
 * session's refresh token is rotated from the one given, if any, or a new
 * access token alone).
 */
async function mfaVerify(req: Request, factor: "totp" | "recovery") {
  const me = await callerSession(req);
  const body = CodeBody.safeParse(await readFields(req, 2048));
  if (!body.success) throw body.error;
  let step: number | null = null;
  if (factor === "totp") {
    const [{ secret }] = await db()`
      select private.mfa_totp_secret(${me.userId}::uuid, ${encryptionKey()}) as secret`;
    if (!secret) {
      throw new HttpError(400, "no_factor", "No TOTP factor: enroll first");
    }
    step = matchingStep(secret, body.data.code);
  }
  const ip = me.ip;
  const [{ outcome }] = await db()`
    select private.mfa_attempt(${me.orgId}::uuid, ${me.sessionId}::uuid, ${factor},
      ${factor === "totp" ? step : null}::bigint,
      ${
    factor === "recovery" ? body.data.code : null
  }, ${ip}::inet) as outcome`;
  if (outcome.startsWith("locked:")) {
    throw new HttpError(
      429,
      "mfa_locked",
      `Too many failed attempts: this factor is locked until ${
        outcome.slice(7)
      }`,
      [{ field: "code", rule: "lockout", message: outcome.slice(7) }],
    );
  }
  if (outcome !== "ok") {
    throw new HttpError(
      400,
      "invalid_code",
      outcome === "replayed"
        ? "This code was used already"
        : "The code is not valid",
      [{ field: "code", rule: outcome, message: outcome }],
    );
  }
  const [s] = await db()`
    select s.org_id, s.id, s.user_id, s.connection_id, s.aal, s.amr, u.email
    from public.sso_sessions s join auth.users u on u.id = s.user_id
    where s.org_id = ${me.orgId}::uuid and s.id = ${me.sessionId}::uuid`;
  return jsonResponse({
    ...(await tokenBody({ ...s, session_id: s.id } as unknown as SessionRow)),
    aal: s.aal,
  });
}

Deno.serve(async (req) => {
  const cors = preflight(req);
  if (cors) return cors;
  try {
    const path = new URL(req.url).pathname.replace(/^\/sso/, "");
    if (path === "/token" && req.method === "POST") return await token(req);
    if (path === "/authorize" && req.method === "GET") {
      return await authorize(new URL(req.url));
    }
    if (path === "/oidc/callback" && req.method === "GET") {
      return await oidcCallback(new URL(req.url));
    }
    if (path === "/sessions" && req.method === "GET") {
      const me = await callerSession(req);
      const rows = await db()`
        select org_id, id, connection_id, aal, amr, ip, user_agent, created_at, refreshed_at,
               expires_at, revoked_at, revoked_reason, id = ${me.sessionId}::uuid as current
        from public.sso_sessions where user_id = ${me.userId}::uuid
        order by created_at desc limit 100`;
      return jsonResponse({ sessions: rows });
    }
    const one = path.match(/^\/sessions\/([0-9a-f-]{36})$/);
    if (one && req.method === "DELETE") {
      const me = await callerSession(req);
      const [row] = await db()`
        select org_id from public.sso_sessions
        where id = ${one[1]}::uuid and user_id = ${me.userId}::uuid`;
      if (!row) {
        throw new HttpError(404, "not_found", "No such session of yours");
      }
      await db()`select private.revoke_sso_sessions(${row.org_id}, ${me.userId}, ${
        one[1]
      }, 'signed out')`;
      return jsonResponse({ revoked: one[1] });
    }
    if (path === "/logout" && req.method === "POST") return await logout(req);
    const saml = path.match(/^\/saml\/(acs|metadata|slo)\/([^/]+)$/);
    if (saml?.[1] === "acs" && req.method === "POST") {
      return await samlAcs(req, saml[2]);
    }
    if (saml?.[1] === "metadata" && req.method === "GET") {
      return await samlMetadata(saml[2]);
    }
    if (
      saml?.[1] === "slo" && (req.method === "GET" || req.method === "POST")
    ) {
      return await samlSlo(req, saml[2]);
    }
    const backchannel = path.match(/^\/oidc\/backchannel-logout\/([^/]+)$/);
    if (backchannel && req.method === "POST") {
      return await backchannelLogout(req, backchannel[1]);
    }
    if (path === "/domains/verify" && req.method === "POST") {
      return await verifyDomain(req);
    }
    const connection = path.match(
      /^\/connections\/([0-9a-f-]{36})\/(secret|saml-metadata)$/,
    );
    if (connection?.[2] === "secret" && req.method === "PUT") {
      return await setClientSecret(req, connection[1]);
    }
    if (connection?.[2] === "saml-metadata" && req.method === "PUT") {
      return await importSamlMetadata(req, connection[1]);
    }
    if (path === "/mfa/totp/enroll" && req.method === "POST") {
      const me = await callerSession(req);
      const { secret, url } = newTotp(me.email || me.userId);
      await db()`select private.mfa_enroll_totp(${me.userId}::uuid, ${secret}, ${encryptionKey()}, ${me.aal})`;
      return jsonResponse({ secret, otpauth_url: url });
    }
    if (path === "/mfa/totp/verify" && req.method === "POST") {
      return await mfaVerify(req, "totp");
    }
    if (path === "/mfa/recovery/verify" && req.method === "POST") {
      return await mfaVerify(req, "recovery");
    }
    if (path === "/mfa/recovery-codes" && req.method === "POST") {
      const me = await callerSession(req);
      const rows = await db()`
        select private.mfa_regenerate_recovery_codes(${me.userId}::uuid, ${me.aal}) as code`;
      return jsonResponse({ codes: rows.map((r) => r.code) });
    }
    throw new HttpError(404, "not_found", `No route ${req.method} /sso${path}`);
  } catch (err) {
    return toErrorResponse(err);
  }
});

// /functions/v1/sso: Meridian's own sessions for enterprise sign-in (issue 28).
// Built so far: the session half, which every sign-in protocol ends in.
//   GET    /sso/authorize?connection_id=&redirect_to=&code_challenge=  (PKCE
//                              S256, as Supabase Auth's PKCE flow): to the IdP
//   GET    /sso/oidc/callback  the IdP's answer: back to redirect_to?code=...
//   POST   /sso/token          grant_type=authorization_code (code,
//                              code_verifier) or refresh_token: tokens
//   GET    /sso/sessions       the caller's sessions (their session's token)
//   DELETE /sso/sessions/<id>  revoke one (own; admins use revoke_sso_session)
//   POST   /sso/logout         revoke the caller's session
//   POST   /sso/mfa/totp/enroll     {secret, otpauth_url}; a verified factor
//                                   is replaced only from an aal2 session
//   POST   /sso/mfa/totp/verify     {code}: aal2 tokens
//   POST   /sso/mfa/recovery/verify {code}: aal2 tokens, the code used up
//   POST   /sso/mfa/recovery-codes  ten new codes, shown once (aal2)
//   PUT    /sso/connections/<id>/secret  {org_id, client_secret}: an OIDC
//                                   connection's secret, kept encrypted (any
//                                   session with sso:manage; the connections
//                                   themselves are RPCs under RLS)
// Not yet built (each answers 501 naming what is missing): SAML, single
// logout, back-channel logout.
// The rules (rotation, reuse detection, revocation, who may) are in SQL:
// private.refresh_sso_session, private.revoke_sso_sessions.
import { z } from "zod";
import { authenticate, withPrincipal } from "../_shared/auth.ts";
import { readLimitedText } from "../_shared/body.ts";
import { sql } from "../_shared/db.ts";
import { HttpError, toErrorResponse } from "../_shared/errors.ts";
import { jsonResponse, preflight } from "../_shared/http.ts";
import { matchingStep, newTotp } from "./mfa.ts";
import {
  authorizationUrl,
  completeCodeFlow,
  newSigninSecrets,
  oidcConfig,
} from "./oidc.ts";
import { accessToken } from "./tokens.ts";

const db = () => sql({ statementTimeoutMs: 10_000 });

const CodeGrant = z.object({
  grant_type: z.literal("authorization_code"),
  code: z.string().min(20).max(200),
  code_verifier: z.string().min(43).max(128),
});

const RefreshGrant = z.object({
  grant_type: z.literal("refresh_token"),
  refresh_token: z.string().min(20).max(200),
});

/**
 * A request's fields, as a form (OAuth's token requests) or a JSON object;
 * anything else is a 400 naming the body, never a parse error's 500.
 */
async function requestFields(
  req: Request,
  maxBytes = 8 * 1024,
): Promise<Record<string, unknown>> {
  const text = await readLimitedText(req, maxBytes);
  const type = req.headers.get("content-type") ?? "";
  if (type.includes("application/x-www-form-urlencoded")) {
    return Object.fromEntries(new URLSearchParams(text));
  }
  try {
    const value = JSON.parse(text || "{}");
    if (value && typeof value === "object" && !Array.isArray(value)) {
      return value;
    }
  } catch {
    // Not JSON: the same 400 as JSON that is no object, below.
  }
  throw new HttpError(
    400,
    "invalid_request",
    "The body must be a JSON object or a form",
    [
      { field: "(body)", rule: "json_object_or_form", message: "unparseable" },
    ],
  );
}

async function token(req: Request): Promise<Response> {
  const body = await requestFields(req);
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
  const { token, expiresIn } = await accessToken({
    sessionId: row.session_id,
    orgId: row.org_id,
    userId: row.user_id,
    connectionId: row.connection_id,
    email: row.email,
    aal: row.aal,
    amr: row.amr,
  });
  return jsonResponse({
    access_token: token,
    token_type: "bearer",
    expires_in: expiresIn,
    refresh_token: row.refresh_token,
  });
}

function encryptionKey(): string {
  const key = Deno.env.get("MERIDIAN_SSO_ENCRYPTION_KEY");
  if (!key || key.length < 32) {
    throw new Error("MERIDIAN_SSO_ENCRYPTION_KEY (32+ characters) is not set");
  }
  return key;
}

const CodeBody = z.object({ code: z.string().min(6).max(20) });
const ConnectionSecret = z.object({
  org_id: z.guid(),
  client_secret: z.string().min(8).max(512),
});

/**
 * An MFA attempt on the caller's session; on success, tokens at aal2 (the
 * session's refresh token is rotated from the one given, if any, or a new
 * access token alone).
 */
async function mfaVerify(req: Request, factor: "totp" | "recovery") {
  const me = await callerSession(req);
  const body = CodeBody.safeParse(await requestFields(req, 2048));
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
  const { token, expiresIn } = await accessToken({
    sessionId: s.id,
    orgId: s.org_id,
    userId: s.user_id,
    connectionId: s.connection_id,
    email: s.email,
    aal: s.aal,
    amr: s.amr,
  });
  return jsonResponse({
    access_token: token,
    token_type: "bearer",
    expires_in: expiresIn,
    aal: s.aal,
  });
}

const callbackUrl = () =>
  `${Deno.env.get("SUPABASE_URL") ?? ""}/functions/v1/sso/oidc/callback`;

/** GET /authorize: records the sign-in and sends the browser to the IdP. */
async function authorize(url: URL): Promise<Response> {
  const connectionId = url.searchParams.get("connection_id") ?? "";
  if (!/^[0-9a-f-]{36}$/.test(connectionId)) {
    throw new HttpError(400, "invalid_request", "connection_id is required", [
      { field: "connection_id", rule: "uuid", message: connectionId },
    ]);
  }
  if ((url.searchParams.get("code_challenge_method") ?? "S256") !== "S256") {
    throw new HttpError(
      400,
      "invalid_request",
      "code_challenge_method must be S256",
      [
        { field: "code_challenge_method", rule: "equals:S256", message: "" },
      ],
    );
  }
  const s = await newSigninSecrets();
  const [c] = await db()`
    select * from private.sso_begin_signin(${connectionId}::uuid, ${
    url.searchParams.get("redirect_to")
  },
      ${
    url.searchParams.get("code_challenge")
  }, ${s.state}, ${s.nonce}, ${s.codeVerifier}, ${encryptionKey()})`;
  if (c.protocol !== "oidc") {
    throw new HttpError(
      501,
      "not_implemented",
      "SAML sign-in is not built yet",
    );
  }
  const config = await oidcConfig(
    c.oidc_issuer,
    c.oidc_client_id,
    c.client_secret,
  );
  return Response.redirect(
    authorizationUrl(config, callbackUrl(), s).href,
    302,
  );
}

/** GET /oidc/callback: completes the sign-in and sends the app its code. */
async function oidcCallback(url: URL): Promise<Response> {
  const state = url.searchParams.get("state") ?? "";
  const [r] =
    await db()`select * from private.sso_take_signin(${state}, ${encryptionKey()})`;
  const config = await oidcConfig(
    r.oidc_issuer,
    r.oidc_client_id,
    r.client_secret,
  );
  // Every refusal from here on is audited in the organization.
  const refuse = async (
    status: number,
    code: string,
    reason: string,
    email?: string | null,
  ) => {
    await db()`select private.sso_record_failure(${r.org_id}::uuid, ${r.connection_id}::uuid, ${reason},
                 ${email ?? null})`;
    return new HttpError(status, code, reason);
  };
  let identity;
  try {
    identity = await completeCodeFlow(
      config,
      new URL(callbackUrl() + url.search),
      {
        state,
        nonce: r.nonce,
        codeVerifier: r.code_verifier,
      },
    );
  } catch (err) {
    throw await refuse(
      401,
      "sign_in_refused",
      `The identity provider's answer was refused: ${(err as Error).message}`,
    );
  }
  let code: string;
  try {
    [{ code }] = await db()`
      select private.sso_complete_signin(${r.org_id}::uuid, ${r.connection_id}::uuid, ${identity.email},
        ${identity.emailVerified}, ${identity.groups}, ${identity.mfa}, ${r.app_code_challenge}) as code`;
  } catch (err) {
    if ((err as { code?: string }).code !== "42501") throw err;
    throw await refuse(
      403,
      "forbidden",
      (err as Error).message,
      identity.email,
    );
  }
  const back = new URL(r.redirect_to);
  back.searchParams.set("code", code);
  return Response.redirect(back.href, 302);
}

/** The caller's SSO session, from its verified access token. */
async function callerSession(req: Request) {
  const principal = await authenticate(req, db());
  const claims = principal.kind === "user" ? principal.claims : null;
  const sessionId = claims?.session_id;
  const orgId = (claims?.app_metadata as Record<string, unknown> | undefined)
    ?.org_id;
  if (!claims || typeof sessionId !== "string" || typeof orgId !== "string") {
    throw new HttpError(
      401,
      "unauthorized",
      "An SSO session's access token is required",
    );
  }
  return {
    userId: claims.sub as string,
    sessionId,
    orgId,
    aal: typeof claims.aal === "string" ? claims.aal : "aal1",
    email: typeof claims.email === "string" ? claims.email : "",
    ip: principal.context.ip,
  };
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
    if (path === "/logout" && req.method === "POST") {
      const me = await callerSession(req);
      await db()`select private.revoke_sso_sessions(${me.orgId}, ${me.userId}, ${me.sessionId}, 'signed out')`;
      return jsonResponse({ revoked: me.sessionId });
    }
    const secretRoute = path.match(/^\/connections\/([0-9a-f-]{36})\/secret$/);
    if (secretRoute && req.method === "PUT") {
      const body = ConnectionSecret.safeParse(
        await requestFields(req, 4096),
      );
      if (!body.success) throw body.error;
      const principal = await authenticate(req, db(), {
        orgId: body.data.org_id,
      });
      if (principal.kind !== "user") {
        throw new HttpError(
          401,
          "unauthorized",
          "A signed-in administrator is required",
        );
      }
      await withPrincipal(
        db(),
        principal,
        (tx) =>
          tx`select private.set_sso_client_secret(${body.data.org_id}::uuid, ${
            secretRoute[1]
          }::uuid,
             ${body.data.client_secret}, ${encryptionKey()})`,
      );
      return jsonResponse({
        connection_id: secretRoute[1],
        client_secret_set: true,
      });
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
    if (
      /^\/(saml|oidc\/backchannel-logout)(\/|$)/.test(path)
    ) {
      throw new HttpError(
        501,
        "not_implemented",
        `${path} is part of enterprise sign-in that is not built yet (SAML, single logout)`,
      );
    }
    throw new HttpError(404, "not_found", `No route ${req.method} /sso${path}`);
  } catch (err) {
    return toErrorResponse(err);
  }
});

// Signing out, both ways. The app's POST /logout revokes the session and
// answers where to send the browser so the IdP ends its own session too (a
// SAML LogoutRequest, an OIDC end-session URL). The IdP's own logouts revoke
// the sessions they name: a SAML LogoutRequest at /saml/slo/<id> (Redirect
// or POST binding, signed) and an OIDC logout token at
// /oidc/backchannel-logout/<id>. Each logout message is accepted once
// (private.sso_first_use) and every refusal is audited.
import { HttpError } from "../_shared/errors.ts";
import { jsonResponse } from "../_shared/http.ts";
import { callerSession, db, isUuid, refusal } from "./common.ts";
import {
  endSessionUrl,
  LogoutTokenRefused,
  oidcConfig,
  verifyLogoutToken,
} from "./oidc.ts";
import {
  logoutRequestUrl,
  logoutResponseUrl,
  MAX_RESPONSE_BYTES,
  type SamlConnection,
  SamlRefused,
  validateLogoutMessage,
} from "./saml.ts";
import { samlConnection } from "./signin_routes.ts";
import { readFields } from "../_shared/body.ts";

/** POST /logout: revokes the caller's session; returns the IdP's logout URL. */
export async function logout(req: Request): Promise<Response> {
  const me = await callerSession(req);
  const body = await readFields(req, 4096);
  const [s] = await db()`
    select s.idp_subject, s.idp_subject_format, s.idp_session_id, c.org_id, c.id, c.protocol,
           c.oidc_issuer, c.oidc_client_id, c.saml_idp_entity_id, c.saml_idp_sso_url,
           c.saml_idp_slo_url, c.saml_idp_certificates, c.allowed_redirect_urls
    from public.sso_sessions s
    join public.sso_connections c on c.org_id = s.org_id and c.id = s.connection_id
    where s.org_id = ${me.orgId}::uuid and s.id = ${me.sessionId}::uuid`;
  const redirectTo = typeof body.redirect_to === "string"
    ? body.redirect_to
    : null;
  if (redirectTo && !s?.allowed_redirect_urls.includes(redirectTo)) {
    throw new HttpError(
      400,
      "invalid_request",
      "redirect_to is not one of the connection's allowed URLs",
      [{ field: "redirect_to", rule: "allowed_redirect_url", message: "" }],
    );
  }
  await db()`select private.revoke_sso_sessions(${me.orgId}, ${me.userId}, ${me.sessionId}, 'signed out')`;
  let logoutUrl: string | null = null;
  try {
    if (s?.protocol === "saml" && s.saml_idp_slo_url && s.idp_subject) {
      logoutUrl = await logoutRequestUrl(s as unknown as SamlConnection, {
        nameId: s.idp_subject,
        nameIdFormat: s.idp_subject_format,
        sessionIndex: s.idp_session_id,
      });
    } else if (s?.protocol === "oidc") {
      logoutUrl = endSessionUrl(
        await oidcConfig(s.oidc_issuer, s.oidc_client_id, null),
        redirectTo,
      );
    }
  } catch (err) {
    // The session is revoked already; an IdP that cannot be reached only
    // means its own session is not ended from here.
    console.warn(`sso logout: no IdP logout URL: ${(err as Error).message}`);
  }
  return jsonResponse({ revoked: me.sessionId, logout_url: logoutUrl });
}

/** GET|POST /saml/slo/<id>: the IdP's LogoutRequest, or its LogoutResponse. */
export async function samlSlo(req: Request, id: string): Promise<Response> {
  const c = await samlConnection(id);
  const url = new URL(req.url);
  const binding = req.method === "GET" ? "redirect" : "post";
  const rawQuery = url.search.slice(1);
  const params: Record<string, string> = binding === "redirect"
    ? Object.fromEntries(new URLSearchParams(rawQuery))
    : Object.fromEntries(
      Object.entries(await readFields(req, MAX_RESPONSE_BYTES + 8 * 1024))
        .filter(([, v]) => typeof v === "string"),
    );
  let message;
  try {
    message = await validateLogoutMessage(c, params, binding, rawQuery);
  } catch (err) {
    if (!(err instanceof SamlRefused)) throw err;
    throw await refusal(
      c,
      400,
      "logout_refused",
      `The SAML logout message was refused: ${err.message}`,
    );
  }
  if (message.kind === "response") {
    return jsonResponse({ signed_out: true });
  }
  const [{ fresh }] = await db()`
    select private.sso_first_use(${c.org_id}::uuid, ${c.id}::uuid, ${c.saml_idp_entity_id}, ${message.id},
                                 now() + interval '10 minutes') as fresh`;
  if (!fresh) {
    throw await refusal(
      c,
      400,
      "logout_refused",
      "The SAML LogoutRequest was used already (replay)",
    );
  }
  await db()`
    select private.revoke_idp_sessions(${c.org_id}::uuid, ${c.id}::uuid, ${message.nameId},
                                       ${message.sessionIndex}, 'IdP single logout')`;
  return Response.redirect(
    await logoutResponseUrl(c, message.profile, params.RelayState ?? ""),
    303,
  );
}

/** POST /oidc/backchannel-logout/<id>: the IdP's logout token. */
export async function backchannelLogout(
  req: Request,
  id: string,
): Promise<Response> {
  if (!isUuid(id)) {
    throw new HttpError(404, "not_found", "No such OIDC connection");
  }
  const [c] = await db()<
    {
      org_id: string;
      id: string;
      oidc_issuer: string;
      oidc_client_id: string;
    }[]
  >`
    select org_id, id, oidc_issuer, oidc_client_id from public.sso_connections
    where id = ${id}::uuid and protocol = 'oidc' and enabled`;
  if (!c) throw new HttpError(404, "not_found", "No such OIDC connection");
  const body = await readFields(req, 16 * 1024);
  if (typeof body.logout_token !== "string" || !body.logout_token) {
    throw new HttpError(400, "invalid_request", "logout_token is required", [
      { field: "logout_token", rule: "required", message: "" },
    ]);
  }
  const config = await oidcConfig(c.oidc_issuer, c.oidc_client_id, null);
  let claims;
  try {
    claims = await verifyLogoutToken(config, body.logout_token);
  } catch (err) {
    if (!(err instanceof LogoutTokenRefused)) throw err;
    throw await refusal(
      c,
      400,
      "invalid_request",
      `The logout token was refused: ${err.message}`,
    );
  }
  const [{ fresh }] = await db()`
    select private.sso_first_use(${c.org_id}::uuid, ${c.id}::uuid, ${c.oidc_issuer}, ${claims.jti},
                                 ${claims.expiresAt}) as fresh`;
  if (!fresh) {
    throw await refusal(
      c,
      400,
      "invalid_request",
      "The logout token was used already (replay)",
    );
  }
  const [{ revoked }] = await db()`
    select private.revoke_idp_sessions(${c.org_id}::uuid, ${c.id}::uuid, ${claims.sub}, ${claims.sid},
                                       'IdP back-channel logout') as revoked`;
  return jsonResponse({ revoked }, 200, { "cache-control": "no-store" });
}

// The sign-in flows: /authorize sends the browser to the IdP (OIDC or SAML),
// the IdP answers at /oidc/callback or /saml/acs/<id>, and the browser goes
// back to the app's redirect_to with a one-time code for its PKCE exchange at
// /token. An unsolicited SAML response (IdP-initiated, where the connection
// allows it) has no app PKCE leg: its tokens go back in the URL fragment, as
// Supabase Auth's IdP-initiated SAML does.
import { HttpError } from "../_shared/errors.ts";
import {
  db,
  encryptionKey,
  isUuid,
  refusal,
  type SessionRow,
  tokenBody,
} from "./common.ts";
import {
  authorizationUrl,
  completeCodeFlow,
  newSigninSecrets,
  oidcConfig,
} from "./oidc.ts";
import {
  authnRequestUrl,
  MAX_RESPONSE_BYTES,
  metadata,
  newRequestId,
  type SamlConnection,
  SamlRefused,
  validateResponse,
} from "./saml.ts";
import { readFields } from "../_shared/body.ts";

const callbackUrl = () =>
  `${Deno.env.get("SUPABASE_URL") ?? ""}/functions/v1/sso/oidc/callback`;

const SAML_COLUMNS = [
  "org_id",
  "id",
  "saml_idp_entity_id",
  "saml_idp_sso_url",
  "saml_idp_slo_url",
  "saml_idp_certificates",
  "allow_idp_initiated",
  "allowed_redirect_urls",
] as const;

type SamlRow = SamlConnection & {
  allow_idp_initiated: boolean;
  allowed_redirect_urls: string[];
};

/** An enabled SAML connection, or a 404. */
export async function samlConnection(id: string): Promise<SamlRow> {
  if (!isUuid(id)) {
    throw new HttpError(404, "not_found", "No such SAML connection");
  }
  const [c] = await db()`
    select ${
    db()(SAML_COLUMNS as unknown as string[])
  } from public.sso_connections
    where id = ${id}::uuid and protocol = 'saml' and enabled`;
  if (!c) throw new HttpError(404, "not_found", "No such SAML connection");
  return c as SamlRow;
}

/** GET /authorize: records the sign-in and sends the browser to the IdP. */
export async function authorize(url: URL): Promise<Response> {
  const domain = url.searchParams.get("domain");
  let connectionId = url.searchParams.get("connection_id") ?? "";
  if (!connectionId && domain) {
    [{ connectionId }] = await db()`
      select private.sso_connection_for_domain(${domain}) as "connectionId"`;
  }
  if (!isUuid(connectionId)) {
    throw new HttpError(
      400,
      "invalid_request",
      "connection_id (or domain) is required",
      [{ field: "connection_id", rule: "uuid", message: connectionId }],
    );
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
  const [known] = await db()`
    select protocol from public.sso_connections where id = ${connectionId}::uuid and enabled`;
  if (known?.protocol === "saml") {
    const requestId = newRequestId();
    await db()`
      select * from private.sso_begin_signin(${connectionId}::uuid, ${
      url.searchParams.get("redirect_to")
    }, ${
      url.searchParams.get("code_challenge")
    }, ${requestId}, null, null, ${encryptionKey()})`;
    const c = await samlConnection(connectionId);
    return Response.redirect(await authnRequestUrl(c, requestId), 302);
  }
  // OIDC, or no such connection: sso_begin_signin says which 404.
  const s = await newSigninSecrets();
  const [c] = await db()`
    select * from private.sso_begin_signin(${connectionId}::uuid, ${
    url.searchParams.get("redirect_to")
  },
      ${
    url.searchParams.get("code_challenge")
  }, ${s.state}, ${s.nonce}, ${s.codeVerifier}, ${encryptionKey()})`;
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

type Vouched = {
  email: string | null;
  emailVerified: boolean;
  groups: string[];
  mfa: boolean;
  subject: string;
  subjectFormat: string | null;
  idpSessionId: string | null;
};

/**
 * The rules of sql (verified email in a verified, allowed domain; member or
 * JIT-provisioned; active): a one-time code, or an audited 403.
 */
async function completeSignin(
  c: { org_id: string; id: string },
  who: Vouched,
  appCodeChallenge: string,
): Promise<string> {
  try {
    const [{ code }] = await db()`
      select private.sso_complete_signin(${c.org_id}::uuid, ${c.id}::uuid, ${who.email},
        ${who.emailVerified}, ${who.groups}, ${who.mfa}, ${appCodeChallenge},
        ${who.subject}, ${who.subjectFormat}, ${who.idpSessionId}) as code`;
    return code;
  } catch (err) {
    if ((err as { code?: string }).code !== "42501") throw err;
    throw await refusal(c, 403, "forbidden", (err as Error).message, who.email);
  }
}

/** To the app with its code: 303 after SAML's POST, so the browser GETs. */
function backTo(redirectTo: string, code: string, status = 302): Response {
  const back = new URL(redirectTo);
  back.searchParams.set("code", code);
  return Response.redirect(back.href, status);
}

/** GET /oidc/callback: completes the sign-in and sends the app its code. */
export async function oidcCallback(url: URL): Promise<Response> {
  const state = url.searchParams.get("state") ?? "";
  const [r] =
    await db()`select * from private.sso_take_signin(${state}, ${encryptionKey()})`;
  const c = { org_id: r.org_id, id: r.connection_id };
  const config = await oidcConfig(
    r.oidc_issuer,
    r.oidc_client_id,
    r.client_secret,
  );
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
    throw await refusal(
      c,
      401,
      "sign_in_refused",
      `The identity provider's answer was refused: ${(err as Error).message}`,
    );
  }
  const code = await completeSignin(c, {
    ...identity,
    subjectFormat: null,
    idpSessionId: identity.sid,
  }, r.app_code_challenge);
  return backTo(r.redirect_to, code);
}

async function pkcePair() {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const b64url = (b: Uint8Array) =>
    btoa(String.fromCharCode(...b)).replace(/\+/g, "-").replace(/\//g, "_")
      .replace(/=+$/, "");
  const verifier = b64url(bytes);
  const challenge = b64url(
    new Uint8Array(
      await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)),
    ),
  );
  return { verifier, challenge };
}

/** POST /saml/acs/<id>: the IdP's signed response, SP- or IdP-initiated. */
export async function samlAcs(req: Request, id: string): Promise<Response> {
  const c = await samlConnection(id);
  const body = await readFields(req, MAX_RESPONSE_BYTES + 8 * 1024);
  const samlResponse = typeof body.SAMLResponse === "string"
    ? body.SAMLResponse
    : "";
  if (!samlResponse) {
    throw new HttpError(400, "invalid_request", "SAMLResponse is required", [
      { field: "SAMLResponse", rule: "required", message: "" },
    ]);
  }
  let who;
  try {
    who = await validateResponse(c, samlResponse);
  } catch (err) {
    if (!(err instanceof SamlRefused)) throw err;
    throw await refusal(
      c,
      401,
      "sign_in_refused",
      `The SAML response was refused: ${err.message}`,
    );
  }
  let redirectTo: string;
  let challenge: string;
  let idpInitiated: { verifier: string } | null = null;
  if (who.inResponseTo) {
    let r;
    try {
      [r] = await db()`
        select org_id, connection_id, redirect_to, app_code_challenge
        from private.sso_take_signin(${who.inResponseTo}, ${encryptionKey()})`;
    } catch (err) {
      if ((err as { code?: string }).code !== "28000") throw err;
      throw await refusal(
        c,
        401,
        "sign_in_refused",
        "The SAML response answers no pending request of this connection (unknown, used or expired InResponseTo)",
        who.email,
      );
    }
    if (r.connection_id !== c.id) {
      throw await refusal(
        c,
        401,
        "sign_in_refused",
        "The SAML response answers a request made through another connection",
        who.email,
      );
    }
    redirectTo = r.redirect_to;
    challenge = r.app_code_challenge;
  } else {
    if (!c.allow_idp_initiated) {
      throw await refusal(
        c,
        401,
        "sign_in_refused",
        "This connection does not accept IdP-initiated (unsolicited) responses",
        who.email,
      );
    }
    const relay = typeof body.RelayState === "string" ? body.RelayState : "";
    const target = c.allowed_redirect_urls.includes(relay)
      ? relay
      : c.allowed_redirect_urls[0];
    if (!target) {
      throw await refusal(
        c,
        400,
        "sign_in_refused",
        "The connection has no allowed redirect URL to return to",
        who.email,
      );
    }
    redirectTo = target;
    const pair = await pkcePair();
    challenge = pair.challenge;
    idpInitiated = { verifier: pair.verifier };
  }
  const [{ fresh }] = await db()`
    select private.sso_first_use(${c.org_id}::uuid, ${c.id}::uuid, ${who.issuer}, ${who.assertionId},
                                 ${who.expiresAt}) as fresh`;
  if (!fresh) {
    throw await refusal(
      c,
      401,
      "sign_in_refused",
      "The SAML assertion was used already (replay)",
      who.email,
    );
  }
  const code = await completeSignin(c, {
    email: who.email,
    // SAML has no email_verified claim: the signed assertion from the
    // organization's IdP, for a domain the organization verified, vouches.
    emailVerified: true,
    groups: who.groups,
    mfa: who.mfa,
    subject: who.nameId,
    subjectFormat: who.nameIdFormat,
    idpSessionId: who.sessionIndex,
  }, challenge);
  if (!idpInitiated) return backTo(redirectTo, code, 303);
  const [row] = await db()`
    select * from private.sso_redeem_app_code(${code}, ${idpInitiated.verifier})`;
  if (row.error) throw new Error(`IdP-initiated sign-in: ${row.error}`);
  const tokens = await tokenBody(row as unknown as SessionRow);
  const back = new URL(redirectTo);
  back.hash = new URLSearchParams(
    Object.entries(tokens).map(([k, v]) => [k, String(v)]),
  ).toString();
  return Response.redirect(back.href, 303);
}

/** GET /saml/metadata/<id>: the SP's metadata for the IdP's administrator. */
export async function samlMetadata(id: string): Promise<Response> {
  const c = await samlConnection(id);
  return new Response(metadata(c), {
    headers: { "content-type": "application/samlmetadata+xml" },
  });
}

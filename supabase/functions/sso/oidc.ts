// The OIDC leg of a sign-in, with openid-client: discovery, the authorization
// URL (code flow, PKCE S256, state and nonce), and the callback's code grant,
// which checks the RFC 9207 iss parameter, the state, and the ID token
// (signature against the IdP's JWKS, issuer, audience, azp, expiry, nonce).
// One state per sign-in, taken once in SQL, so a callback meant for another
// connection (a mix-up) finds no request to complete. Logout both ways:
// RP-initiated (the IdP's end_session_endpoint) and back-channel (a logout
// token the IdP posts, checked here as OpenID Connect Back-Channel Logout 1.0
// says: openid-client has no helper for it).
import { createRemoteJWKSet, jwtVerify } from "jose";
import * as oidc from "openid-client";

const configs = new Map<string, Promise<oidc.Configuration>>();

/** Plain http only for a provider on loopback (local development). */
const loopback = (issuer: string) =>
  /^http:\/\/(localhost|127\.0\.0\.1)(:\d+)?(\/|$)/.test(issuer);

export function oidcConfig(
  issuer: string,
  clientId: string,
  clientSecret: string | null,
): Promise<oidc.Configuration> {
  const key = `${issuer}\n${clientId}\n${clientSecret ?? ""}`;
  let config = configs.get(key);
  if (!config) {
    config = oidc.discovery(
      new URL(issuer),
      clientId,
      clientSecret ?? undefined,
      undefined,
      loopback(issuer) ? { execute: [oidc.allowInsecureRequests] } : undefined,
    );
    // A failed discovery is tried again next time, not cached.
    config.catch(() => configs.delete(key));
    configs.set(key, config);
  }
  return config;
}

export async function newSigninSecrets() {
  const codeVerifier = oidc.randomPKCECodeVerifier();
  return {
    state: oidc.randomState(),
    nonce: oidc.randomNonce(),
    codeVerifier,
    codeChallenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
  };
}

export function authorizationUrl(
  config: oidc.Configuration,
  redirectUri: string,
  s: { state: string; nonce: string; codeChallenge: string },
): URL {
  return oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: "openid email profile",
    state: s.state,
    nonce: s.nonce,
    code_challenge: s.codeChallenge,
    code_challenge_method: "S256",
  });
}

export type IdpIdentity = {
  subject: string;
  /** The IdP's session (the ID token's sid), named by back-channel logout. */
  sid: string | null;
  email: string | null;
  emailVerified: boolean;
  groups: string[];
  mfa: boolean;
};

/** Exchanges the callback's code and returns who the IdP says signed in. */
export async function completeCodeFlow(
  config: oidc.Configuration,
  callbackUrl: URL,
  expected: { state: string; nonce: string; codeVerifier: string },
): Promise<IdpIdentity> {
  const tokens = await oidc.authorizationCodeGrant(config, callbackUrl, {
    pkceCodeVerifier: expected.codeVerifier,
    expectedState: expected.state,
    expectedNonce: expected.nonce,
    idTokenExpected: true,
  });
  let claims: Record<string, unknown> = { ...(tokens.claims() ?? {}) };
  if (!claims.email) {
    claims = {
      ...claims,
      ...(await oidc.fetchUserInfo(
        config,
        tokens.access_token,
        claims.sub as string,
      )),
    };
  }
  const amr = Array.isArray(claims.amr) ? claims.amr.map(String) : [];
  return {
    subject: String(claims.sub),
    sid: typeof claims.sid === "string" ? claims.sid : null,
    email: typeof claims.email === "string" ? claims.email : null,
    emailVerified: claims.email_verified === true,
    groups: Array.isArray(claims.groups) ? claims.groups.map(String) : [],
    mfa: amr.some((m) => ["mfa", "otp", "hwk", "swk"].includes(m)),
  };
}

/**
 * The IdP's end-session URL (RP-initiated logout), or null when its
 * discovery document names none.
 */
export function endSessionUrl(
  config: oidc.Configuration,
  postLogoutRedirectUri: string | null,
): string | null {
  if (!config.serverMetadata().end_session_endpoint) return null;
  return oidc.buildEndSessionUrl(
    config,
    postLogoutRedirectUri
      ? { post_logout_redirect_uri: postLogoutRedirectUri }
      : {},
  ).href;
}

const jwksets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();
const BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout";

export class LogoutTokenRefused extends Error {}

/**
 * Verifies a back-channel logout token: signed by the IdP's JWKS, issuer,
 * audience = our client id, issued within 5 minutes, the back-channel event,
 * a jti (for replay), a sub or a sid, and no nonce (which would make it an ID
 * token).
 */
export async function verifyLogoutToken(
  config: oidc.Configuration,
  token: string,
): Promise<
  { sub: string | null; sid: string | null; jti: string; expiresAt: Date }
> {
  const meta = config.serverMetadata();
  if (!meta.jwks_uri) throw new LogoutTokenRefused("the IdP publishes no JWKS");
  let jwks = jwksets.get(meta.jwks_uri);
  if (!jwks) {
    jwks = createRemoteJWKSet(new URL(meta.jwks_uri));
    jwksets.set(meta.jwks_uri, jwks);
  }
  let payload;
  try {
    ({ payload } = await jwtVerify(token, jwks, {
      issuer: meta.issuer,
      audience: config.clientMetadata().client_id,
      maxTokenAge: "5 minutes",
      clockTolerance: 60,
    }));
  } catch (err) {
    throw new LogoutTokenRefused((err as Error).message);
  }
  const events = payload.events as Record<string, unknown> | undefined;
  const event = events && typeof events === "object"
    ? events[BACKCHANNEL_EVENT]
    : undefined;
  // The event's value must be a JSON object (Back-Channel Logout 1.0, 2.4).
  if (!event || typeof event !== "object" || Array.isArray(event)) {
    throw new LogoutTokenRefused(
      "the token carries no back-channel logout event",
    );
  }
  if ("nonce" in payload) {
    throw new LogoutTokenRefused("a logout token must not carry a nonce");
  }
  const sub = typeof payload.sub === "string" ? payload.sub : null;
  const sid = typeof payload.sid === "string" ? payload.sid : null;
  if (!sub && !sid) {
    throw new LogoutTokenRefused("the token names no sub or sid");
  }
  if (typeof payload.jti !== "string" || !payload.jti) {
    throw new LogoutTokenRefused("the token has no jti");
  }
  const iat = (payload.iat ?? Math.floor(Date.now() / 1000)) * 1000;
  return {
    sub,
    sid,
    jti: payload.jti,
    expiresAt: new Date(
      Math.max(payload.exp ? payload.exp * 1000 : 0, iat + 6 * 60_000),
    ),
  };
}

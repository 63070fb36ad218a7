// The OIDC leg of a sign-in, with openid-client: discovery, the authorization
// URL (code flow, PKCE S256, state and nonce), and the callback's code grant,
// which checks the RFC 9207 iss parameter, the state, and the ID token
// (signature against the IdP's JWKS, issuer, audience, azp, expiry, nonce).
// One state per sign-in, taken once in SQL, so a callback meant for another
// connection (a mix-up) finds no request to complete.
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
    email: typeof claims.email === "string" ? claims.email : null,
    emailVerified: claims.email_verified === true,
    groups: Array.isArray(claims.groups) ? claims.groups.map(String) : [],
    mfa: amr.some((m) => ["mfa", "otp", "hwk", "swk"].includes(m)),
  };
}

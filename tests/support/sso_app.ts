// The app's half of an SSO sign-in, as a Supabase PKCE client does it: a
// verifier and its S256 challenge for /sso/authorize, the code exchange at
// /sso/token, and a supabase-js client that reads under RLS with the issued
// access token. Shared by the OIDC and SAML tests.
import { createClient } from "@supabase/supabase-js";
import { stack } from "./stack.ts";

/** The redirect URL test connections allow. */
export const APP = "http://localhost:3000/auth/callback";

const base64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_")
    .replace(/=+$/, "");

export async function pkce() {
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const challenge = base64url(
    new Uint8Array(
      await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)),
    ),
  );
  return { verifier, challenge };
}

export const ssoUrl = (path: string) =>
  `${stack().apiUrl}/functions/v1/sso${path}`;

export function authorizeUrl(
  connectionId: string,
  challenge: string,
  redirectTo = APP,
): string {
  return ssoUrl("/authorize?") + new URLSearchParams({
    connection_id: connectionId,
    redirect_to: redirectTo,
    code_challenge: challenge,
    code_challenge_method: "S256",
  });
}

export function exchangeCode(code: string, verifier: string) {
  return fetch(ssoUrl("/token"), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      grant_type: "authorization_code",
      code,
      code_verifier: verifier,
    }),
  });
}

export function refreshSession(refreshToken: string) {
  return fetch(ssoUrl("/token"), {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "refresh_token",
      refresh_token: refreshToken,
    }),
  });
}

/** supabase-js as an app uses it with an SSO session's token. */
export const sessionClient = (accessToken: string) =>
  createClient(stack().apiUrl, stack().keys.anonKey, {
    accessToken: () => Promise.resolve(accessToken),
  });

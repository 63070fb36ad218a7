// Mints the JWTs a Supabase project hands out: the anon and service_role API keys
// and user session tokens as Supabase Auth issues them. Shared by the Node dev
// tooling and the Deno tests, so it imports nothing but jose and Web APIs.
import { importJWK, SignJWT } from "jose";

/** Supabase CLI's well-known local secret: the local stack is for development only. */
export const DEFAULT_JWT_SECRET =
  "super-secret-jwt-token-with-at-least-32-characters-long";
export const HS256_KID = "legacy-hs256";

// API keys are stable across restarts (like `supabase start`'s demo keys), so they
// carry fixed iat/exp instead of the current time.
const API_KEY_IAT = 1767225600; // 2026-01-01T00:00:00Z
const API_KEY_EXP = 2082758400; // 2036-01-01T00:00:00Z

/**
 * A signer: { alg: "HS256", secret } or { alg: "ES256", privateJwk } where
 * privateJwk carries its `kid`.
 */
async function signingKey(signer) {
  if (signer.alg === "HS256") {
    return { key: new TextEncoder().encode(signer.secret), kid: HS256_KID };
  }
  if (signer.alg === "ES256") {
    return {
      key: await importJWK(signer.privateJwk, "ES256"),
      kid: signer.privateJwk.kid,
    };
  }
  throw new Error(`unsupported JWT algorithm ${signer.alg}`);
}

export async function signClaims(claims, signer) {
  const { key, kid } = await signingKey(signer);
  return await new SignJWT(claims)
    .setProtectedHeader({ alg: signer.alg, typ: "JWT", kid })
    .sign(key);
}

/** The `anon` or `service_role` API key. */
export function mintApiKey(role, signer) {
  return signClaims(
    {
      iss: "supabase",
      ref: "meridian-local",
      role,
      iat: API_KEY_IAT,
      exp: API_KEY_EXP,
    },
    signer,
  );
}

/**
 * A user session access token with the claims Supabase Auth puts in one.
 * @param {{ sub: string, email?: string, phone?: string, aal?: "aal1"|"aal2",
 *   appMetadata?: object, userMetadata?: object, sessionId?: string,
 *   expiresIn?: number, issuer?: string, isAnonymous?: boolean }} user
 */
export async function mintUserToken(user, signer) {
  if (!user?.sub) throw new Error("mintUserToken: sub is required");
  const now = Math.floor(Date.now() / 1000);
  const aal = user.aal ?? "aal1";
  const amr = [{ method: "password", timestamp: now }];
  if (aal === "aal2") amr.unshift({ method: "totp", timestamp: now });
  return await signClaims({
    iss: user.issuer ?? "http://127.0.0.1:54321/auth/v1",
    sub: user.sub,
    aud: "authenticated",
    role: "authenticated",
    email: user.email ?? "",
    phone: user.phone ?? "",
    app_metadata: user.appMetadata ??
      { provider: "email", providers: ["email"] },
    user_metadata: user.userMetadata ?? {},
    aal,
    amr,
    session_id: user.sessionId ?? crypto.randomUUID(),
    is_anonymous: user.isAnonymous ?? false,
    iat: now,
    exp: now + (user.expiresIn ?? 3600),
  }, signer);
}

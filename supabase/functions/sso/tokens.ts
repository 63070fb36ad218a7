// Access tokens of Meridian's SSO sessions, in the shape of a Supabase Auth
// session's, so that PostgREST and RLS take them unchanged: ES256 with a kid,
// signed with the key the project trusts (MERIDIAN_SSO_SIGNING_JWK), claims
// iss, sub, aud, role, email, app_metadata (org_id, sso_connection_id),
// user_metadata, aal, amr, session_id, iat, exp.
import { importJWK, type JWK, SignJWT } from "jose";

const TTL_S = Number(Deno.env.get("MERIDIAN_SSO_ACCESS_TOKEN_TTL_S") ?? 3600);

let signingKey: Promise<{ key: CryptoKey | Uint8Array; kid: string }> | null =
  null;

function key() {
  if (!signingKey) {
    const raw = Deno.env.get("MERIDIAN_SSO_SIGNING_JWK");
    if (!raw) {
      throw new Error(
        "MERIDIAN_SSO_SIGNING_JWK is not set: the sso function cannot sign session tokens",
      );
    }
    const jwk = JSON.parse(raw) as JWK & { kid: string };
    signingKey = importJWK(jwk, "ES256").then((k) => ({
      key: k,
      kid: jwk.kid,
    }));
  }
  return signingKey;
}

export type SessionClaims = {
  sessionId: string;
  orgId: string;
  userId: string;
  connectionId: string;
  email: string | null;
  aal: string;
  amr: unknown[];
};

export async function accessToken(s: SessionClaims) {
  const { key: k, kid } = await key();
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({
    email: s.email ?? "",
    role: "authenticated",
    app_metadata: {
      provider: "sso",
      providers: ["sso"],
      org_id: s.orgId,
      sso_connection_id: s.connectionId,
    },
    user_metadata: {},
    aal: s.aal,
    amr: s.amr,
    session_id: s.sessionId,
    is_anonymous: false,
  })
    .setProtectedHeader({ alg: "ES256", kid, typ: "JWT" })
    .setIssuer(`${Deno.env.get("SUPABASE_URL") ?? ""}/functions/v1/sso`)
    .setSubject(s.userId)
    .setAudience("authenticated")
    .setIssuedAt(now)
    .setExpirationTime(now + TTL_S)
    .sign(k);
  return { token, expiresIn: TTL_S };
}

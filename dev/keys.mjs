// The key material of one local stack: the HS256 secret every Supabase project has
// had, and optionally (MERIDIAN_JWT_ALG=ES256) an asymmetric signing key as new
// Supabase projects use. Both stay verifiable through one JWK set, so tokens signed
// before a switch keep working, as on a hosted project that rotated to ES256.
import { Buffer } from "node:buffer";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { exportJWK, generateKeyPair, jwtVerify } from "jose";
import { DEFAULT_JWT_SECRET, HS256_KID, mintApiKey } from "./jwt.mjs";

export function jwtAlgorithm() {
  const alg = (process.env.MERIDIAN_JWT_ALG ?? "HS256").toUpperCase();
  if (alg !== "HS256" && alg !== "ES256") {
    throw new Error(`MERIDIAN_JWT_ALG must be HS256 or ES256, got ${alg}`);
  }
  return alg;
}

async function loadOrCreateEs256(jwtDir, name = "es256-private.jwk.json") {
  const file = join(jwtDir, name);
  if (existsSync(file)) return JSON.parse(readFileSync(file, "utf8"));
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  const jwk = {
    ...(await exportJWK(privateKey)),
    alg: "ES256",
    use: "sig",
    kid: crypto.randomUUID(),
  };
  mkdirSync(jwtDir, { recursive: true });
  writeFileSync(file, JSON.stringify(jwk, null, 2), { mode: 0o600 });
  return jwk;
}

function loadOrCreateSecret(dir, name) {
  const file = join(dir, name);
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  const secret = Buffer.from(crypto.getRandomValues(new Uint8Array(32)))
    .toString("base64url");
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, secret, { mode: 0o600 });
  return secret;
}

/**
 * The SAML service provider's signing key and self-signed certificate (RSA,
 * as IdPs expect), which sign AuthnRequests and logout messages and are
 * published in each connection's SP metadata. Made once with the openssl CLI:
 * Node has no X.509 writer, and a certificate is not a thing to hand-encode.
 */
function loadOrCreateSamlSpKeys(dir) {
  const keyFile = join(dir, "sso-saml-sp.key.pem");
  const certFile = join(dir, "sso-saml-sp.cert.pem");
  if (!existsSync(keyFile) || !existsSync(certFile)) {
    mkdirSync(dir, { recursive: true });
    execFileSync("openssl", [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-sha256",
      "-days",
      "3650",
      "-subj",
      "/CN=Meridian SAML service provider (local)",
      "-keyout",
      keyFile,
      "-out",
      certFile,
    ], { stdio: "pipe" });
  }
  return {
    key: readFileSync(keyFile, "utf8"),
    cert: readFileSync(certFile, "utf8"),
  };
}

function publicPart({ d: _d, ...jwk }) {
  return { ...jwk, key_ops: ["verify"] };
}

/**
 * Builds the stack's keys and writes the JWK set PostgREST verifies against.
 * @returns {Promise<{alg: string, secret: string, signer: object,
 *   jwks: {keys: object[]}, jwksPath: string, anonKey: string,
 *   serviceRoleKey: string}>}
 */
export async function prepareKeys(jwtDir) {
  const alg = jwtAlgorithm();
  const secret = process.env.MERIDIAN_JWT_SECRET ?? DEFAULT_JWT_SECRET;
  if (secret.length < 32) {
    throw new Error("MERIDIAN_JWT_SECRET must be at least 32 characters");
  }
  const keys = [{
    kty: "oct",
    k: Buffer.from(secret).toString("base64url"),
    alg: "HS256",
    kid: HS256_KID,
  }];
  let signer = { alg: "HS256", secret };
  // The key the sso function signs its sessions' access tokens with: on a
  // hosted project, a standby key imported into the project, whose public
  // half the project's JWKS publishes; here, one more key in the stack's set.
  const ssoSigningJwk = await loadOrCreateEs256(
    jwtDir,
    "sso-es256-private.jwk.json",
  );
  keys.push(publicPart(ssoSigningJwk));
  // The key the sso function encrypts TOTP secrets with (a function secret on
  // a hosted project: supabase secrets set MERIDIAN_SSO_ENCRYPTION_KEY=...).
  const ssoEncryptionKey = loadOrCreateSecret(jwtDir, "sso-encryption.key");
  const samlSp = loadOrCreateSamlSpKeys(jwtDir);
  if (alg === "ES256") {
    const privateJwk = await loadOrCreateEs256(jwtDir);
    keys.push(publicPart(privateJwk));
    signer = { alg: "ES256", privateJwk };
  }
  mkdirSync(jwtDir, { recursive: true });
  const jwksPath = join(jwtDir, "jwks.json");
  writeFileSync(jwksPath, JSON.stringify({ keys }, null, 2), { mode: 0o644 });
  return {
    alg,
    secret,
    signer,
    jwks: { keys },
    jwksPath,
    ssoSigningJwk,
    ssoEncryptionKey,
    samlSpKey: samlSp.key,
    samlSpCert: samlSp.cert,
    anonKey: await mintApiKey("anon", signer),
    serviceRoleKey: await mintApiKey("service_role", signer),
  };
}

/** Verifies a token against the stack's JWK set (HS256 secret or ES256 key). */
export async function verifyToken(token, jwks) {
  const byKid = new Map(jwks.keys.map((k) => [k.kid, k]));
  const { payload } = await jwtVerify(token, (header) => {
    const jwk = byKid.get(header.kid) ??
      jwks.keys.find((k) => k.alg === header.alg);
    if (!jwk || jwk.alg !== header.alg) {
      throw new Error(`no key for alg ${header.alg} kid ${header.kid}`);
    }
    return jwk.kty === "oct" ? Buffer.from(jwk.k, "base64url") : jwk;
  }, { algorithms: ["HS256", "ES256"] });
  return payload;
}

// Tokens minted for the local stack carry what Supabase Auth puts in a session.
import assert from "node:assert/strict";
import { decodeProtectedHeader, jwtVerify } from "jose";
import {
  DEFAULT_JWT_SECRET,
  mintApiKey,
  mintUserToken,
} from "../../dev/jwt.mjs";
import { prepareKeys, verifyToken } from "../../dev/keys.mjs";

const hs256 = { alg: "HS256" as const, secret: DEFAULT_JWT_SECRET };

Deno.test("a user session token has Supabase Auth's claims", async () => {
  const sub = crypto.randomUUID();
  const token = await mintUserToken({
    sub,
    email: "a@example.com",
    aal: "aal2",
  }, hs256);
  const { payload } = await jwtVerify(
    token,
    new TextEncoder().encode(DEFAULT_JWT_SECRET),
  );
  assert.equal(payload.sub, sub);
  assert.equal(payload.role, "authenticated");
  assert.equal(payload.aud, "authenticated");
  assert.equal(payload.email, "a@example.com");
  assert.equal(payload.aal, "aal2");
  assert.deepEqual(payload.app_metadata, {
    provider: "email",
    providers: ["email"],
  });
  assert.deepEqual(payload.user_metadata, {});
  assert.match(String(payload.session_id), /^[0-9a-f-]{36}$/);
  assert.equal((payload.exp as number) - (payload.iat as number), 3600);
  assert.deepEqual(
    (payload.amr as { method: string }[]).map((m) => m.method),
    ["totp", "password"],
  );
});

Deno.test("a token needs a subject", async () => {
  await assert.rejects(
    () => mintUserToken({ sub: "" }, hs256),
    /sub is required/,
  );
});

Deno.test("ES256 keys verify through the same JWK set as the legacy secret", async () => {
  const dir = await Deno.makeTempDir();
  const previous = Deno.env.get("MERIDIAN_JWT_ALG");
  Deno.env.set("MERIDIAN_JWT_ALG", "ES256");
  try {
    const keys = await prepareKeys(dir);
    assert.equal(keys.alg, "ES256");
    assert.equal(decodeProtectedHeader(keys.anonKey).alg, "ES256");
    assert.equal((await verifyToken(keys.anonKey, keys.jwks)).role, "anon");
    // Tokens signed with the legacy secret before a switch still verify.
    const legacy = await mintApiKey("service_role", hs256);
    assert.equal((await verifyToken(legacy, keys.jwks)).role, "service_role");
    // The key pair persists, so a restarted stack keeps its keys.
    const again = await prepareKeys(dir);
    assert.deepEqual(again.jwks, keys.jwks);
    // The JWK set PostgREST reads holds no private key material.
    const published = JSON.parse(await Deno.readTextFile(keys.jwksPath));
    assert.ok(published.keys.every((k: { d?: string }) => k.d === undefined));
  } finally {
    if (previous === undefined) Deno.env.delete("MERIDIAN_JWT_ALG");
    else Deno.env.set("MERIDIAN_JWT_ALG", previous);
    await Deno.remove(dir, { recursive: true });
  }
});

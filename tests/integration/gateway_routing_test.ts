// The gateway's Supabase paths and JWT gate, against a real upstream server on
// loopback (standing in for PostgREST and a function).
import assert from "node:assert/strict";
import { createGateway } from "../../dev/gateway.mjs";
import {
  DEFAULT_JWT_SECRET,
  mintApiKey,
  mintUserToken,
} from "../../dev/jwt.mjs";
import { prepareKeys } from "../../dev/keys.mjs";

type Seen = { path: string; authorization: string | null };

async function withGateway(
  fn: (base: string, seen: Seen[], keys: { anonKey: string }) => Promise<void>,
) {
  const seen: Seen[] = [];
  const upstream = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    (req) => {
      const url = new URL(req.url);
      seen.push({
        path: url.pathname + url.search,
        authorization: req.headers.get("authorization"),
      });
      return Response.json({ ok: true });
    },
  );
  const jwtDir = await Deno.makeTempDir();
  const keys = await prepareKeys(jwtDir);
  const deadPort = (() => {
    const l = Deno.listen({ port: 0, hostname: "127.0.0.1" });
    const port = (l.addr as Deno.NetAddr).port;
    l.close();
    return port;
  })();
  const gateway = createGateway({
    postgrestPort: upstream.addr.port,
    functions: [
      { name: "guarded", port: upstream.addr.port, verifyJwt: true },
      { name: "open", port: upstream.addr.port, verifyJwt: false },
      { name: "down", port: deadPort, verifyJwt: false },
    ],
    keys: { jwks: keys.jwks },
  });
  await new Promise<void>((r) => gateway.listen(0, "127.0.0.1", () => r()));
  const { port } = gateway.address() as { port: number };
  try {
    await fn(`http://127.0.0.1:${port}`, seen, keys);
  } finally {
    gateway.closeAllConnections();
    await new Promise((r) => gateway.close(r));
    await upstream.shutdown();
    await Deno.remove(jwtDir, { recursive: true });
  }
}

Deno.test("functions with verify_jwt need a valid project JWT", async () => {
  await withGateway(async (base, seen, keys) => {
    let res = await fetch(`${base}/functions/v1/guarded`);
    assert.equal(res.status, 401);
    assert.deepEqual(await res.json(), {
      code: 401,
      message: "Missing authorization header",
    });

    const forged = await mintApiKey("anon", {
      alg: "HS256",
      secret: "x".repeat(40),
    });
    res = await fetch(`${base}/functions/v1/guarded`, {
      headers: { Authorization: `Bearer ${forged}` },
    });
    assert.equal(res.status, 401);
    assert.equal((await res.json()).message, "Invalid JWT");

    res = await fetch(`${base}/functions/v1/guarded/a/b?x=1`, {
      headers: { Authorization: `Bearer ${keys.anonKey}` },
    });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    assert.equal(seen.at(-1)?.path, "/guarded/a/b?x=1");

    const user = await mintUserToken({ sub: crypto.randomUUID() }, {
      alg: "HS256",
      secret: DEFAULT_JWT_SECRET,
    });
    res = await fetch(`${base}/functions/v1/guarded`, {
      headers: { Authorization: `Bearer ${user}` },
    });
    assert.equal(res.status, 200);
    await res.body?.cancel();
  });
});

Deno.test("functions with verify_jwt = false and preflights pass without a JWT", async () => {
  await withGateway(async (base, seen) => {
    let res = await fetch(`${base}/functions/v1/open/x`);
    assert.equal(res.status, 200);
    await res.body?.cancel();
    assert.equal(seen.at(-1)?.path, "/open/x");

    res = await fetch(`${base}/functions/v1/guarded`, { method: "OPTIONS" });
    assert.equal(res.status, 200);
    await res.body?.cancel();
  });
});

Deno.test("unknown routes and dead upstreams answer JSON errors", async () => {
  await withGateway(async (base) => {
    let res = await fetch(`${base}/functions/v1/nope`);
    assert.equal(res.status, 404);
    assert.equal((await res.json()).code, "NOT_FOUND");

    res = await fetch(`${base}/elsewhere`);
    assert.equal(res.status, 404);
    await res.body?.cancel();

    res = await fetch(`${base}/functions/v1/down`);
    assert.equal(res.status, 503);
    assert.equal((await res.json()).code, "UPSTREAM_UNAVAILABLE");
  });
});

Deno.test("REST needs an API key and uses it as the bearer when alone", async () => {
  await withGateway(async (base, seen, keys) => {
    let res = await fetch(`${base}/rest/v1/saved_views`);
    assert.equal(res.status, 401);
    assert.equal((await res.json()).message, "No API key found in request");

    res = await fetch(`${base}/rest/v1/saved_views?select=id`, {
      headers: { apikey: keys.anonKey },
    });
    assert.equal(res.status, 200);
    await res.body?.cancel();
    assert.deepEqual(seen.at(-1), {
      path: "/saved_views?select=id",
      authorization: `Bearer ${keys.anonKey}`,
    });

    res = await fetch(`${base}/rest/v1/rpc/x`, {
      headers: { apikey: keys.anonKey, Authorization: "Bearer user-token" },
    });
    await res.body?.cancel();
    assert.equal(seen.at(-1)?.authorization, "Bearer user-token");
  });
});

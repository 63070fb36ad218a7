// The gateway's limits (issue 26, items 2 and 20): clients that leave
// mid-request release their upstream connection, request bodies are capped,
// and a silent upstream is answered 504. Real sockets on loopback, a real
// upstream server standing in for a function that reads the whole body.
import assert from "node:assert/strict";
import { createGateway, GATEWAY_LIMITS } from "../../dev/gateway.mjs";
import { prepareKeys } from "../../dev/keys.mjs";

type Upstream = { port: number; bodies: number; shutdown(): Promise<void> };

function bodyReadingUpstream(): Upstream {
  const state = { bodies: 0, abandoned: 0 };
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen() {} },
    async (req) => {
      if (new URL(req.url).pathname.endsWith("/silent")) {
        await new Promise((r) => setTimeout(r, 1_000));
        return Response.json({ late: true });
      }
      let text;
      try {
        text = await req.text();
      } catch {
        // The gateway gave up on this request: its client left.
        state.abandoned += 1;
        return new Response(null, { status: 499 });
      }
      state.bodies += 1;
      return Response.json({ bytes: text.length });
    },
  );
  return {
    port: server.addr.port,
    get bodies() {
      return state.bodies;
    },
    shutdown: () => server.shutdown(),
  };
}

async function withGateway(
  fn: (base: string, port: number, upstream: Upstream) => Promise<void>,
) {
  const upstream = bodyReadingUpstream();
  const jwtDir = await Deno.makeTempDir();
  const keys = await prepareKeys(jwtDir);
  const gateway = createGateway({
    postgrestPort: upstream.port,
    functions: [{ name: "reader", port: upstream.port, verifyJwt: false }],
    keys: { jwks: keys.jwks },
  });
  await new Promise<void>((r) => gateway.listen(0, "127.0.0.1", () => r()));
  const { port } = gateway.address() as { port: number };
  try {
    await fn(`http://127.0.0.1:${port}`, port, upstream);
  } finally {
    gateway.closeAllConnections();
    await new Promise((r) => gateway.close(r));
    await upstream.shutdown();
    await Deno.remove(jwtDir, { recursive: true });
  }
}

const encoder = new TextEncoder();

/** Sends headers and the start of a declared body, then hangs up. */
async function abandonRequest(port: number, path: string) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(encoder.encode(
    `POST ${path} HTTP/1.1\r\nhost: x\r\napikey: k\r\n` +
      `content-type: application/json\r\ncontent-length: 4096\r\n\r\n{"a":`,
  ));
  // Give the gateway time to open the upstream request before leaving.
  await new Promise((r) => setTimeout(r, 20));
  conn.close();
}

Deno.test("clients that leave mid-body do not exhaust the gateway's upstream connections", async () => {
  await withGateway(async (base, port) => {
    // More abandoned requests than the upstream agent has sockets (128).
    for (const path of ["/functions/v1/reader", "/rest/v1/things"]) {
      await Promise.all(
        Array.from({ length: 140 }, () => abandonRequest(port, path)),
      );
    }
    for (const path of ["/functions/v1/reader", "/rest/v1/things"]) {
      const res = await fetch(`${base}${path}`, {
        method: "POST",
        headers: { apikey: "k", "content-type": "application/json" },
        body: '{"ok":true}',
        signal: AbortSignal.timeout(10_000),
      });
      assert.equal(res.status, 200, path);
      assert.deepEqual(await res.json(), { bytes: 11 });
    }
  });
});

Deno.test("a body over the gateway's limit is refused with 413 before it reaches the upstream", async () => {
  const saved = GATEWAY_LIMITS.maxBodyBytes;
  GATEWAY_LIMITS.maxBodyBytes = 1000;
  try {
    await withGateway(async (base, _port, upstream) => {
      // Declared length.
      let res = await fetch(`${base}/functions/v1/reader`, {
        method: "POST",
        body: "x".repeat(1001),
      });
      assert.equal(res.status, 413);
      assert.equal((await res.json()).code, "PAYLOAD_TOO_LARGE");
      // Chunked: no length declared, counted as it arrives.
      const chunks = new ReadableStream({
        start(c) {
          for (let i = 0; i < 5; i++) {
            c.enqueue(encoder.encode("y".repeat(400)));
          }
          c.close();
        },
      });
      res = await fetch(`${base}/rest/v1/things`, {
        method: "POST",
        headers: { apikey: "k" },
        body: chunks,
      });
      assert.equal(res.status, 413);
      await res.body?.cancel();
      // At the limit it passes.
      res = await fetch(`${base}/functions/v1/reader`, {
        method: "POST",
        body: "x".repeat(1000),
      });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { bytes: 1000 });
      assert.equal(upstream.bodies, 1);
    });
  } finally {
    GATEWAY_LIMITS.maxBodyBytes = saved;
  }
});

Deno.test("an upstream that sends nothing is answered 504 after the idle limit", async () => {
  const saved = GATEWAY_LIMITS.upstreamIdleMs;
  GATEWAY_LIMITS.upstreamIdleMs = 300;
  try {
    await withGateway(async (base) => {
      const res = await fetch(`${base}/functions/v1/reader/silent`);
      assert.equal(res.status, 504);
      assert.equal((await res.json()).code, "UPSTREAM_TIMEOUT");
    });
  } finally {
    GATEWAY_LIMITS.upstreamIdleMs = saved;
  }
});

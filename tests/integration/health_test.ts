// GET /functions/v1/health through the gateway, with the database up.
import assert from "node:assert/strict";
import { adminSql, client, stack } from "../support/stack.ts";
import { startOfRoomyWindow } from "../support/windows.ts";

const healthUrl = () => `${stack().apiUrl}/functions/v1/health`;

Deno.test("health answers 200 with the database and migration state", async () => {
  const res = await fetch(healthUrl());
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/json");
  const body = await res.json();
  assert.equal(body.status, "ok");
  assert.match(body.version, /^\d+\.\d+\.\d+/);
  assert.equal(body.db.ok, true);
  assert.equal(typeof body.db.latency_ms, "number");

  const files = [...Deno.readDirSync("supabase/migrations")]
    .map((e) => e.name).filter((n) => n.endsWith(".sql")).sort();
  assert.equal(body.migrations.applied, files.length);
  assert.equal(body.migrations.latest, files.at(-1)!.split("_")[0]);

  const sql = adminSql();
  try {
    const [row] = await sql`
      select count(*)::int as n from supabase_migrations.schema_migrations`;
    assert.equal(body.migrations.applied, row.n);
  } finally {
    await sql.end();
  }
});

Deno.test("health needs no API key (verify_jwt = false)", async () => {
  const res = await fetch(healthUrl(), { method: "HEAD" });
  await res.body?.cancel();
  assert.equal(res.status, 200);
});

Deno.test("health refuses other methods with a JSON error naming the rule", async () => {
  const res = await fetch(healthUrl(), { method: "POST", body: "{}" });
  assert.equal(res.status, 405);
  assert.equal(res.headers.get("allow"), "GET, HEAD, OPTIONS");
  const body = await res.json();
  assert.equal(body.error.code, "method_not_allowed");
  assert.deepEqual(body.error.details[0].field, "method");
});

Deno.test("health answers CORS preflight", async () => {
  const res = await fetch(healthUrl(), {
    method: "OPTIONS",
    headers: {
      Origin: "http://localhost:3000",
      "Access-Control-Request-Method": "GET",
    },
  });
  await res.body?.cancel();
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("access-control-allow-origin"), "*");
});

Deno.test("supabase-js functions.invoke reaches health through the gateway", async () => {
  const { data, error } = await client().functions.invoke("health", {
    method: "GET",
  });
  assert.equal(error, null);
  assert.equal(data.status, "ok");
});

Deno.test("health is rate limited per client IP", async () => {
  // Straight to the function, as from one client address behind the gateway,
  // so this test's bucket is its own (the gateway stamps the socket address).
  const health = stack().functions.find((f) => f.name === "health")!;
  const ip = `198.18.${Math.floor(Math.random() * 250)}.${
    Math.floor(Math.random() * 250)
  }`;
  // Start at the top of a 1 s window so the whole burst counts in one.
  await startOfRoomyWindow(1000, 900);
  const replies = await Promise.all(
    Array.from(
      { length: 25 },
      () =>
        fetch(`http://127.0.0.1:${health.port}/health`, {
          headers: { "x-forwarded-for": ip },
        }),
    ),
  );
  const statuses = await Promise.all(replies.map(async (r) => {
    await r.body?.cancel();
    return r.status;
  }));
  // The platform default: 20 requests per second per IP.
  assert.equal(statuses.filter((s) => s === 200).length, 20);
  assert.equal(statuses.filter((s) => s === 429).length, 5);
  const limited = replies.find((r) => r.status === 429)!;
  assert.ok(Number(limited.headers.get("retry-after")) >= 1);
  assert.match(
    replies.find((r) => r.status === 200)!.headers.get("ratelimit-policy")!,
    /^"ip-health";q=20;w=1$/,
  );
});

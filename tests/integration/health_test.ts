// GET /functions/v1/health through the gateway, with the database up.
import assert from "node:assert/strict";
import { adminSql, client, stack } from "../support/stack.ts";

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

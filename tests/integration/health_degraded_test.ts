// With Postgres stopped, health says so (503 degraded) instead of hanging or
// crashing, and recovers once Postgres is back.
import assert from "node:assert/strict";
import { stack, stackCli, waitFor } from "../support/stack.ts";

async function health(): Promise<
  { status: number; body: Record<string, unknown> }
> {
  const res = await fetch(`${stack().apiUrl}/functions/v1/health`);
  return { status: res.status, body: await res.json() };
}

Deno.test("health answers 503 degraded while Postgres is stopped", async () => {
  assert.equal((await health()).status, 200);
  await stackCli("db:stop");
  try {
    const { status, body } = await health();
    assert.equal(status, 503);
    assert.equal(body.status, "degraded");
    assert.deepEqual(body.db, {
      ok: false,
      latency_ms: null,
      error: "database unreachable",
    });
    assert.equal(body.migrations, null);
  } finally {
    await stackCli("db:start");
    // Later tests need PostgREST reconnected and health green again.
    const admin = `http://127.0.0.1:${stack().postgrestAdminPort}/ready`;
    await waitFor("PostgREST", async () => {
      const res = await fetch(admin);
      await res.body?.cancel();
      return res.ok;
    });
    await waitFor("health", async () => (await health()).status === 200);
  }
});

// The edge functions' Postgres pools (_shared/db.ts) against the running stack:
// a pool given a statement timeout bounds every statement with it (the ingest
// function relies on it to answer 503 under overload), the default pool does not.
import assert from "node:assert/strict";
import { stack } from "../support/stack.ts";

Deno.test("a pool's statement timeout bounds its statements, and only its own", async () => {
  Deno.env.set("SUPABASE_DB_URL", stack().dbUrl);
  const { sql } = await import("../../supabase/functions/_shared/db.ts");
  const bounded = sql({ statementTimeoutMs: 300 });
  const unbounded = sql();
  try {
    const [row] = await bounded`show statement_timeout`;
    assert.equal(row.statement_timeout, "300ms");
    await assert.rejects(
      bounded`select pg_sleep(2)`,
      (err: { code?: string }) => err.code === "57014",
    );
    const [other] = await unbounded`show statement_timeout`;
    assert.equal(other.statement_timeout, "0");
    assert.equal(
      sql({ statementTimeoutMs: 300 }),
      bounded,
      "one pool per options",
    );
  } finally {
    await bounded.end();
    await unbounded.end();
  }
});

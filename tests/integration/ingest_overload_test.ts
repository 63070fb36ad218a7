// Overload: an ingest instance works on a bounded number of requests at once
// (MERIDIAN_INGEST_MAX_IN_FLIGHT) and answers the rest 503 with Retry-After at
// once, storing nothing of them; the requests it took still commit. The
// database is made slow for real: an open transaction holds the organization's
// row, so the admitted requests wait on a lock inside Postgres.
import assert from "node:assert/strict";
import { adminSql } from "../support/stack.ts";
import { createIngestTarget, track } from "../support/ingest.ts";
import { startFunction } from "../support/functions.ts";

/** The promise's value, or a failure naming what did not answer in time. */
function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: no answer within ${ms} ms`)),
      ms,
    );
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

Deno.test("past its bound, ingestion sheds requests with 503 and stores only what it took", async () => {
  const sql = adminSql();
  const ingest = await startFunction("ingest", {
    MERIDIAN_INGEST_MAX_IN_FLIGHT: "2",
    MERIDIAN_DB_POOL_SIZE: "2",
  });
  const base = `${ingest.url}/ingest`;
  const blocker = await sql.reserve();
  try {
    const target = await createIngestTarget(sql, "overload");
    await blocker`begin`;
    await blocker`select 1 from public.organizations where id = ${target.orgId} for update`;

    // Two requests take both slots and wait on the lock in Postgres.
    const admitted = [
      track(base, target, "taken-1"),
      track(base, target, "taken-2"),
    ];
    const deadline = Date.now() + 20_000;
    for (;;) {
      // (the second waits behind the first: they share a user's identifiers)
      const [{ n }] = await sql`select count(*)::int as n from pg_stat_activity
                                where wait_event_type = 'Lock'
                                  and query like '%ingest_batch_metered%'`;
      if (n === 2) break;
      assert.ok(Date.now() < deadline, `only ${n} request(s) reached the lock`);
      await new Promise((r) => setTimeout(r, 50));
    }

    // Every further request is refused at once, with when to come back.
    const shed = await within(
      10_000,
      Promise.all(
        Array.from({ length: 5 }, (_, i) => track(base, target, `shed-${i}`)),
      ),
      "requests past the bound",
    );
    for (const reply of shed) {
      assert.equal(reply.status, 503);
      assert.equal(reply.headers.get("retry-after"), "1");
      assert.equal((reply.json.error as { code: string }).code, "overloaded");
    }

    // The lock goes; what was taken commits, and the slots free up.
    await blocker`commit`;
    for (const reply of await Promise.all(admitted)) {
      assert.equal(reply.status, 200, JSON.stringify(reply.json));
    }
    assert.equal((await track(base, target, "after")).status, 200);

    const stored = await sql`select message_id from public.events
                             where org_id = ${target.orgId} order by message_id`;
    assert.deepEqual(stored.map((e) => e.message_id), [
      "after",
      "taken-1",
      "taken-2",
    ]);
  } finally {
    await blocker`rollback`; // a warning only, once committed
    blocker.release();
    await ingest.stop();
    await sql.end();
  }
});

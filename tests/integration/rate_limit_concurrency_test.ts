// check_rate_limit is exact under concurrency: 32 connections racing on one key
// never get more than the limit admitted in a window, and denied calls consume
// nothing (pgTAP cannot race, hence this test).
import assert from "node:assert/strict";
import postgres from "postgres";
import { stack } from "../support/stack.ts";
import { startOfRoomyWindow } from "../support/windows.ts";

const CONNECTIONS = 32;
const WINDOW_MS = 60_000;

type Row = { allowed: boolean; remaining: number };

async function race(
  key: string,
  limit: number,
  cost: number,
  callsPerConnection: number,
): Promise<Row[]> {
  const clients = Array.from(
    { length: CONNECTIONS },
    () => postgres(stack().dbUrl, { max: 1, onnotice: () => {} }),
  );
  try {
    // Open every connection first so the calls really overlap.
    await Promise.all(clients.map((c) => c`select 1`));
    const perClient = await Promise.all(clients.map(async (c) => {
      const rows: Row[] = [];
      for (let i = 0; i < callsPerConnection; i++) {
        const [row] = await c<Row[]>`
          select allowed, remaining
          from public.check_rate_limit(${key}, ${limit}, ${WINDOW_MS}, ${cost})`;
        rows.push(row);
      }
      return rows;
    }));
    return perClient.flat();
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
}

Deno.test("32 connections on one key get exactly the limit admitted", async () => {
  await startOfRoomyWindow(WINDOW_MS, 10_000);
  const key = `race:${crypto.randomUUID()}`;
  const rows = await race(key, 50, 1, 10);
  assert.equal(rows.length, 320);
  assert.equal(rows.filter((r) => r.allowed).length, 50);
  // Each admitted call saw a distinct remaining count: no two shared a slot.
  const remaining = rows.filter((r) => r.allowed).map((r) => r.remaining)
    .sort((a, b) => a - b);
  assert.deepEqual(remaining, Array.from({ length: 50 }, (_, i) => i));
});

Deno.test("denied calls consume nothing, whatever their cost", async () => {
  await startOfRoomyWindow(WINDOW_MS, 10_000);
  const key = `race:${crypto.randomUUID()}`;
  const rows = await race(key, 100, 7, 4);
  // 14 calls of 7 fit in 100; the 2 units left fit no further call.
  assert.equal(rows.filter((r) => r.allowed).length, 14);
  const sql = postgres(stack().dbUrl, { max: 1, onnotice: () => {} });
  try {
    const [after] = await sql<Row[]>`
      select allowed, remaining from public.check_rate_limit(${key}, 100, ${WINDOW_MS}, 2)`;
    assert.deepEqual(after, { allowed: true, remaining: 0 });
  } finally {
    await sql.end();
  }
});

// Slow request bodies (issue 26, item 1): a client that declares a body, sends
// a few bytes and waits must not hold the capacity that stores other clients'
// events, and is answered 408 once its body's deadline passes. Real sockets
// against a real ingest process with small bounds.
import assert from "node:assert/strict";
import { adminSql } from "../support/stack.ts";
import { createIngestTarget, track } from "../support/ingest.ts";
import { startFunction } from "../support/functions.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Opens a request whose body stalls after a few bytes; resolves to its answer. */
async function stallingRequest(
  port: number,
  headers: string,
): Promise<{ conn: Deno.TcpConn; answer: Promise<string> }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(encoder.encode(
    `POST /ingest/v1/track HTTP/1.1\r\nhost: x\r\n${headers}` +
      `content-type: application/json\r\ncontent-length: 4096\r\n\r\n{"event":`,
  ));
  const answer = (async () => {
    const buf = new Uint8Array(4096);
    const n = await conn.read(buf);
    return n === null ? "" : decoder.decode(buf.subarray(0, n));
  })();
  return { conn, answer };
}

function closeIfOpen(conn: Deno.TcpConn) {
  try {
    conn.close();
  } catch (err) {
    // Already closed after the server's answer: that is what we expect.
    if (!(err instanceof Deno.errors.BadResource)) throw err;
  }
}

Deno.test("slow bodies neither block other clients nor hang: 408 after the deadline", async () => {
  const sql = adminSql();
  const ingest = await startFunction("ingest", {
    MERIDIAN_INGEST_MAX_IN_FLIGHT: "4",
    MERIDIAN_INGEST_MAX_UNAUTHENTICATED_READS: "4",
    MERIDIAN_BODY_TIMEOUT_MS: "3000",
    MERIDIAN_BODY_IDLE_TIMEOUT_MS: "2000",
  });
  const port = Number(new URL(ingest.url).port);
  const stalled: { conn: Deno.TcpConn; answer: Promise<string> }[] = [];
  try {
    const target = await createIngestTarget(sql, "slow-body");
    const auth = `authorization: Basic ${btoa(`${target.writeKey}:`)}\r\n`;
    // More stalled bodies than the instance has slots, with and without a key.
    for (let i = 0; i < 8; i++) {
      stalled.push(await stallingRequest(port, i % 2 ? auth : ""));
    }
    await new Promise((r) => setTimeout(r, 300));

    // Meanwhile a client with a whole body is served at once.
    const started = Date.now();
    const reply = await track(`${ingest.url}/ingest`, target, "served");
    assert.equal(reply.status, 200, JSON.stringify(reply.json));
    assert.ok(
      Date.now() - started < 2_000,
      "a complete request waited for the stalled ones",
    );

    // Every stalled request is answered: 408 when its deadline passes, or
    // 503 at once past the unauthenticated readers' bound. None hangs.
    const answers = await Promise.all(stalled.map((s) => s.answer));
    const statuses = answers.map((a) => Number(a.split(" ")[1]));
    for (const [i, status] of statuses.entries()) {
      assert.ok([408, 503].includes(status), `request ${i}: ${answers[i]}`);
    }
    // Those that carried a key were read (no bound applies) and timed out.
    assert.deepEqual(statuses.filter((_, i) => i % 2 === 1), [
      408,
      408,
      408,
      408,
    ]);
    assert.match(answers[1], /"code":"request_timeout"/);
    assert.match(answers[1], /"field":"\(body\)"/);

    const stored = await sql`select message_id from public.events
                             where org_id = ${target.orgId}`;
    assert.deepEqual(stored.map((e) => e.message_id), ["served"]);
  } finally {
    for (const s of stalled) closeIfOpen(s.conn);
    await ingest.stop();
    await sql.end();
  }
});

// An ingest instance keeps a client's connection open across batches, as the
// gateway's connection pool and every SDK's keep-alive agent expect. Deno
// 2.8.3 to 2.9.5 answered `Connection: close` to any request whose body did
// not fit its first read (denoland/deno#36657): each batch then cost the
// gateway and the function a TCP connection of its own. Checked on the wire,
// on one socket, since an HTTP client would quietly open a new connection.
import assert from "node:assert/strict";
import { adminSql, stack } from "../support/stack.ts";
import { basicAuth, createIngestTarget } from "../support/ingest.ts";

type RawResponse = {
  status: number;
  headers: Map<string, string>;
  body: string;
};

/** Reads one response of Content-Length framing; null if the server closed first. */
async function readResponse(
  conn: Deno.Conn,
  buffered: { bytes: Uint8Array },
): Promise<RawResponse | null> {
  const decoder = new TextDecoder();
  const chunk = new Uint8Array(64 * 1024);
  const append = (more: Uint8Array) => {
    const joined = new Uint8Array(buffered.bytes.length + more.length);
    joined.set(buffered.bytes);
    joined.set(more, buffered.bytes.length);
    buffered.bytes = joined;
  };
  const headEnd = () => decoder.decode(buffered.bytes).indexOf("\r\n\r\n");
  while (headEnd() < 0) {
    const n = await conn.read(chunk);
    if (n === null) return null;
    append(chunk.subarray(0, n));
  }
  const text = decoder.decode(buffered.bytes);
  const end = headEnd();
  const [statusLine, ...lines] = text.slice(0, end).split("\r\n");
  const headers = new Map(lines.map((l) => {
    const i = l.indexOf(":");
    return [l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim()];
  }));
  assert.ok(
    headers.has("content-length"),
    `expected a Content-Length response, got ${statusLine}`,
  );
  const length = Number(headers.get("content-length"));
  const headBytes = new TextEncoder().encode(text.slice(0, end + 4)).length;
  while (buffered.bytes.length < headBytes + length) {
    const n = await conn.read(chunk);
    if (n === null) return null;
    append(chunk.subarray(0, n));
  }
  const body = decoder.decode(
    buffered.bytes.subarray(headBytes, headBytes + length),
  );
  buffered.bytes = buffered.bytes.slice(headBytes + length);
  return { status: Number(statusLine.split(" ")[1]), headers, body };
}

Deno.test("an ingest instance keeps the connection open across batches", async () => {
  const sql = adminSql();
  const ingest = stack().functions.find((f) => f.name === "ingest")!;
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: ingest.port });
  try {
    const target = await createIngestTarget(sql, "keep-alive");
    const buffered = { bytes: new Uint8Array() };
    for (const round of [1, 2, 3]) {
      // About 8 KB: far past the few hundred bytes the bug allowed.
      const body = JSON.stringify({
        batch: Array.from({ length: 20 }, (_, i) => ({
          type: "track",
          event: "Kept Alive",
          messageId: `keep-alive-${round}-${i}`,
          anonymousId: `visitor-${i}`,
          properties: { note: "x".repeat(300) },
        })),
      });
      const bytes = new TextEncoder().encode(body);
      const head = [
        "POST /ingest/v1/batch HTTP/1.1",
        `Host: 127.0.0.1:${ingest.port}`,
        `Authorization: ${basicAuth(target.writeKey)}`,
        "Content-Type: application/json",
        `Content-Length: ${bytes.length}`,
        "",
        "",
      ].join("\r\n");
      await conn.write(new TextEncoder().encode(head));
      await conn.write(bytes);
      const res = await readResponse(conn, buffered);
      assert.ok(
        res,
        `the server closed the connection before answering batch ${round}`,
      );
      assert.equal(res.status, 200, res.body);
      assert.equal(JSON.parse(res.body).accepted, 20);
      assert.notEqual(
        res.headers.get("connection")?.toLowerCase(),
        "close",
        `batch ${round} was answered with Connection: close`,
      );
    }
    const [{ n }] = await sql`
      select count(*)::int as n from public.events where org_id = ${target.orgId}`;
    assert.equal(n, 60);
  } finally {
    conn.close();
    await sql.end();
  }
});

// Hostile ingestion input over HTTP (issue 26, items 4, 5, 13, 14 and 15): a
// message the database cannot store as sent is refused with its field named,
// and the rest of its batch is stored; nothing is a 5xx.
import assert from "node:assert/strict";
import { adminSql } from "../support/stack.ts";
import { createIngestTarget, post } from "../support/ingest.ts";

Deno.test("one unstorable message is refused by name and its batch is stored", async () => {
  const sql = adminSql();
  try {
    const target = await createIngestTarget(sql, "hostile");
    const good = (id: string) => ({
      type: "track",
      messageId: id,
      anonymousId: `anon-${id}`,
      event: "Viewed",
    });
    // Raw text: 1e400 must reach the function as sent, which no JS literal can.
    const batch = `{"batch": [
      ${JSON.stringify(good("ok-1"))},
      {"type": "identify", "messageId": "bad-email", "userId": "u-1",
       "traits": {"email": {"blob": "${"x".repeat(3000)}"}}},
      {"type": "track", "messageId": "bad-time", "anonymousId": "a-2", "event": "E",
       "originalTimestamp": "0000-01-01T00:00:00Z"},
      {"type": "track", "messageId": "bad-number", "anonymousId": "a-3", "event": "Paid",
       "properties": {"revenue": 1e400}},
      {"type": "track", "messageId": "bad-key", "anonymousId": "a-4", "event": "E",
       "properties": {"__proto__": {"admin": true}}},
      ${JSON.stringify(good("ok-2"))}
    ]}`;
    const reply = await post(target, "batch", batch);
    assert.equal(reply.status, 200, JSON.stringify(reply.json));
    assert.equal(reply.json.accepted, 2);
    const rejected = reply.json.rejected as {
      messageId: string;
      details: { field: string; rule: string }[];
    }[];
    assert.deepEqual(
      rejected.map((r) => [r.messageId, r.details[0].field]),
      [
        ["bad-email", "traits.email"],
        ["bad-time", "originalTimestamp"],
        ["bad-number", "properties.revenue"],
        ["bad-key", "properties.__proto__"],
      ],
    );
    const stored = await sql`select message_id from public.events
                             where org_id = ${target.orgId} order by message_id`;
    assert.deepEqual(stored.map((e) => e.message_id), ["ok-1", "ok-2"]);
  } finally {
    await sql.end();
  }
});

Deno.test("a single-message body of exactly the limit is accepted", async () => {
  const sql = adminSql();
  try {
    const target = await createIngestTarget(sql, "exact-limit");
    const body = {
      messageId: "exact",
      anonymousId: "a-exact",
      event: "Big",
      properties: { blob: "" },
    };
    body.properties.blob = "x".repeat(32 * 1024 - JSON.stringify(body).length);
    const text = JSON.stringify(body);
    assert.equal(new TextEncoder().encode(text).byteLength, 32 * 1024);
    const reply = await post(target, "track", text);
    assert.equal(reply.status, 200, JSON.stringify(reply.json));
    const over = await post(target, "track", text + " ");
    assert.equal(over.status, 413);
  } finally {
    await sql.end();
  }
});

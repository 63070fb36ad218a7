// Per-message validation of the ingest function: what a wrong type is told,
// and how a batch's context reaches its messages.
import assert from "node:assert/strict";
import {
  MAX_MESSAGE_BYTES,
  validateMessage,
} from "../../supabase/functions/ingest/validate.ts";

const track = { type: "track", userId: "u1", event: "Signed Up" };
const fieldsAndRules = (raw: unknown, envelope = {}) =>
  validateMessage(raw, 3, envelope).rejected?.details.map((d) => [
    d.field,
    d.rule,
    d.message,
  ]);

Deno.test("a context that is not an object is refused, not spread into one", () => {
  for (const context of ["web", ["a"], 5]) {
    const result = validateMessage({ ...track, context }, 0, {
      context: { library: { name: "batch" } },
    });
    assert.equal(result.message, undefined, JSON.stringify(context));
    assert.deepEqual(
      result.rejected?.details.map((d) => [d.field, d.rule]),
      [["context", "invalid_type"]],
    );
  }
});

Deno.test("the batch's context applies under each message's own keys", () => {
  const { message } = validateMessage(
    { ...track, context: { ip: "203.0.113.9" } },
    0,
    { context: { ip: "198.51.100.1", library: { name: "analytics-node" } } },
  );
  assert.deepEqual(message?.context, {
    ip: "203.0.113.9",
    library: { name: "analytics-node" },
  });
  for (const context of [undefined, null]) {
    const bare = validateMessage({ ...track, context }, 0, {
      context: { locale: "fr-FR" },
    });
    assert.deepEqual(bare.message?.context, { locale: "fr-FR" });
  }
});

Deno.test("a bad timestamp names the field, the format and an example", () => {
  for (const field of ["timestamp", "sentAt", "originalTimestamp"]) {
    for (const value of ["yesterday", "2026-13-01T00:00:00Z", 1700000000]) {
      const [detail] = fieldsAndRules({ ...track, [field]: value })!;
      assert.equal(detail[0], field);
      assert.match(String(detail[1]), /^(format:datetime|invalid_type)$/);
      assert.match(String(detail[2]), /ISO 8601 date-time, such as/);
    }
  }
  assert.equal(
    validateMessage({ ...track, timestamp: "2026-11-22T10:00:00+02:00" }, 0, {})
      .rejected,
    undefined,
  );
});

Deno.test("an id of the wrong type says what an id may be", () => {
  assert.deepEqual(fieldsAndRules({ ...track, userId: { id: 1 } }), [[
    "userId",
    "invalid_union",
    "a string of 1 to 512 characters, or a number",
  ]]);
  assert.deepEqual(
    fieldsAndRules({ type: "alias", userId: "u1", previousId: true }),
    [[
      "previousId",
      "invalid_union",
      "a string of 1 to 512 characters, or a number",
    ]],
  );
  // A number is an id, as Segment's libraries stringify it.
  assert.equal(
    validateMessage({ ...track, userId: 42 }, 0, {}).message?.userId,
    "42",
  );
});

Deno.test("the rejection carries the message's position and messageId", () => {
  const { rejected } = validateMessage(
    { ...track, messageId: "m-1", event: "" },
    7,
    {},
  );
  assert.equal(rejected?.index, 7);
  assert.equal(rejected?.messageId, "m-1");
  assert.deepEqual(rejected?.details.map((d) => d.field), ["event"]);
});

Deno.test("not an object, an unknown type and an oversized message", () => {
  assert.deepEqual(fieldsAndRules("track")?.map((d) => d.slice(0, 2)), [[
    "(message)",
    "object",
  ]]);
  assert.deepEqual(
    fieldsAndRules({ ...track, type: "purchase" })?.map((d) => d.slice(0, 2)),
    [["type", "one_of:identify,track,page,screen,group,alias"]],
  );
  const big = { ...track, properties: { blob: "x".repeat(MAX_MESSAGE_BYTES) } };
  assert.deepEqual(fieldsAndRules(big)?.map((d) => d.slice(0, 2)), [[
    "(message)",
    `max_bytes:${MAX_MESSAGE_BYTES}`,
  ]]);
});

Deno.test("the message limit counts UTF-8 bytes, not characters", () => {
  // "é" is one UTF-16 unit and two bytes of UTF-8: this message has fewer
  // characters than the limit and more bytes.
  const blob = "é".repeat(Math.ceil(MAX_MESSAGE_BYTES / 2));
  const over = { ...track, properties: { blob } };
  const bytes = new TextEncoder().encode(JSON.stringify(over)).byteLength;
  assert.ok(JSON.stringify(over).length < MAX_MESSAGE_BYTES);
  assert.deepEqual(fieldsAndRules(over), [[
    "(message)",
    `max_bytes:${MAX_MESSAGE_BYTES}`,
    `${bytes} bytes`,
  ]]);
  // Under the limit in bytes, though over a third of it in characters.
  const under = {
    ...track,
    properties: { blob: "é".repeat(MAX_MESSAGE_BYTES / 2 - 200) },
  };
  assert.ok(JSON.stringify(under).length * 3 > MAX_MESSAGE_BYTES);
  assert.ok(validateMessage(under, 0, {}).message);
});

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

// Issue 26, items 4, 5, 13 and 14: one bad message is refused with its field
// named, never a 500 for the batch and never a value changed silently.
Deno.test("contact fields and identifiers that no index takes are refused, naming the field", () => {
  const objectEmail = { nested: "x".repeat(3000) };
  assert.deepEqual(
    fieldsAndRules({
      ...track,
      type: "identify",
      traits: { email: objectEmail },
    })
      ?.map((d) => d[0]),
    ["traits.email"],
  );
  assert.deepEqual(
    fieldsAndRules({ ...track, context: { traits: { email: objectEmail } } })
      ?.map((d) => d[0]),
    ["context.traits.email"],
  );
  assert.deepEqual(
    fieldsAndRules({ ...track, context: { traits: { phone: ["555"] } } })
      ?.map((d) => d[0]),
    ["context.traits.phone"],
  );
  assert.deepEqual(
    fieldsAndRules({ ...track, context: { device: { id: "d".repeat(513) } } })
      ?.map((d) => d[0]),
    ["context.device.id"],
  );
  assert.deepEqual(
    fieldsAndRules({
      ...track,
      context: {
        externalIds: [{ type: "crm", id: "ok" }, { type: "crm", id: {} }],
      },
    })?.map((d) => d[0]),
    ["context.externalIds.1.id"],
  );
  // The batch's context reaches each message, and is checked there.
  assert.deepEqual(
    fieldsAndRules(track, { context: { traits: { email: 42 } } })?.map((d) =>
      d[0]
    ),
    ["context.traits.email"],
  );
  for (
    const ok of [{ email: "a@b.example", phone: 5551234 }, { email: null }]
  ) {
    assert.ok(
      validateMessage({ ...track, type: "identify", traits: ok }, 0, {})
        .message,
    );
  }
});

Deno.test("a date-time Postgres cannot store (year 0000) is refused in every timestamp field", () => {
  for (const field of ["timestamp", "sentAt", "originalTimestamp"]) {
    const [detail] = fieldsAndRules({
      ...track,
      [field]: "0000-01-01T00:00:00Z",
    })!;
    assert.equal(detail[0], field);
    assert.match(String(detail[2]), /between the years 0001 and 9999/);
  }
  assert.ok(
    validateMessage(
      { ...track, originalTimestamp: "0001-01-01T00:00:00Z" },
      0,
      {},
    )
      .message,
  );
});

Deno.test("numbers beyond a double and __proto__ keys are refused with their path", () => {
  const parsed = JSON.parse(
    '{"type":"track","userId":"u1","event":"Paid","properties":{"revenue":1e400}}',
  );
  assert.deepEqual(fieldsAndRules(parsed)?.map((d) => d.slice(0, 2)), [[
    "properties.revenue",
    "finite_number",
  ]]);
  const proto = JSON.parse(
    '{"type":"track","userId":"u1","event":"E","properties":{"a":[{"__proto__":{"x":1}}]}}',
  );
  assert.deepEqual(fieldsAndRules(proto)?.map((d) => d.slice(0, 2)), [[
    "properties.a.0.__proto__",
    "reserved_key",
  ]]);
});

Deno.test("a message already measured as sent is not measured again", () => {
  // A single-message body of exactly the limit, as sent: the function adds
  // its type, which must not push it over.
  const body = { userId: "u1", event: "E", properties: { blob: "" } };
  const room = MAX_MESSAGE_BYTES - JSON.stringify(body).length;
  body.properties.blob = "x".repeat(room);
  assert.equal(JSON.stringify(body).length, MAX_MESSAGE_BYTES);
  const item = { ...body, type: "track" };
  assert.ok(validateMessage(item, 0, {}).rejected, "re-measured, it is over");
  assert.ok(validateMessage(item, 0, {}, { measured: true }).message);
});

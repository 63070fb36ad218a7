// Pure parts of the principal module.
import assert from "node:assert/strict";
import {
  parseIp,
  requestContext,
} from "../../supabase/functions/_shared/auth.ts";

Deno.test("parseIp accepts IPv4 and IPv6 literals and drops anything else", () => {
  assert.equal(parseIp("203.0.113.7"), "203.0.113.7");
  assert.equal(parseIp(" 2001:db8::1 "), "2001:db8::1");
  assert.equal(parseIp("::ffff:192.0.2.1"), "::ffff:192.0.2.1");
  for (
    const bad of [
      "",
      "999.1.1.1",
      "foo",
      ":::",
      "1.2.3",
      "2001:db8::zz",
      "127.0.0.1;drop",
    ]
  ) {
    assert.equal(parseIp(bad), null, bad);
  }
});

Deno.test("requestContext takes the first forwarded hop and keeps a request id", () => {
  const ctx = requestContext(
    new Request("http://x/", {
      headers: {
        "x-forwarded-for": "198.51.100.2, 10.0.0.1",
        "x-request-id": "r-1",
      },
    }),
  );
  assert.deepEqual(ctx, {
    ip: "198.51.100.2",
    userAgent: null,
    requestId: "r-1",
  });
  const generated = requestContext(
    new Request("http://x/", { headers: { "x-forwarded-for": "junk" } }),
  );
  assert.equal(generated.ip, null);
  assert.match(generated.requestId, /^[0-9a-f-]{36}$/);
});

// Pure parts of the principal module.
import assert from "node:assert/strict";
import {
  clientIp,
  parseIp,
  requestContext,
} from "../../supabase/functions/_shared/auth.ts";
import { principalForSql } from "../../supabase/functions/_shared/rate_limit.ts";

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

Deno.test("the client is the hop the trusted proxy appended, not what the client wrote", () => {
  // The client sent "X-Forwarded-For: 203.0.113.9"; the gateway appended the
  // address it saw. Trusting the left-most entry let a client pick its IP.
  assert.equal(clientIp("203.0.113.9, 198.51.100.2"), "198.51.100.2");
  assert.equal(clientIp("198.51.100.2"), "198.51.100.2");
  // Behind a CDN that appends too, the second entry from the right.
  assert.equal(
    clientIp("203.0.113.9, 198.51.100.2, 10.0.0.1", 2),
    "198.51.100.2",
  );
  assert.equal(clientIp("10.0.0.1", 2), null);
  // A malformed right-most entry is no address, whatever stands left of it.
  assert.equal(clientIp("198.51.100.2, junk"), null);
  assert.equal(clientIp(""), null);
  assert.equal(clientIp(null), null);
});

Deno.test("a request whose address cannot be read is rate-limited in one shared bucket", () => {
  const context = requestContext(
    new Request("http://x/", { headers: { "x-forwarded-for": "1.2.3.4:80" } }),
  );
  assert.equal(context.ip, null);
  const forSql = principalForSql({
    kind: "anonymous",
    actorId: "unparseable",
    orgId: null,
    permissions: [],
    context,
  });
  assert.equal(forSql.ip, "unparseable");
});

Deno.test("requestContext takes the appended forwarded hop and keeps a request id", () => {
  const ctx = requestContext(
    new Request("http://x/", {
      headers: {
        "x-forwarded-for": "10.0.0.1, 198.51.100.2",
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

// The IETF draft fields (draft-ietf-httpapi-ratelimit-headers) as the edge sends
// them on admitted and denied requests.
import assert from "node:assert/strict";
import {
  type Decision,
  rateLimitedError,
  rateLimitHeaders,
} from "../../supabase/functions/_shared/rate_limit.ts";

const decision = (over: Partial<Decision>): Decision => ({
  allowed: true,
  limit: 100,
  remaining: 42,
  resetAt: Date.now() + 1500,
  retryAfterMs: 0,
  windowMs: 60_000,
  policy: "org-ingest",
  decidedBy: "postgres",
  ...over,
});

Deno.test("an admitted request carries RateLimit-Policy and RateLimit", () => {
  const h = rateLimitHeaders(decision({}));
  assert.equal(h["RateLimit-Policy"], '"org-ingest";q=100;w=60');
  assert.equal(h["RateLimit"], '"org-ingest";r=42;t=2');
  assert.equal(h["Retry-After"], undefined);
  assert.equal(h["X-RateLimit-Reset"], undefined);
});

Deno.test("a denial says when to retry, in both fields", () => {
  const denied = decision({ allowed: false, remaining: 0, retryAfterMs: 2100 });
  const h = rateLimitHeaders(denied);
  assert.equal(h["RateLimit"], '"org-ingest";r=0;t=3');
  assert.equal(h["Retry-After"], "3");
  assert.equal(
    h["X-RateLimit-Reset"],
    "3",
    "Segment's field, which analytics.js reads",
  );
  const err = rateLimitedError(denied);
  assert.equal(err.status, 429);
  assert.equal(err.code, "rate_limited");
  assert.equal(err.details[0].rule, "org-ingest:100/60000ms");
});

Deno.test("no policy, no fields", () => {
  assert.deepEqual(rateLimitHeaders(null), {});
});

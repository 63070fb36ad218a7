import assert from "node:assert/strict";
import {
  ConcurrencyLimit,
  limitFromEnv,
} from "../../supabase/functions/_shared/concurrency_limit.ts";

Deno.test("slots are refused past the limit and come back once released", () => {
  const limit = new ConcurrencyLimit(2);
  const a = limit.tryAcquire();
  const b = limit.tryAcquire();
  assert.ok(a && b);
  assert.equal(limit.tryAcquire(), null);
  a();
  a(); // a second release of the same slot frees nothing more
  assert.equal(limit.inFlight, 1);
  assert.ok(limit.tryAcquire());
  assert.equal(limit.tryAcquire(), null);
});

Deno.test("a limit is a positive integer, from code or the environment", () => {
  assert.throws(() => new ConcurrencyLimit(0));
  assert.throws(() => new ConcurrencyLimit(1.5));
  Deno.env.delete("MERIDIAN_TEST_LIMIT");
  assert.equal(limitFromEnv("MERIDIAN_TEST_LIMIT", 64), 64);
  Deno.env.set("MERIDIAN_TEST_LIMIT", "8");
  assert.equal(limitFromEnv("MERIDIAN_TEST_LIMIT", 64), 8);
  Deno.env.set("MERIDIAN_TEST_LIMIT", "lots");
  assert.throws(
    () => limitFromEnv("MERIDIAN_TEST_LIMIT", 64),
    /positive integer/,
  );
  Deno.env.delete("MERIDIAN_TEST_LIMIT");
});

// The shared error helper: every failure becomes {"error": {code, message, details}}.
import assert from "node:assert/strict";
import { z } from "zod";
import {
  errorResponse,
  HttpError,
  secondsUntilPeriodEnd,
  toErrorResponse,
} from "../../supabase/functions/_shared/errors.ts";

async function body(res: Response) {
  assert.equal(res.headers.get("content-type"), "application/json");
  return (await res.json()).error;
}

Deno.test("a zod error is a 400 naming each field and rule", async () => {
  const schema = z.object({
    event: z.string().min(1),
    properties: z.object({ revenue: z.number() }),
  });
  const parsed = schema.safeParse({ event: "", properties: { revenue: "x" } });
  assert.equal(parsed.success, false);
  const res = toErrorResponse(parsed.error);
  assert.equal(res.status, 400);
  const error = await body(res);
  assert.equal(error.code, "invalid_request");
  assert.deepEqual(
    error.details.map((
      d: { field: string; rule: string },
    ) => [d.field, d.rule]),
    [["event", "too_small"], ["properties.revenue", "invalid_type"]],
  );
});

Deno.test("Postgres errors map by SQLSTATE and keep our RAISE messages", async () => {
  const cases: [string, number, string][] = [
    ["23505", 409, "conflict"],
    ["42501", 403, "forbidden"],
    ["22023", 400, "invalid_input"],
    ["22001", 400, "invalid_input"], // class 22 fallback
    ["P0002", 404, "not_found"],
    ["PT404", 404, "not_found"],
    ["08006", 503, "database_unavailable"],
  ];
  for (const [code, status, name] of cases) {
    const res = toErrorResponse({
      code,
      message: `m-${code}`,
      detail: "field: name",
    });
    assert.equal(res.status, status, code);
    const error = await body(res);
    assert.equal(error.code, name);
    assert.equal(error.message, `m-${code}`);
    assert.deepEqual(error.details, [{ message: "field: name" }]);
  }
  const busy = toErrorResponse({ code: "40P01", message: "deadlock detected" });
  assert.equal(busy.headers.get("retry-after"), "1");
  await busy.body?.cancel();
});

Deno.test("an unexpected error is a 500 that leaks nothing", async () => {
  const original = console.error;
  console.error = () => {};
  try {
    const res = toErrorResponse(new Error("secret connection string here"));
    assert.equal(res.status, 500);
    const error = await body(res);
    assert.deepEqual(error, {
      code: "internal_error",
      message: "Internal error",
      details: [],
    });
  } finally {
    console.error = original;
  }
});

Deno.test("HttpError and errorResponse keep status, code, details and headers", async () => {
  const res = toErrorResponse(
    new HttpError(429, "rate_limited", "slow down", [], { "Retry-After": "3" }),
  );
  assert.equal(res.status, 429);
  assert.equal(res.headers.get("retry-after"), "3");
  assert.equal((await body(res)).code, "rate_limited");
  const direct = errorResponse(413, "payload_too_large", "too big", [
    { field: "batch", rule: "max_bytes:512000", message: "600000 bytes" },
  ]);
  assert.equal(direct.status, 413);
  assert.equal((await body(direct)).details[0].rule, "max_bytes:512000");
});

Deno.test("a used-up quota (MQ001) is a 429 naming the metric and period", async () => {
  const res = toErrorResponse({
    code: "MQ001",
    message: "quota exceeded: 100000 of 100000 events per month used",
    detail: "events:month",
    hint: "Upgrade the plan or wait for the next period.",
  });
  assert.equal(res.status, 429);
  assert.ok(Number(res.headers.get("retry-after")) >= 1);
  const error = await body(res);
  assert.equal(error.code, "quota_exceeded");
  assert.deepEqual(
    [error.details[0].field, error.details[0].rule],
    ["events", "quota:month"],
  );
});

Deno.test("quota periods end at the next UTC midnight or month", () => {
  const at = new Date("2026-02-28T23:59:30Z");
  assert.equal(secondsUntilPeriodEnd("day", at), 30);
  assert.equal(secondsUntilPeriodEnd("month", at), 30);
  assert.equal(
    secondsUntilPeriodEnd("month", new Date("2026-12-31T00:00:00Z")),
    86_400,
  );
});

import assert from "node:assert/strict";
import {
  corsHeaders,
  preflight,
} from "../../supabase/functions/_shared/http.ts";

const ask = (headers: string) =>
  new Request("http://fn/ingest/v1/track", {
    method: "OPTIONS",
    headers: { "Access-Control-Request-Headers": headers },
  });

Deno.test("a preflight allows the fixed headers, or with anyHeader what the page asks", () => {
  const asked = "anonymousid,sentat,rsa-since-last-attempt,authorization";
  const fixed = preflight(ask(asked))!;
  assert.equal(
    fixed.headers.get("access-control-allow-headers"),
    corsHeaders["Access-Control-Allow-Headers"],
  );
  const any = preflight(ask(asked), { anyHeader: true })!;
  assert.equal(any.headers.get("access-control-allow-headers"), asked);
  assert.equal(any.headers.get("access-control-allow-origin"), "*");
});

Deno.test("what is not a list of header names is not echoed", () => {
  const res = preflight(ask("x-ok, <script>"), { anyHeader: true })!;
  assert.equal(
    res.headers.get("access-control-allow-headers"),
    corsHeaders["Access-Control-Allow-Headers"],
  );
  assert.equal(preflight(new Request("http://fn/", { method: "POST" })), null);
});

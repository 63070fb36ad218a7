import assert from "node:assert/strict";
import { publicOrigin } from "../../supabase/functions/ingest/source_settings.ts";

const at = (url: string, headers: Record<string, string> = {}) =>
  publicOrigin(new Request(url, { headers }));

Deno.test("the settings name the host and scheme the SDK reached, https unless told", () => {
  // Behind the gateway, as it forwards.
  assert.deepEqual(
    at("http://127.0.0.1:9000/ingest/v1/projects/k/settings", {
      "x-forwarded-host": "api.example.com",
      "x-forwarded-proto": "https",
    }),
    { host: "api.example.com", protocol: "https" },
  );
  assert.deepEqual(
    at("http://127.0.0.1:9000/x", {
      "x-forwarded-host": "127.0.0.1:54321",
      "x-forwarded-proto": "http",
    }),
    { host: "127.0.0.1:54321", protocol: "http" },
  );
  // Called directly on loopback.
  assert.deepEqual(at("http://127.0.0.1:9000/x"), {
    host: "127.0.0.1:9000",
    protocol: "http",
  });
  // A proxy that does not say: an http apiHost would be mixed content.
  assert.deepEqual(at("http://project.example.co/x"), {
    host: "project.example.co",
    protocol: "https",
  });
});

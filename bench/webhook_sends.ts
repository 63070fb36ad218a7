// The baseline of `npm run bench -- webhooks`: the signed POSTs a dispatcher
// makes, and nothing else (no claim, no record, no destination check), from
// Deno at a fixed concurrency. Each request is built as send.ts builds one:
// the envelope serialized by send.ts's own `envelope`, signed by sign.ts's
// `signatureHeader` (WebCrypto HMAC-SHA256), the same headers, fetch through
// an http client that keeps the Host header, redirects not followed, a
// timeout signal, and the response read. Each request has its own
// webhook-id, as each delivery has its event's.
// Run by bench/webhooks.mjs:
//   deno run ... bench/webhook_sends.ts <url> <secret> <endpoint_id> <concurrency> <count> <max_ms>
// Prints one JSON line: { ok, failed, ms } for the timed sends (after 200 of
// warm-up), `count` of them or as many as fit in max_ms.
import {
  type Claimed,
  envelope,
} from "../supabase/functions/webhook-dispatch/send.ts";
import { signatureHeader } from "../supabase/functions/webhook-dispatch/sign.ts";

const [url, secret, endpointId, concurrencyArg, countArg, maxMsArg] = Deno.args;
const concurrency = Number(concurrencyArg);
const count = Number(countArg);
const maxMs = Number(maxMsArg);
const WARMUP = 200;

const client = Deno.createHttpClient({ allowHost: true });
const target = new URL(url);

async function send(n: number): Promise<boolean> {
  // A claimed row as the dispatcher gets it (asserted: the fields a send does
  // not read may differ between versions of Claimed).
  const d = {
    org_id: crypto.randomUUID(),
    delivery_id: crypto.randomUUID(),
    endpoint_id: endpointId,
    attempt: 1,
    event_id: crypto.randomUUID(),
    event_type: "webhook.test",
    event_created_at: new Date(),
    data: { endpoint_id: endpointId, sent_by: null, n },
    url,
    headers: {},
    timeout_ms: 15000,
    rate_limit_per_second: null,
    secrets: [secret],
    allow_insecure_destinations: true,
  } as Claimed;
  const body = envelope(d);
  const timestamp = Math.floor(Date.now() / 1000);
  const headers = {
    ...d.headers,
    "content-type": "application/json",
    "user-agent": "Meridian-Webhooks/1",
    "webhook-id": d.event_id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": await signatureHeader(
      d.secrets,
      d.event_id,
      timestamp,
      body,
    ),
  };
  const res = await fetch(target, {
    method: "POST",
    headers: { ...headers, host: target.host },
    body,
    redirect: "manual",
    signal: AbortSignal.timeout(d.timeout_ms),
    client,
  });
  await res.text();
  return res.status >= 200 && res.status < 300;
}

async function run(total: number, deadline: number) {
  let next = 0;
  let ok = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total && performance.now() < deadline) {
        const n = next++;
        try {
          if (await send(n)) ok++;
          else failed++;
        } catch {
          failed++;
        }
      }
    }),
  );
  return { ok, failed };
}

await run(WARMUP, performance.now() + maxMs);
const started = performance.now();
const { ok, failed } = await run(count, started + maxMs);
const ms = performance.now() - started;
console.log(JSON.stringify({ ok, failed, ms }));
client.close();

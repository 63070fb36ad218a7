// One delivery attempt, as typed stages (Svix's worker: prepare, send, record):
// check the destination (every resolved address must be public unicast), sign
// the exact body, POST it to an address that passed the check, and describe
// the outcome as the row private.record_webhook_results takes. Never throws:
// every failure is an outcome with its error class.
import { request as httpsRequest } from "node:https";
import {
  checkDestination,
  DestinationRefused,
  pinnedRequestTarget,
} from "../_shared/ssrf.ts";
import { signatureHeader } from "./sign.ts";

export type Claimed = {
  org_id: string;
  delivery_id: string;
  endpoint_id: string;
  attempt: number;
  event_id: string;
  event_type: string;
  event_created_at: Date | string;
  data: unknown;
  url: string;
  headers: Record<string, string>;
  timeout_ms: number;
  rate_limit_per_second: number | null;
  secrets: string[];
  /** private.webhook_delivery_policy: plain http and private addresses (local development). */
  allow_insecure_destinations: boolean;
};

export type Outcome = {
  delivery_id: string;
  org_id: string;
  status_code: number | null;
  duration_ms: number;
  address: string | null;
  error_class:
    | "timeout"
    | "connection"
    | "tls"
    | "dns"
    | "ssrf_blocked"
    | "http_status"
    | null;
  error: string | null;
  response_excerpt: string | null;
  response_headers: Record<string, string> | null;
  retry_after_s: number | null;
};

const EXCERPT_BYTES = 1024;
// The response is read no further than this: receivers are strangers.
const MAX_RESPONSE_BYTES = 20 * 1024;
const KEPT_HEADERS = ["content-type", "retry-after", "x-request-id"];
// Deno drops a Host header set by the caller unless the client allows it.
const pinnedClient = Deno.createHttpClient({ allowHost: true });

/** The Standard Webhooks envelope, serialized once: these bytes are signed and sent. */
export function envelope(d: Claimed): string {
  return JSON.stringify({
    type: d.event_type,
    timestamp: new Date(d.event_created_at).toISOString(),
    data: d.data,
  });
}

function retryAfterSeconds(value: string | null): number | null {
  if (!value) return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, Math.ceil(seconds));
  const at = Date.parse(value);
  return Number.isFinite(at)
    ? Math.max(0, Math.ceil((at - Date.now()) / 1000))
    : null;
}

type Reply = {
  status: number;
  headers: Record<string, string>;
  excerpt: string;
};

function keptHeaders(get: (name: string) => string | null) {
  const out: Record<string, string> = {};
  for (const name of KEPT_HEADERS) {
    const v = get(name);
    if (v !== null) out[name] = v.slice(0, 200);
  }
  return out;
}

async function readCapped(body: ReadableStream<Uint8Array> | null) {
  if (!body) return "";
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (size < MAX_RESPONSE_BYTES) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    size += value.byteLength;
  }
  await reader.cancel();
  const all = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  return new TextDecoder().decode(all.subarray(0, EXCERPT_BYTES));
}

/** Plain http (local development): fetch to the checked address, Host kept. */
async function postHttp(
  url: URL,
  address: string,
  headers: Record<string, string>,
  body: string,
  signal: AbortSignal,
): Promise<Reply> {
  const target = pinnedRequestTarget(url, address);
  const res = await fetch(target.connectUrl, {
    method: "POST",
    headers: { ...headers, host: target.hostHeader },
    body,
    redirect: "manual",
    signal,
    client: pinnedClient,
  });
  return {
    status: res.status,
    headers: keptHeaders((n) => res.headers.get(n)),
    excerpt: await readCapped(res.body),
  };
}

/**
 * https: node:https connects to the address that passed the check (lookup)
 * and verifies the certificate against the URL's host name (servername), so
 * a second DNS answer can never redirect the request (DNS rebinding).
 */
function postHttps(
  url: URL,
  address: string,
  headers: Record<string, string>,
  body: string,
  signal: AbortSignal,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const family = address.includes(":") ? 6 : 4;
    const req = httpsRequest({
      host: url.hostname,
      servername: url.hostname,
      port: url.port || 443,
      path: url.pathname + url.search,
      method: "POST",
      headers: {
        ...headers,
        "content-length": String(new TextEncoder().encode(body).byteLength),
      },
      signal,
      // Every name this request resolves is answered with the checked address.
      lookup: ((
        _host: string,
        opts: { all?: boolean },
        cb: (err: Error | null, address: unknown, family?: number) => void,
      ) =>
        opts?.all
          ? cb(null, [{ address, family }])
          : cb(null, address, family)) as never,
    }, (res) => {
      const chunks: Uint8Array[] = [];
      let size = 0;
      res.on("data", (chunk: Uint8Array) => {
        if (size < MAX_RESPONSE_BYTES) chunks.push(chunk);
        size += chunk.byteLength;
        if (size >= MAX_RESPONSE_BYTES) res.destroy();
      });
      const done = () => {
        const all = new Uint8Array(
          chunks.reduce((n, c) => n + c.byteLength, 0),
        );
        let at = 0;
        for (const c of chunks) {
          all.set(c, at);
          at += c.byteLength;
        }
        resolve({
          status: res.statusCode ?? 0,
          headers: keptHeaders((n) => {
            const v = res.headers[n];
            return v === undefined ? null : String(v);
          }),
          excerpt: new TextDecoder().decode(all.subarray(0, EXCERPT_BYTES)),
        });
      };
      res.on("end", done);
      res.on("close", done);
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

function errorClass(err: unknown): Outcome["error_class"] {
  if (err instanceof DestinationRefused) return "ssrf_blocked";
  const e = err as { name?: string; code?: string; message?: string };
  if (e?.name === "TimeoutError" || e?.name === "AbortError") return "timeout";
  const text = `${e?.code ?? ""} ${e?.message ?? ""}`;
  if (/certificate|tls|ssl|handshake/i.test(text)) return "tls";
  if (/dns|ENOTFOUND|EAI_AGAIN|resolve|NotFound/i.test(text)) return "dns";
  return "connection";
}

/** Sends one claimed delivery; the outcome says what happened, never throws. */
export async function attempt(d: Claimed): Promise<Outcome> {
  const started = performance.now();
  const outcome = (o: Partial<Outcome>): Outcome => ({
    delivery_id: d.delivery_id,
    org_id: d.org_id,
    status_code: null,
    address: null,
    error_class: null,
    error: null,
    response_excerpt: null,
    response_headers: null,
    retry_after_s: null,
    ...o,
    duration_ms: Math.round(performance.now() - started),
  });
  let address: string | null = null;
  try {
    // PREPARE: the destination, checked again at every send.
    const { url, addresses } = await checkDestination(d.url, {
      allowPrivate: d.allow_insecure_destinations,
    });
    address = addresses[0];
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
    // SEND
    const signal = AbortSignal.timeout(d.timeout_ms);
    const reply = url.protocol === "https:"
      ? await postHttps(url, address, headers, body, signal)
      : await postHttp(url, address, headers, body, signal);
    // RECORD: only a 2xx is a success; a redirect is not followed.
    const ok = reply.status >= 200 && reply.status < 300;
    return outcome({
      status_code: reply.status,
      address,
      error_class: ok ? null : "http_status",
      error: ok ? null : `HTTP ${reply.status}`,
      response_excerpt: reply.excerpt,
      response_headers: reply.headers,
      retry_after_s: retryAfterSeconds(reply.headers["retry-after"] ?? null),
    });
  } catch (err) {
    const cls = errorClass(err);
    const message = err instanceof DestinationRefused
      ? `${err.rule}: ${err.message}`
      : String((err as Error)?.message ?? err);
    return outcome({
      address,
      error_class: cls,
      error: message.slice(0, 1000),
    });
  }
}

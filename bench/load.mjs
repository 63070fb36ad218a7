import http from "node:http";
// Closed-loop load: `concurrency` workers each run an operation, wait for it,
// and run the next, for `durationMs` after a warm-up. Bounded in time and aimed
// only at the loopback stack the benchmark started.

/** Runs `operation` (async, throws on failure) and reports operations/s and latency. */
export async function measureOps(
  operation,
  { concurrency = 8, durationMs = 5000, warmupMs = 1000 } = {},
) {
  const drive = async (ms, record) => {
    const deadline = performance.now() + ms;
    let ok = 0;
    let failed = 0;
    let firstError = null;
    const latencies = [];
    await Promise.all(Array.from({ length: concurrency }, async (_, worker) => {
      while (performance.now() < deadline) {
        const started = performance.now();
        try {
          await operation(worker);
          ok++;
        } catch (err) {
          failed++;
          firstError ??= err;
        }
        if (record) latencies.push(performance.now() - started);
      }
    }));
    return { ok, failed, latencies, firstError };
  };
  await drive(warmupMs, false);
  const started = performance.now();
  const { ok, failed, latencies, firstError } = await drive(durationMs, true);
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p) =>
    latencies[
      Math.min(latencies.length - 1, Math.floor(p * latencies.length))
    ] ?? NaN;
  if (firstError) {
    console.error(`  first failure: ${firstError.message ?? firstError}`);
  }
  return { rps: ok / seconds, failed, p50: pct(0.5), p99: pct(0.99) };
}

/** HTTP flavour: a request counts as failed unless its status is 2xx. */
export function measure(makeRequest, opts) {
  return measureOps(async () => {
    const res = await makeRequest();
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
  }, opts);
}

export function report(label, r, unit = "req/s") {
  console.log(
    `${label.padEnd(52)} ${r.rps.toFixed(0).padStart(7)} ${unit}  p50 ${
      r.p50.toFixed(2)
    } ms  p99 ${r.p99.toFixed(2)} ms${
      r.failed ? `  (${r.failed} failed)` : ""
    }`,
  );
}

export function ratio(label, value, target) {
  const verdict = target === undefined
    ? ""
    : value >= target
    ? `  (target >= ${target}: met)`
    : `  (target >= ${target}: NOT met)`;
  console.log(`ratio ${label}: ${value.toFixed(2)}x${verdict}`);
}

// node:http with keep-alive rather than fetch: undici's fetch cost the load
// generator about 2 ms of CPU per request, on the same 2 cores as the server
// it measures.
const agents = new Map();

/** POSTs body to url; resolves { status, text } once the response is read. */
export function post(url, headers, body, { sockets = 64 } = {}) {
  const target = new URL(url);
  let agent = agents.get(target.host);
  if (!agent) {
    agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
    agents.set(target.host, agent);
  }
  return new Promise((resolve, reject) => {
    const req = http.request(target, {
      method: "POST",
      agent,
      headers: { ...headers, "Content-Length": Buffer.byteLength(body) },
    }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode,
          text: Buffer.concat(chunks).toString("utf8"),
        }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

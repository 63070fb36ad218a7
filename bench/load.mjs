// A closed-loop HTTP load generator: `concurrency` workers each send a request,
// wait for the answer, and send the next, for `durationMs`. Bounded in time and
// aimed only at the loopback stack the benchmark started.

export async function measure(
  makeRequest,
  { concurrency = 8, durationMs = 5000, warmupMs = 1000 } = {},
) {
  const drive = async (ms, record) => {
    const deadline = performance.now() + ms;
    let ok = 0;
    let failed = 0;
    const latencies = [];
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const started = performance.now();
        const res = await makeRequest();
        await res.arrayBuffer();
        if (res.ok) ok++;
        else failed++;
        if (record) latencies.push(performance.now() - started);
      }
    }));
    return { ok, failed, latencies };
  };
  await drive(warmupMs, false);
  const started = performance.now();
  const { ok, failed, latencies } = await drive(durationMs, true);
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const pct = (p) =>
    latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  return {
    rps: ok / seconds,
    failed,
    p50: pct(0.5),
    p99: pct(0.99),
  };
}

export function report(label, r) {
  console.log(
    `${label.padEnd(44)} ${r.rps.toFixed(0).padStart(7)} req/s  p50 ${
      r.p50.toFixed(2)
    } ms  p99 ${r.p99.toFixed(2)} ms${
      r.failed ? `  (${r.failed} failed)` : ""
    }`,
  );
}

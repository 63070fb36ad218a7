// Rate-limit figures, each next to a baseline measured in the same run:
//   1. check_rate_limit decisions/s from 8 connections, over 10k keys and on one
//      hot key, vs a bare fixed-window UPSERT on an UNLOGGED table (the least a
//      counter in Postgres can cost); once from postgres.js (our functions'
//      client) and once from pgbench (C, prepared: the client takes less of the
//      2 shared cores, so more of the server's rate shows);
//   2. the ingest endpoint with the limiter vs the same function with
//      MERIDIAN_RATE_LIMITS=off, single-message track (where the limiter's share
//      of the request is largest), same organization, same load.
// `npm run bench -- ratelimit [seconds]` (default 10 per measurement).
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { discoverFunctions, startFunction } from "../dev/edge_functions.mjs";
import { PG_BIN } from "../dev/config.mjs";
import { freePort, stopGroup, waitForPort } from "../dev/processes.mjs";
import { createIngestOrg } from "./fixtures.mjs";
import { measureOps, post, ratio, report } from "./load.mjs";

const CONNECTIONS = 8;
// Calls in flight: postgres.js pipelines them on the 8 connections.
const IN_FLIGHT = 64;
const KEYS = 10_000;
const HTTP_CLIENTS = 8;

async function decisions(sql, seconds) {
  await sql`
    create unlogged table if not exists public.bench_fixed_window (
      key text primary key, window_index bigint not null, count int not null
    ) with (fillfactor = 70)`;
  const opts = {
    concurrency: IN_FLIGHT,
    durationMs: seconds * 1000,
    warmupMs: 1000,
  };
  const randomKey = () => `bench:${Math.floor(Math.random() * KEYS)}`;
  // Generous limits: every call is a full decision that writes its bucket.
  const limited = (key) => async () => {
    const [r] = await sql`
      select allowed from public.check_rate_limit(${key()}, 2147483647, 60000, 1)`;
    if (!r.allowed) throw new Error("denied");
  };
  const bare = (key) => async () => {
    await sql`
      insert into public.bench_fixed_window as c (key, window_index, count)
      values (${key()}, floor(extract(epoch from clock_timestamp()) / 60)::bigint, 1)
      on conflict (key) do update set
        count = case when c.window_index = excluded.window_index then c.count + 1 else 1 end,
        window_index = excluded.window_index`;
  };

  console.log(
    `1. decisions from ${CONNECTIONS} connections (${IN_FLIGHT} calls in flight), ${seconds} s each`,
  );
  const results = {};
  for (
    const [label, key] of [
      [`over ${KEYS} keys`, randomKey],
      ["one hot key", () => "bench:hot"],
    ]
  ) {
    const baseline = await measureOps(bare(key), opts);
    const measured = await measureOps(limited(key), opts);
    report(
      `bare fixed-window UPSERT, ${label} (baseline)`,
      baseline,
      "ops/s",
    );
    report(`check_rate_limit, ${label}`, measured, "decisions/s");
    ratio(
      `check_rate_limit / bare UPSERT, ${label}`,
      measured.rps / baseline.rps,
      0.7,
    );
    results[label] = measured;
  }
  const spread = results[`over ${KEYS} keys`].rps;
  console.log(
    `check_rate_limit over ${KEYS} keys: ${
      spread.toFixed(0)
    } decisions/s (target >= 20000: ${spread >= 20000 ? "met" : "NOT met"})`,
  );
}

const BARE_UPSERT = `
insert into public.bench_fixed_window as c (key, window_index, count)
values (:key, floor(extract(epoch from clock_timestamp()) / 60)::bigint, 1)
on conflict (key) do update set
  count = case when c.window_index = excluded.window_index then c.count + 1 else 1 end,
  window_index = excluded.window_index;
`;
const DECISION = `
select allowed from public.check_rate_limit(:key, 2147483647, 60000, 1);
`;

/** Transactions/s pgbench reports for one script (8 clients, prepared). */
function pgbenchTps(state, script, seconds) {
  const file = join(mkdtempSync(join(tmpdir(), "meridian-pgbench-")), "s.sql");
  writeFileSync(file, script);
  const out = spawnSync(join(PG_BIN, "pgbench"), [
    "-n",
    "-c",
    String(CONNECTIONS),
    "-j",
    "2",
    "-M",
    "prepared",
    "-T",
    String(seconds),
    "-f",
    file,
    state.dbUrl,
  ], { encoding: "utf8" });
  const tps = out.stdout.match(/tps = ([\d.]+)/);
  if (out.status !== 0 || !tps) {
    throw new Error(`pgbench failed: ${out.stderr || out.stdout}`);
  }
  return Number(tps[1]);
}

function pgbenchDecisions(state, seconds) {
  console.log(
    `\n   the same from pgbench, ${CONNECTIONS} clients, ${seconds} s each`,
  );
  const workloads = [
    [`over ${KEYS} keys`, `\\set k random(1, ${KEYS})\n`, "'bench:' || :k"],
    ["one hot key", "", "'bench-hot'"],
  ];
  for (const [label, header, key] of workloads) {
    const baseline = pgbenchTps(
      state,
      header + BARE_UPSERT.replace(":key", key),
      seconds,
    );
    const measured = pgbenchTps(
      state,
      header + DECISION.replace(":key", key),
      seconds,
    );
    const line = (text, value, unit) =>
      console.log(`${text.padEnd(52)} ${value.toFixed(0).padStart(7)} ${unit}`);
    line(`bare fixed-window UPSERT, ${label} (baseline)`, baseline, "ops/s");
    line(`check_rate_limit, ${label}`, measured, "decisions/s");
    ratio(
      `check_rate_limit / bare UPSERT, ${label} (pgbench)`,
      measured / baseline,
      0.7,
    );
    if (header) {
      console.log(
        `check_rate_limit over ${KEYS} keys (pgbench): ${
          measured.toFixed(0)
        } decisions/s (target >= 20000: ${
          measured >= 20000 ? "met" : "NOT met"
        })`,
      );
    }
  }
}

async function endToEnd(sql, state, seconds) {
  const { orgId, writeKey } = await createIngestOrg(sql, {
    name: "Bench limits",
  });
  // Limits high enough never to deny: this measures the cost of deciding.
  await sql`
    insert into public.rate_limit_policies (org_id, scope, endpoint, request_limit, window_ms)
    values (${orgId}, 'org', 'ingest', 100000000, 1000)`;

  const ingest = discoverFunctions().find((f) => f.name === "ingest");
  // Two fresh processes of the same function, identical but for the switch.
  const serve = async (label, env) => {
    const port = await freePort();
    const pid = startFunction(ingest, port, state, {
      watch: false,
      logFile: join(state.dir, "logs", `bench-ingest-${label}.log`),
      env,
    });
    await waitForPort(port, { pid, what: `${label} ingest` });
    return { port, pid };
  };
  const limited = await serve("limited", {});
  const unlimited = await serve("unlimited", { MERIDIAN_RATE_LIMITS: "off" });
  const withLimiter = limited.port;
  const withoutLimiter = unlimited.port;
  try {
    let n = 0;
    const track = (port) => async () => {
      const res = await post(
        `http://127.0.0.1:${port}/ingest/v1/track`,
        {
          Authorization: `Basic ${btoa(`${writeKey}:`)}`,
          "Content-Type": "application/json",
        },
        JSON.stringify({
          userId: `u-${n % 1000}`,
          event: "Tick",
          messageId: `rl-${port}-${n++}`,
        }),
      );
      if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
    };
    const opts = {
      concurrency: HTTP_CLIENTS,
      durationMs: seconds * 1000,
      warmupMs: 2000,
    };
    console.log(
      `\n2. single-message track straight to the function, ${HTTP_CLIENTS} clients, ${seconds} s each`,
    );
    // Alternate so that neither side always runs on a warmer database.
    const off1 = await measureOps(track(withoutLimiter), opts);
    const on1 = await measureOps(track(withLimiter), opts);
    const off2 = await measureOps(track(withoutLimiter), opts);
    const on2 = await measureOps(track(withLimiter), opts);
    const mean = (a, b) => ({
      rps: (a.rps + b.rps) / 2,
      p50: (a.p50 + b.p50) / 2,
      p99: (a.p99 + b.p99) / 2,
      failed: a.failed + b.failed,
    });
    const off = mean(off1, off2);
    const on = mean(on1, on2);
    report("ingest without the limiter (baseline)", off);
    report("ingest with the limiter (Postgres decides)", on);
    ratio("with / without the limiter", on.rps / off.rps, 0.9);
  } finally {
    await stopGroup(limited.pid);
    await stopGroup(unlimited.pid);
  }
}

export async function run(state, args = []) {
  const seconds = Number(args[0] ?? 10);
  const only = args[1]; // "decisions" or "http" to run one part
  const sql = postgres(state.dbUrl, {
    max: CONNECTIONS,
    onnotice: () => {},
    prepare: true,
  });
  try {
    if (only !== "http") {
      await decisions(sql, seconds);
      pgbenchDecisions(state, seconds);
    }
    if (only !== "decisions") await endToEnd(sql, state, seconds);
  } finally {
    await sql.end();
  }
}

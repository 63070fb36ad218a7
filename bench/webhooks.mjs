// Outbound webhook figures (issue 27), each next to a baseline measured in the
// same run, with Postgres durable:
//   1. deliveries/s from webhook-dispatch to a Node receiver on loopback that
//      answers 200 at once: N = 500 x seconds events emitted in one
//      transaction to one endpoint, then 1 dispatcher (the stack's, through
//      the gateway) and 2 (that one and a second process of the same
//      function) driven until all N succeeded, after a warm-up and an
//      ANALYZE (see throughput()); next to the same signed POSTs
//      sent by a bare Deno loop at the dispatchers' concurrency
//      (bench/webhook_sends.ts; 8 sends in flight per dispatcher, as send.ts
//      allows per endpoint). The stack's scheduler is stopped for this part,
//      so only the dispatchers named here run. Prints where a round's time
//      goes (claim and record SQL from pg_stat_statements, the rest is the
//      sends), what the database's backends were doing, and CPU by process.
//   2. emit -> first attempt latency (webhook_attempts.attempted_at of the
//      first attempt minus webhook_events.created_at, in SQL) with the
//      stack's scheduler running again (NOTIFY-driven), at 200 events/s, each
//      its own transaction; next to the same at 5 events/s (the pipeline's
//      floor).
//   3. what private.emit_webhook_event adds to a transaction, with 0, 1 and 10
//      matching endpoints, next to the same transaction without it (an insert
//      into a scratch table), mean us per transaction from one connection;
//      the scheduler stopped, so nothing is dispatched meanwhile.
// `npm run bench -- webhooks [seconds]` (default 10 per phase).
import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import { join } from "node:path";
import postgres from "postgres";
import { DENO, ROOT, stackPaths } from "../dev/config.mjs";
import { discoverFunctions, startFunction } from "../dev/edge_functions.mjs";
import {
  freePort,
  spawnDetached,
  stopGroup,
  waitForPort,
} from "../dev/processes.mjs";
import { watchCpu } from "./cpu_by_process.mjs";
import { post, ratio } from "./load.mjs";

// send.ts: at most this many sends at once per endpoint and dispatcher.
const PER_ENDPOINT_CONCURRENCY = 8;
// Deliveries/s the dispatchers should reach; phase 1's backlog is what that
// rate clears in `seconds`.
const TARGET_RATE = 500;
const BARE_MIN = 5000;
const LATENCY_RATE = 200;
const IDLE_RATE = 5;
// Phase 3: transactions per variant, in rounds that alternate the variants.
const COST_ROUND = 250;
const COST_ROUNDS = 8;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const line = (label, value, unit, extra = "") =>
  console.log(`${label.padEnd(56)} ${value.padStart(8)} ${unit}${extra}`);

// ---------------------------------------------------------------------------
// The receiver: a customer's server on loopback that answers 200 at once.

async function startReceiver() {
  let sample = null;
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      sample ??= {
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      };
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("ok");
    });
  });
  // Senders keep their connections between phases.
  server.keepAliveTimeout = 120_000;
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/hooks`,
    /** The first request since the last call, for a signature check. */
    takeSample() {
      const s = sample;
      sample = null;
      return s;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  };
}

/** Standard Webhooks: v1,base64(HMAC-SHA256(id.timestamp.body)) with the secret's bytes. */
function verifies(sample, secret) {
  if (!sample) return false;
  const id = sample.headers["webhook-id"];
  const ts = sample.headers["webhook-timestamp"];
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const expected = `v1,${
    createHmac("sha256", key).update(`${id}.${ts}.${sample.body}`).digest(
      "base64",
    )
  }`;
  return String(sample.headers["webhook-signature"] ?? "").split(" ")
    .includes(expected);
}

// ---------------------------------------------------------------------------
// Fixtures, as the admin.

/** A fresh organization (enterprise: no hard delivery quota) with `count` endpoints taking webhook.test. */
async function orgWithEndpoints(sql, label, url, count) {
  const [org] = await sql`
    insert into public.organizations (name, slug, plan)
    values (${label}, ${`bench-${
    crypto.randomUUID().slice(0, 8)
  }`}, 'enterprise')
    returning id`;
  const endpoints = [];
  for (let i = 0; i < count; i++) {
    const [e] = await sql`
      insert into public.webhook_endpoints (org_id, url, event_types)
      values (${org.id}, ${url}, '{webhook.test}') returning id`;
    const [s] = await sql`
      insert into private.webhook_endpoint_secrets (org_id, endpoint_id, secret)
      values (${org.id}, ${e.id}, private.new_webhook_secret()) returning secret`;
    endpoints.push({ id: e.id, secret: s.secret });
  }
  return { orgId: org.id, endpoints };
}

/** n events in one transaction (one statement), each fanned out by emit_webhook_event. */
async function emitBulk(sql, orgId, endpointId, n) {
  await sql`
    select count(private.emit_webhook_event(${orgId}, 'webhook.test',
      jsonb_build_object('endpoint_id', ${endpointId}::text, 'sent_by', null, 'n', g)))
    from generate_series(1, ${n}) g`;
}

// ---------------------------------------------------------------------------
// The stack's scheduler (dev/webhook_scheduler.mjs), stopped and started by
// the pid in the stack's state file, which stopStack reads.

function setSchedulerPid(state, pid) {
  const file = stackPaths(state.dir).state;
  const saved = JSON.parse(readFileSync(file, "utf8"));
  saved.pids.webhookScheduler = pid;
  writeFileSync(file, JSON.stringify(saved, null, 2), { mode: 0o600 });
  state.pids.webhookScheduler = pid;
}

async function stopScheduler(state) {
  const file = stackPaths(state.dir).state;
  const pid = JSON.parse(readFileSync(file, "utf8")).pids.webhookScheduler;
  if (pid) await stopGroup(pid);
  setSchedulerPid(state, null);
}

/** Starts it again exactly as startStack does, and waits until it listens. */
async function startScheduler(state, sql) {
  const pid = spawnDetached(
    process.execPath,
    [join(ROOT, "dev", "webhook_scheduler.mjs"), stackPaths(state.dir).state],
    {
      cwd: ROOT,
      env: process.env,
      logFile: join(stackPaths(state.dir).logs, "webhook-scheduler.log"),
    },
  );
  setSchedulerPid(state, pid);
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const [r] = await sql`
      select count(*)::int as n from pg_catalog.pg_stat_activity
      where query ilike 'listen%meridian_webhooks%'`;
    if (r.n > 0) return;
    await sleep(100);
  }
  throw new Error("the webhook scheduler did not start listening");
}

// ---------------------------------------------------------------------------
// 1. Throughput.

/** Runs the bare loop (bench/webhook_sends.ts) in a Deno process; resolves its JSON line. */
function bareSends(receiver, endpoint, concurrency, count, maxMs) {
  return new Promise((resolve, reject) => {
    // Asynchronous: the receiver answers from this process's event loop.
    const child = spawn(DENO, [
      "run",
      "--no-prompt",
      "--config",
      join(ROOT, "deno.json"),
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-sys",
      join(ROOT, "bench", "webhook_sends.ts"),
      receiver.url,
      endpoint.secret,
      endpoint.id,
      String(concurrency),
      String(count),
      String(maxMs),
    ], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (c) => (out += c));
    child.stderr.on("data", (c) => (err += c));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) {
        reject(new Error(`webhook_sends.ts exited with ${code}: ${err}`));
        return;
      }
      resolve(JSON.parse(out.trim().split("\n").pop()));
    });
  });
}

/** Calls one dispatcher until every delivery of the organization succeeded or time is up. */
async function drive(dispatcher, serviceKey, stopAt, allDone) {
  const totals = { calls: 0, rounds: 0, claimed: 0, succeeded: 0 };
  while (Date.now() < stopAt) {
    const res = await post(
      dispatcher,
      { Authorization: `Bearer ${serviceKey}` },
      "",
    );
    if (res.status !== 200) {
      throw new Error(`webhook-dispatch answered ${res.status}: ${res.text}`);
    }
    const r = JSON.parse(res.text);
    totals.calls++;
    totals.rounds += r.rounds;
    totals.claimed += r.claimed;
    totals.succeeded += r.succeeded;
    if (await allDone()) break;
    // The other dispatcher holds the last batch: ask again shortly.
    if (r.claimed === 0) await sleep(20);
  }
  return totals;
}

/** Samples the database's client backends: which dispatcher statement runs, and lock waits. */
function sampleBackends(sql) {
  const counts = { samples: 0, claim: 0, record: 0, lockWaits: 0 };
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      const rows = await sql`
        select query, wait_event_type from pg_catalog.pg_stat_activity
        where backend_type = 'client backend' and state = 'active'
          and pid <> pg_catalog.pg_backend_pid()`;
      counts.samples++;
      for (const r of rows) {
        if (r.query.includes("claim_webhook_deliveries")) counts.claim++;
        if (r.query.includes("record_webhook_results")) counts.record++;
        if (r.wait_event_type === "Lock") counts.lockWaits++;
      }
      await sleep(50);
    }
  })();
  return async () => {
    stopped = true;
    await done;
    return counts;
  };
}

async function dispatcherStatements(sql) {
  const rows = await sql`
    select query, calls::int, total_exec_time::float8 as ms
    from extensions.pg_stat_statements
    where query ilike '%claim_webhook_deliveries%'
       or query ilike '%record_webhook_results%'`;
  const sum = (name) =>
    rows.filter((r) => r.query.includes(name) && !r.query.includes("ilike"))
      .reduce((a, r) => ({ calls: a.calls + r.calls, ms: a.ms + r.ms }), {
        calls: 0,
        ms: 0,
      });
  return {
    claim: sum("claim_webhook_deliveries"),
    record: sum("record_webhook_results"),
  };
}

/** Emits n events to a fresh endpoint, drives the dispatchers until all succeeded; deliveries/s. */
async function dispatchRun(ctx, label, dispatchers, n, maxMs) {
  const { sql, receiver, state } = ctx;
  const { orgId, endpoints: [endpoint] } = await orgWithEndpoints(
    sql,
    `Bench webhooks ${label}`,
    receiver.url,
    1,
  );
  await emitBulk(sql, orgId, endpoint.id, n);
  await sql`select extensions.pg_stat_statements_reset()`;
  receiver.takeSample();
  const cpu = watchCpu({ dataDir: stackPaths(state.dir).data });
  const stopSampling = sampleBackends(ctx.sampler);
  const allDone = async () => {
    const [r] = await sql`
      select count(*)::int as n from public.webhook_deliveries
      where org_id = ${orgId} and status = 'succeeded'`;
    return r.n >= n;
  };
  const started = Date.now();
  const totals = await Promise.all(
    dispatchers.map((d) =>
      drive(d, state.keys.serviceRoleKey, started + maxMs, allDone)
    ),
  );
  const sampled = await stopSampling();
  const cpuText = cpu.describe(n / 100, 100);
  // Whatever is left (a time bound hit) stays out of the next runs.
  await sql`update public.webhook_endpoints set enabled = false where org_id = ${orgId}`;
  const [r] = await sql`
    select count(*) filter (where status = 'succeeded')::int as ok,
           count(*) filter (where attempts > 1)::int as retried,
           extract(epoch from max(finished_at))::float8 * 1000 as last_ms
    from public.webhook_deliveries where org_id = ${orgId}`;
  const seconds = (r.last_ms - started) / 1000;
  const statements = await dispatcherStatements(sql);
  if (!verifies(receiver.takeSample(), endpoint.secret)) {
    throw new Error("a delivery's signature did not verify");
  }
  return {
    rps: r.ok / seconds,
    ok: r.ok,
    n,
    retried: r.retried,
    seconds,
    totals,
    statements,
    sampled,
    cpuText,
  };
}

async function bareRun(ctx, concurrency, n, maxMs) {
  const { sql, receiver } = ctx;
  const { endpoints: [endpoint] } = await orgWithEndpoints(
    sql,
    "Bench webhooks bare",
    receiver.url,
    1,
  );
  receiver.takeSample();
  // At least BARE_MIN sends: the loop is several times faster than the
  // dispatchers, and a run of a fraction of a second is mostly noise.
  const r = await bareSends(
    receiver,
    endpoint,
    concurrency,
    Math.max(n, BARE_MIN),
    maxMs,
  );
  if (!verifies(receiver.takeSample(), endpoint.secret)) {
    throw new Error("a bare loop request's signature did not verify");
  }
  return { rps: r.ok / (r.ms / 1000), ok: r.ok, failed: r.failed };
}

function describeDispatch(label, d) {
  const rounds = d.totals.reduce((a, t) => a + t.rounds, 0);
  const calls = d.totals.reduce((a, t) => a + t.calls, 0);
  line(
    label,
    d.rps.toFixed(0),
    "deliveries/s",
    `  (${d.ok} of ${d.n} in ${d.seconds.toFixed(1)} s${
      d.ok < d.n ? ", time bound hit" : ""
    }${d.retried ? `, ${d.retried} retried` : ""})`,
  );
  const { claim, record } = d.statements;
  const perRound = (s) => s.calls ? (s.ms / s.calls).toFixed(1) : "-";
  // Each dispatcher's rounds run one after another: its wall time is the sum
  // of its rounds, each a claim, the sends, and a record.
  const wallPerRound = d.seconds * 1000 * d.totals.length / Math.max(rounds, 1);
  const sqlPerRound = (claim.ms + record.ms) / Math.max(rounds, 1);
  console.log(
    `   ${calls} dispatch calls, ${rounds} rounds of up to 100: a round ${
      wallPerRound.toFixed(0)
    } ms, of which claim ${perRound(claim)} ms and record ${
      perRound(record)
    } ms (${
      record.calls ? (record.ms / d.ok * 1000).toFixed(0) : "-"
    } us a delivery), the rest (sends, round trips) ${
      Math.max(wallPerRound - sqlPerRound, 0).toFixed(0)
    } ms`,
  );
  const mean = (x) => (x / Math.max(d.sampled.samples, 1)).toFixed(2);
  console.log(
    `   database, sampled every 50 ms: on average ${
      mean(d.sampled.claim)
    } claims and ${mean(d.sampled.record)} records running, ${
      mean(d.sampled.lockWaits)
    } backends waiting on a lock`,
  );
  console.log(
    `   ${
      d.cpuText.replace("CPU per batch", "CPU per 100 deliveries")
        .replace("load client", "receiver and this bench")
        .replace(" events/s", " deliveries/s")
    }`,
  );
}

async function throughput(ctx, seconds) {
  const { state, sql } = ctx;
  const viaGateway = `${state.apiUrl}/functions/v1/webhook-dispatch`;
  const second = `http://127.0.0.1:${ctx.secondPort}/webhook-dispatch`;
  const maxMs = Math.max(5 * seconds, 30) * 1000;

  console.log(
    `1. deliveries/s to a Node receiver on loopback (200 at once): ${
      TARGET_RATE * seconds
    } events (${TARGET_RATE}/s x ${seconds} s) emitted in one transaction` +
      `\n   to one endpoint, then the dispatchers called until every delivery succeeded (at most ${
        maxMs / 1000
      } s); the stack's scheduler stopped`,
  );
  // Warm-up: both dispatchers' pools and code paths, the receiver's
  // connections.
  await dispatchRun(ctx, "warm-up", [viaGateway], 300, maxMs);
  await dispatchRun(ctx, "warm-up 2", [second], 300, maxMs);
  // Statistics, as a database in service has them. Without, the dispatchers'
  // pooled connections keep the plans they made on near-empty tables, and a
  // record's lookup of each delivery by its key scans all of the
  // organization's deliveries, until autovacuum's first ANALYZE (at a moment
  // that varies from run to run); see bench/README.md.
  await sql`analyze`;

  // The same backlog for both: a claim's cost grows with the rows due (see
  // bench/README.md), so runs with different backlogs do not compare.
  const n = TARGET_RATE * seconds;
  const bare1 = await bareRun(ctx, PER_ENDPOINT_CONCURRENCY, n, maxMs);
  const one = await dispatchRun(ctx, "x1", [viaGateway], n, maxMs);
  const bare2 = await bareRun(ctx, 2 * PER_ENDPOINT_CONCURRENCY, n, maxMs);
  const two = await dispatchRun(ctx, "x2", [viaGateway, second], n, maxMs);

  line(
    `bare signed POSTs from Deno, ${PER_ENDPOINT_CONCURRENCY} in flight (baseline)`,
    bare1.rps.toFixed(0),
    "POSTs/s",
    `  (${bare1.ok}${bare1.failed ? `, ${bare1.failed} failed` : ""})`,
  );
  describeDispatch("1 dispatcher (the stack's, through the gateway)", one);
  line(
    `bare signed POSTs from Deno, ${
      2 * PER_ENDPOINT_CONCURRENCY
    } in flight (baseline)`,
    bare2.rps.toFixed(0),
    "POSTs/s",
    `  (${bare2.ok}${bare2.failed ? `, ${bare2.failed} failed` : ""})`,
  );
  describeDispatch("2 dispatchers (the stack's and a second process)", two);
  ratio("1 dispatcher / bare loop", one.rps / bare1.rps, 0.5);
  ratio("2 dispatchers / bare loop", two.rps / bare2.rps, 0.5);
  ratio("2 dispatchers / 1 dispatcher", two.rps / one.rps);
  for (const [label, r] of [["1 dispatcher", one], ["2 dispatchers", two]]) {
    console.log(
      `deliveries/s, ${label}: ${r.rps.toFixed(0)} (target >= ${TARGET_RATE}: ${
        r.rps >= TARGET_RATE ? "met" : "NOT met"
      })`,
    );
  }
}

// ---------------------------------------------------------------------------
// 2. Latency with the stack's scheduler.

/** Emits at `rate`/s for `seconds`, open loop, each event its own transaction. */
async function emitAtRate(sql, orgId, endpointId, rate, seconds) {
  const total = Math.round(rate * seconds);
  const started = performance.now();
  let late = 0;
  const pending = [];
  for (let i = 0; i < total; i++) {
    const wait = started + i * 1000 / rate - performance.now();
    if (wait > 1) await sleep(wait);
    else if (wait < -50) late++;
    // postgres.js sends a query once it is awaited: `.then` sends it now.
    pending.push(
      sql`
        select private.emit_webhook_event(${orgId}, 'webhook.test',
          jsonb_build_object('endpoint_id', ${endpointId}::text, 'sent_by', null, 'n', ${i}::int))`
        .then(() => null, (err) => err),
    );
  }
  const failures = (await Promise.all(pending)).filter(Boolean);
  if (failures.length) throw failures[0];
  return {
    total,
    rate: total / ((performance.now() - started) / 1000),
    late,
  };
}

async function firstAttemptLatency(sql, orgId, total) {
  const deadline = Date.now() + 30_000;
  let attempted = 0;
  while (Date.now() < deadline) {
    const [r] = await sql`
      select count(distinct delivery_id)::int as n from public.webhook_attempts
      where org_id = ${orgId}`;
    attempted = r.n;
    if (attempted >= total) break;
    await sleep(250);
  }
  const [r] = await sql`
    with firsts as (
      select e.created_at, min(a.attempted_at) as first_at
      from public.webhook_deliveries d
      join public.webhook_events e
        on e.org_id = d.org_id and e.created_at = d.event_created_at and e.id = d.event_id
      join public.webhook_attempts a on a.org_id = d.org_id and a.delivery_id = d.id
      where d.org_id = ${orgId}
      group by d.id, e.created_at
    )
    select count(*)::int as n,
      (percentile_cont(0.5) within group (order by extract(epoch from first_at - created_at)) * 1000)::float8 as p50,
      (percentile_cont(0.99) within group (order by extract(epoch from first_at - created_at)) * 1000)::float8 as p99,
      (max(extract(epoch from first_at - created_at)) * 1000)::float8 as max
    from firsts`;
  return { ...r, missing: total - attempted };
}

async function latency(ctx, seconds) {
  const { sql, receiver } = ctx;
  console.log(
    `\n2. emit -> first attempt (attempted_at - created_at, in SQL), the stack's scheduler running (NOTIFY and 5 s ticks),` +
      `\n   each event its own transaction, open loop`,
  );
  const results = [];
  for (
    const [label, rate, secs] of [
      [`${IDLE_RATE} events/s (baseline)`, IDLE_RATE, Math.min(seconds, 5)],
      [`${LATENCY_RATE} events/s`, LATENCY_RATE, seconds],
    ]
  ) {
    const { orgId, endpoints: [endpoint] } = await orgWithEndpoints(
      sql,
      `Bench webhook latency ${rate}`,
      receiver.url,
      1,
    );
    const emitted = await emitAtRate(sql, orgId, endpoint.id, rate, secs);
    const r = await firstAttemptLatency(sql, orgId, emitted.total);
    console.log(
      `${label.padEnd(56)} p50 ${r.p50.toFixed(0).padStart(5)} ms  p99 ${
        r.p99.toFixed(0).padStart(5)
      } ms  max ${
        r.max.toFixed(0).padStart(5)
      } ms  (${r.n} events, emitted at ${emitted.rate.toFixed(0)}/s${
        emitted.late ? `, ${emitted.late} emitted > 50 ms late` : ""
      }${r.missing ? `, ${r.missing} with no attempt after 30 s` : ""})`,
    );
    results.push(r);
  }
  const [idle, loaded] = results;
  ratio(
    `p50 at ${LATENCY_RATE}/s / p50 at ${IDLE_RATE}/s`,
    loaded.p50 / idle.p50,
  );
  console.log(
    `latency at ${LATENCY_RATE}/s: p50 ${
      loaded.p50.toFixed(0)
    } ms (target <= 1000: ${loaded.p50 <= 1000 ? "met" : "NOT met"}), p99 ${
      loaded.p99.toFixed(0)
    } ms (target <= 3000: ${
      loaded.p99 <= 3000 && !loaded.missing ? "met" : "NOT met"
    })`,
  );
}

// ---------------------------------------------------------------------------
// 3. The cost of emitting in a transaction.

async function emitCost(ctx, seconds) {
  const { sql, receiver } = ctx;
  const one = postgres(ctx.state.dbUrl, { max: 1, onnotice: () => {} });
  try {
    await one`
      create table if not exists public.bench_scratch (
        id bigserial primary key, org_id uuid not null, payload jsonb not null,
        created_at timestamptz not null default now())`;
    const orgs = {};
    for (const count of [0, 1, 10]) {
      orgs[count] = await orgWithEndpoints(
        sql,
        `Bench webhook emit ${count}`,
        receiver.url,
        count,
      );
    }
    const scratch = (tx, orgId, n) =>
      tx`insert into public.bench_scratch (org_id, payload)
         values (${orgId}, jsonb_build_object('n', ${n}::int))`;
    const emit = (tx, orgId, n) =>
      tx`select private.emit_webhook_event(${orgId}, 'webhook.test',
           jsonb_build_object('endpoint_id', ${orgId}::text, 'sent_by', null, 'n', ${n}::int))`;
    const variants = [
      ["insert alone (baseline)", orgs[0].orgId, false],
      ["insert + emit, 0 endpoints", orgs[0].orgId, true],
      ["insert + emit, 1 matching endpoint", orgs[1].orgId, true],
      ["insert + emit, 10 matching endpoints", orgs[10].orgId, true],
    ].map(([label, orgId, withEmit]) => ({
      label,
      orgId,
      withEmit,
      ms: 0,
      txns: 0,
    }));
    const runRound = async (v, count, timed) => {
      const started = performance.now();
      for (let i = 0; i < count; i++) {
        await one.begin(async (tx) => {
          await scratch(tx, v.orgId, i);
          if (v.withEmit) await emit(tx, v.orgId, i);
        });
      }
      if (timed) {
        v.ms += performance.now() - started;
        v.txns += count;
      }
    };
    for (const v of variants) await runRound(v, 100, false);
    // Rounds alternate the variants, so drift in the machine's speed (and the
    // tables' growth) spreads over all of them; bounded in time.
    const deadline = performance.now() + Math.max(3 * seconds, 20) * 1000;
    let rounds = 0;
    while (
      rounds < COST_ROUNDS && (rounds < 2 || performance.now() < deadline)
    ) {
      for (const v of variants) await runRound(v, COST_ROUND, true);
      rounds++;
    }
    console.log(
      `\n3. private.emit_webhook_event in a transaction (begin; insert into a scratch table; [emit]; commit),` +
        `\n   one connection, ${
          rounds * COST_ROUND
        } transactions each, variants alternating in rounds of ${COST_ROUND}`,
    );
    const base = variants[0].ms * 1000 / variants[0].txns;
    for (const v of variants) {
      const us = v.ms * 1000 / v.txns;
      line(
        v.label,
        us.toFixed(0),
        "us/transaction",
        v.withEmit ? `  (emit adds ${(us - base).toFixed(0)} us)` : "",
      );
    }
    for (const v of variants.slice(1)) {
      ratio(`${v.label} / insert alone`, v.ms / v.txns / (base / 1000));
    }
  } finally {
    await one`drop table if exists public.bench_scratch`;
    await one.end();
  }
}

// ---------------------------------------------------------------------------

export async function run(state, args = []) {
  const seconds = Number(args[0] ?? 10);
  const sql = postgres(state.dbUrl, { max: 8, onnotice: () => {} });
  const sampler = postgres(state.dbUrl, { max: 1, onnotice: () => {} });
  const receiver = await startReceiver();
  const fn = discoverFunctions().find((f) => f.name === "webhook-dispatch");
  const secondPort = await freePort();
  // A second process of the dispatcher, started as the stack starts its own
  // (plain http to loopback is allowed by the policy row seed.sql sets).
  const secondPid = startFunction(fn, secondPort, state, {
    watch: false,
    logFile: join(stackPaths(state.dir).logs, "bench-webhook-dispatch-2.log"),
  });
  const ctx = { state, sql, sampler, receiver, secondPort };
  try {
    await waitForPort(secondPort, {
      pid: secondPid,
      what: "second webhook-dispatch",
    });
    await stopScheduler(state);
    await throughput(ctx, seconds);
    await startScheduler(state, sql);
    await latency(ctx, seconds);
    await stopScheduler(state);
    await emitCost(ctx, seconds);
  } finally {
    await stopGroup(secondPid);
    await receiver.close();
    await sampler.end();
    await sql.end();
  }
}

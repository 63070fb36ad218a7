// Ingestion figures, from this separate process over HTTP on loopback, with
// Postgres durable (fsync and synchronous_commit on):
//   1. batches of 100 realistic events through /functions/v1/ingest/v1/batch,
//      sustained; next to multi-row INSERTs of the same rows into the same
//      events table from this client, 10 s before and 10 s after (the
//      baseline); then the same with the visitor draw of earlier versions of
//      this bench (1b, see VISIT_EVENTS), for comparison;
//   2. single-message track at a steady 200 requests/s: latency.
// Both sides of the ratio send data built before their clock starts: the
// request bodies, and the rows ingestion stored. This process shares the two
// cores with the server it measures, so building data while timing would
// take CPU from the side being measured. Each phase prints the CPU a batch
// cost, by process, and the throughput that cost allows on this machine's
// cores: throughput here is bound by the sum, not by one process.
// `npm run bench -- ingest [seconds]` (default 60).
import postgres from "postgres";
import { createIngestOrg } from "./fixtures.mjs";
import { watchCpu } from "./cpu_by_process.mjs";
import { startPerfProfile } from "./perf_profile.mjs";
import { measureOps, post, ratio, report } from "./load.mjs";
import { watchServerWork } from "./server_work.mjs";
import { preallocateWal } from "./wal.mjs";

export const BATCH = 100;
// People active during the run (the signed-in users, and the visitors of the
// earlier "strangers" draw; visits keep their own, see BROWSING): a site
// doing 10k events/s has far more than a few thousand; small pools would
// mostly measure lock waits on the same people.
const VISITORS = 200_000;
const USERS = 50_000;
const CLIENTS = 12;
const USER_AGENTS = [
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15",
  "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36",
];
const PAGES = [
  "https://shop.example/?utm_source=google&utm_medium=cpc&utm_campaign=brand",
  "https://shop.example/pricing",
  "https://shop.example/blog/launch?utm_source=newsletter&utm_medium=email",
  "https://shop.example/product/42",
];
const EVENTS = [
  "Product Viewed",
  "Product Added",
  "Checkout Started",
  "Order Completed",
];

// Anonymous traffic comes in visits: a visitor sends several events (pages,
// products viewed) before leaving, so most anonymous events come from a
// visitor already known. VISIT_EVENTS is the mean anonymous events per visitor:
// about three pages a session, each with a track call or two, is a modest
// site. The draw of earlier versions ("strangers") picks each event's visitor
// at random from 200,000; the bench starts from an empty database, so about
// half of its anonymous events meet a visitor never seen, and most visitors
// are gone before they could identify. Neither draw is the cheap one: visits
// create fewer profiles but update more (scattered over the table and its
// indexes, where new ones append) and merge more, and on this machine the
// two have cost Postgres about as much CPU a batch. Both are printed.
const VISIT_EVENTS = 5;
// Visitors still browsing: a returning event picks one of the last this many
// to arrive, so the batches in flight at once rarely name the same visitor.
const BROWSING = 20_000;

/**
 * A stream of realistic messages: 60% come from anonymous visitors, a third of
 * whom identify later (linking their device to a user, merging when that user
 * already has a profile from another device); 40% from signed-in users.
 * `visitors`: "visits" (default; a new visitor every VISIT_EVENTS anonymous
 * events on average) or "strangers" (the earlier draw above).
 */
export function makeWorkload(seed, { visitors = "visits" } = {}) {
  if (!["visits", "strangers"].includes(visitors)) {
    throw new Error(`visitors: "visits" or "strangers", not ${visitors}`);
  }
  let n = 0;
  let arrived = 0;
  const pick = (list) => list[Math.floor(Math.random() * list.length)];
  // The visitor of an anonymous event, and whether it arrived just now.
  const visitor = () => {
    if (visitors === "strangers") {
      return { k: Math.floor(Math.random() * VISITORS), first: false };
    }
    if (arrived === 0 || Math.random() < 1 / VISIT_EVENTS) {
      return { k: arrived++, first: true };
    }
    const from = Math.max(0, arrived - BROWSING);
    return {
      k: from + Math.floor(Math.random() * (arrived - from)),
      first: false,
    };
  };
  const context = (i) => ({
    userAgent: USER_AGENTS[i % USER_AGENTS.length],
    page: {
      url: PAGES[i % PAGES.length],
      referrer: i % 3 === 0 ? "https://www.google.com/" : "",
    },
    library: { name: "bench", version: "1" },
    ip: `198.51.100.${i % 250}`,
  });
  // A visitor who identifies does so on a later event of the visit: chance
  // per event, so that most of them (1 - (1 - p)^4) have by their fifth.
  const identifyChance = visitors === "strangers" ? 0.15 : 0.3;
  return () => {
    n++;
    const user = `${seed}-u${Math.floor(Math.random() * USERS)}`;
    const roll = Math.random();
    const base = {
      messageId: `${seed}-${n}`,
      timestamp: new Date().toISOString(),
      context: context(n),
    };
    if (roll < 0.6) {
      // Anonymous visitor; a third of visitors identify at some point.
      const { k, first } = visitor();
      const anonymousId = `${seed}-v${k}`;
      const identifies = k % 3 === 0 && !first &&
        Math.random() < identifyChance;
      if (identifies) {
        return {
          ...base,
          type: "identify",
          anonymousId,
          userId: `${seed}-u${k % USERS}`,
          traits: {
            email: `${anonymousId}@example.com`,
            plan: pick(["free", "pro"]),
          },
        };
      }
      return Math.random() < 0.7
        ? { ...base, type: "page", anonymousId, name: "Page" }
        : {
          ...base,
          type: "track",
          anonymousId,
          event: pick(EVENTS),
          properties: { sku: n % 100 },
        };
    }
    const revenue = Math.random() < 0.05
      ? { revenue: 20 + (n % 80), currency: "USD" }
      : {};
    return Math.random() < 0.8
      ? {
        ...base,
        type: "track",
        userId: user,
        event: pick(EVENTS),
        properties: { sku: n % 100, ...revenue },
      }
      : { ...base, type: "page", userId: user, name: "Account" };
  };
}

/**
 * Rows ingestion stored for the organization, every column but the generated
 * id, cut into batches: the baseline inserts these same rows again.
 */
async function storedBatches(sql, orgId, limit = 20_000) {
  const rows = await sql`
    select * from public.events where org_id = ${orgId} limit ${limit}`;
  const batches = [];
  for (let i = 0; i + BATCH <= rows.length; i += BATCH) {
    batches.push(rows.slice(i, i + BATCH).map(({ id: _id, ...row }) => row));
  }
  if (batches.length === 0) throw new Error("ingestion stored no events");
  return batches;
}

/**
 * Request bodies for a phase, built ahead. Sized for a rate above what two
 * cores reach; should a faster machine use them all, the rest are built on
 * demand (and the run says so).
 */
function prebuiltBodies(build, seconds) {
  const bodies = Array.from({ length: Math.ceil(seconds * 150) }, build);
  let used = 0;
  return {
    take: () => bodies[used++] ?? build(),
    taken: () => used,
    exhausted: () => used > bodies.length,
  };
}

export async function run(state, args = []) {
  const seconds = Number(args[0] ?? 60);
  const sql = postgres(state.dbUrl, { max: CLIENTS + 2, onnotice: () => {} });
  try {
    const { orgId, writeKey } = await createIngestOrg(sql, {
      name: "Bench",
    });
    const walFiles = await preallocateWal(sql);
    const url = `${state.apiUrl}/functions/v1/ingest/v1`;
    const headers = {
      Authorization: `Basic ${btoa(`${writeKey}:`)}`,
      "Content-Type": "application/json",
    };

    console.log(
      `1. batches of ${BATCH} events, ${CLIENTS} clients, ${seconds} s (after 5 s of load, ANALYZE and 2 s of warm-up)`,
    );
    console.log(
      `   ${walFiles} WAL segment files ready for reuse, as a server past its first checkpoint has them (bench/wal.mjs)`,
    );
    const sendBody = async (body) => {
      const res = await post(`${url}/batch`, headers, body);
      const answer = JSON.parse(res.text);
      if (res.status !== 200 || answer.accepted !== BATCH) {
        throw new Error(
          `HTTP ${res.status} ${JSON.stringify(answer).slice(0, 200)}`,
        );
      }
    };
    const load = (durationMs, body) =>
      measureOps(() => sendBody(body()), {
        concurrency: CLIENTS,
        durationMs,
        warmupMs: 0,
      });
    const bodyBuilder = (next) => () =>
      JSON.stringify({ batch: Array.from({ length: BATCH }, next) });

    // One ingest phase of a workload, from an empty events table: rows stored
    // before would otherwise weigh on the phase being compared with the
    // baseline. Steady state, as a database in service has it: some history,
    // and statistics that describe it (a fresh database plans its first minute
    // for empty tables, until autovacuum's first ANALYZE).
    const ingestPhase = async (buildBody, label) => {
      await sql`truncate public.events`;
      await load(5000, buildBody);
      await sql`analyze public.profiles, public.identities, public.events,
                        private.ingested_messages`;
      const bodies = prebuiltBodies(buildBody, seconds + 2);
      const serverWork = await watchServerWork(sql, [
        "events",
        "profiles",
        "identities",
        "ingested_messages",
      ]);
      const cpu = watchCpu();
      const profile = startPerfProfile(label);
      const http = await measureOps(() => sendBody(bodies.take()), {
        concurrency: CLIENTS,
        durationMs: seconds * 1000,
        warmupMs: 2000,
      });
      await profile.stop();
      return {
        http,
        // Counted over the warm-up too, as the counters are.
        meanwhile: await serverWork.describe(bodies.taken() * BATCH),
        cpu: cpu.describe(bodies.taken(), BATCH),
        exhausted: bodies.exhausted(),
      };
    };

    // THE BASELINE inserts what ingestion stores: every column it fills,
    // profile ids among them, taken from the rows a first 5 s of load stored.
    // It runs on both sides of the ingest phase, 10 s each, and the ratio
    // takes their mean: this machine's speed drifts by tens of percent within
    // minutes, and inserts slow as the table grows, so a baseline taken only
    // after the ingest phase (on the table it has just grown) or only before
    // (on an empty one) would tilt the ratio either way.
    const visits = bodyBuilder(makeWorkload("h"));
    await load(5000, visits);
    const sameRows = await storedBatches(sql, orgId);
    let nextRows = 0;
    const rawInsert = async () => {
      const cpu = watchCpu();
      const first = nextRows;
      const result = await measureOps(async () => {
        const rows = sameRows[nextRows++ % sameRows.length];
        await sql`insert into public.events ${sql(rows)}`;
      }, {
        concurrency: CLIENTS,
        durationMs: Math.min(seconds, 10) * 1000,
        warmupMs: 2000,
      });
      return { ...result, cpu: cpu.describe(nextRows - first, BATCH) };
    };
    const rawBefore = await rawInsert();
    const main = await ingestPhase(visits, "ingest-visits");
    const rawAfter = await rawInsert();
    // The earlier draw after the baseline's second half, so that the figures
    // above are measured as before it was added.
    const earlier = await ingestPhase(
      bodyBuilder(makeWorkload("w", { visitors: "strangers" })),
      "ingest-strangers",
    );
    const raw = { rps: (rawBefore.rps + rawAfter.rps) / 2 };

    const events = (r) => ({ ...r, rps: r.rps * BATCH });
    report(
      "multi-row INSERT of the same rows, 10 s before",
      events(rawBefore),
      "events/s",
    );
    console.log(`  ${rawBefore.cpu}`);
    report(
      "multi-row INSERT of the same rows, 10 s after",
      events(rawAfter),
      "events/s",
    );
    console.log(`  ${rawAfter.cpu}`);
    const describe = (label, phase) => {
      report(label, events(phase.http), "events/s");
      if (phase.exhausted) {
        console.log(
          "  (the prebuilt bodies ran out; the rest were built while timing)",
        );
      }
      console.log(`  ${phase.meanwhile}`);
      console.log(`  ${phase.cpu}`);
    };
    describe("HTTP ingest, batches of 100 (request latency)", main);
    const { http } = main;
    ratio("ingest / mean raw INSERT (target >= 0.3)", http.rps / raw.rps, 0.3);
    console.log(
      `ingest: ${(http.rps * BATCH).toFixed(0)} events/s (target >= 10000: ${
        http.rps * BATCH >= 10000 ? "met" : "NOT met"
      }),` +
        ` p99 ${http.p99.toFixed(0)} ms (target <= 250: ${
          http.p99 <= 250 ? "met" : "NOT met"
        })`,
    );
    console.log(
      `\n1b. the visitor draw of earlier versions: each anonymous event's visitor at random among 200,000 (about half never seen before); ${seconds} s, as above`,
    );
    describe("HTTP ingest, batches of 100 (request latency)", earlier);
    ratio("ingest / mean raw INSERT", earlier.http.rps / raw.rps);

    console.log(
      `\n2. single-message track at 200 requests/s for ${
        Math.min(seconds, 30)
      } s (after 2 s of warm-up, as phase 1)`,
    );
    // Settle first: the phases above wrote hundreds of thousands of rows, and the
    // autovacuum work and dirty buffers they leave would otherwise land in
    // this phase's tail latency. Vacuum everything they wrote, then flush.
    await sql`vacuum analyze public.events, public.profiles, public.identities,
                             private.ingested_messages, public.usage_counters`;
    await sql`checkpoint`;
    const single = makeWorkload("s");
    const latencies = [];
    let failed = 0;
    // The first requests meet a new organization, cold caches and plans in
    // every pooled connection: sent, checked, not timed.
    const warmUntil = performance.now() + 2000;
    const until = warmUntil + Math.min(seconds, 30) * 1000;
    const inFlight = [];
    for (let i = 0; performance.now() < until; i++) {
      const due = performance.now() + 5; // open loop: one request every 5 ms
      const started = performance.now();
      inFlight.push(
        post(
          `${url}/track`,
          headers,
          JSON.stringify({
            ...single(),
            type: "track",
            event: "Tick",
            userId: `t-${i % 500}`,
          }),
        )
          .then((res) => {
            if (res.status !== 200) failed++;
            if (started >= warmUntil) {
              latencies.push(performance.now() - started);
            }
          }),
      );
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    await Promise.all(inFlight);
    latencies.sort((a, b) => a - b);
    const p = (q) => latencies[Math.floor(q * (latencies.length - 1))];
    console.log(
      `track: ${latencies.length} requests, p50 ${p(0.5).toFixed(1)} ms, p99 ${
        p(0.99).toFixed(1)
      } ms` +
        ` (target <= 50: ${p(0.99) <= 50 ? "met" : "NOT met"})${
          failed ? `, ${failed} failed` : ""
        }`,
    );
  } finally {
    await sql.end();
  }
}

// POST /functions/v1/webhook-dispatch (service role only): sends due webhook
// deliveries and returns. pg_cron calls it every few seconds through pg_net on
// a hosted project; locally dev/webhook_scheduler.mjs calls it on each NOTIFY
// from private.emit_webhook_event and every few seconds.
//
// Stages per round: claim a batch (private.claim_webhook_deliveries: SKIP
// LOCKED, a lease, per-key FIFO) -> send concurrently, at most a few at once
// per endpoint and at its rate limit (send.ts) -> record every outcome in one
// call (private.record_webhook_results: retries, dead letters, endpoint
// health). Rounds repeat while there is work and time: Edge Functions get 2 s
// of CPU and 150-400 s of wall clock a request, so it stops well before.
// Any number of dispatchers may run: a killed one loses nothing, its leases
// expire and the rows are claimed again.
import { verifyServiceRole } from "../_shared/auth.ts";
import { sql } from "../_shared/db.ts";
import { toErrorResponse } from "../_shared/errors.ts";
import { jsonResponse } from "../_shared/http.ts";
import { attempt, type Claimed, type Outcome } from "./send.ts";

const BATCH = Number(Deno.env.get("MERIDIAN_WEBHOOK_BATCH") ?? 100);
const ROUND_BUDGET_MS = Number(
  Deno.env.get("MERIDIAN_WEBHOOK_DISPATCH_MS") ?? 20_000,
);
const PER_ENDPOINT_CONCURRENCY = 8;
// Long enough for a batch's slowest send (timeouts are at most 30 s).
const LEASE = `${
  Number(Deno.env.get("MERIDIAN_WEBHOOK_LEASE_S") ?? 60)
} seconds`;
const worker = `dispatch-${crypto.randomUUID().slice(0, 8)}`;

const db = () => sql({ statementTimeoutMs: 30_000 });

async function claim(): Promise<Claimed[]> {
  return await db()<Claimed[]>`
    select * from private.claim_webhook_deliveries(${worker}, ${BATCH}, ${LEASE}::interval)`;
}

async function record(outcomes: Outcome[]): Promise<void> {
  await db()`select private.record_webhook_results(${worker}, ${
    db().json(outcomes as never)
  })`;
}

/**
 * Sends a batch: endpoints in parallel; within one endpoint at most
 * PER_ENDPOINT_CONCURRENCY at once, spaced to its rate limit.
 */
async function sendBatch(batch: Claimed[]): Promise<Outcome[]> {
  const byEndpoint = new Map<string, Claimed[]>();
  for (const d of batch) {
    const list = byEndpoint.get(d.endpoint_id) ?? [];
    list.push(d);
    byEndpoint.set(d.endpoint_id, list);
  }
  const outcomes: Outcome[] = [];
  await Promise.all([...byEndpoint.values()].map(async (list) => {
    const gapMs = list[0].rate_limit_per_second
      ? 1000 / list[0].rate_limit_per_second
      : 0;
    let next = 0;
    const lane = async () => {
      while (next < list.length) {
        const d = list[next++];
        const started = Date.now();
        outcomes.push(await attempt(d));
        const wait = gapMs * Math.min(PER_ENDPOINT_CONCURRENCY, list.length) -
          (Date.now() - started);
        if (gapMs && wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    };
    await Promise.all(
      Array.from(
        { length: Math.min(PER_ENDPOINT_CONCURRENCY, list.length) },
        lane,
      ),
    );
  }));
  return outcomes;
}

Deno.serve(async (req) => {
  try {
    await verifyServiceRole(req);
    const deadline = Date.now() + ROUND_BUDGET_MS;
    let claimed = 0;
    let succeeded = 0;
    let rounds = 0;
    // The next claim runs while this batch is sent: the database and the
    // network work at once instead of in turn.
    let next = claim();
    while (true) {
      const batch = await next;
      if (batch.length === 0) break;
      rounds++;
      claimed += batch.length;
      const more = Date.now() < deadline;
      next = more ? claim() : Promise.resolve([]);
      const outcomes = await sendBatch(batch);
      succeeded += outcomes.filter((o) => o.error_class === null).length;
      await record(outcomes);
      if (!more) break;
    }
    return jsonResponse({ worker, rounds, claimed, succeeded });
  } catch (err) {
    return toErrorResponse(err);
  }
});

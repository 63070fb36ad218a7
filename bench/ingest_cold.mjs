// Ingestion on a new database: what a batch costs while the ingest function's
// pooled connections still hold the plans they made on empty tables (ingestion
// plans each statement once per connection), next to the same batches once
// ANALYZE has given Postgres statistics and the plans were made again.
//   1. 400 batches of 100 realistic events, one at a time, from the first
//      request a new organization on a new database gets; the last 100 timed;
//   2. ANALYZE, then 100 more batches, timed.
// One at a time, so the figures are each batch's own cost, not queueing.
// `npm run bench -- ingest_cold`.
import postgres from "postgres";
import { createIngestOrg } from "./fixtures.mjs";
import { makeWorkload } from "./ingest.mjs";
import { post, ratio } from "./load.mjs";

const BATCH = 100;
const COLD_BATCHES = 400;
const TIMED = 100;

export async function run(state) {
  const sql = postgres(state.dbUrl, { max: 2, onnotice: () => {} });
  try {
    const { writeKey } = await createIngestOrg(sql, { name: "Cold" });
    const url = `${state.apiUrl}/functions/v1/ingest/v1/batch`;
    const headers = {
      Authorization: `Basic ${btoa(`${writeKey}:`)}`,
      "Content-Type": "application/json",
    };
    const next = makeWorkload("cold");
    const bodies = Array.from(
      { length: COLD_BATCHES + TIMED },
      () => JSON.stringify({ batch: Array.from({ length: BATCH }, next) }),
    );
    let sent = 0;
    // Mean milliseconds a batch over the last `timed` of `count` batches.
    const sendBatches = async (count, timed) => {
      let started = 0;
      for (let i = 0; i < count; i++) {
        if (i === count - timed) started = performance.now();
        const res = await post(url, headers, bodies[sent++]);
        if (res.status !== 200) {
          throw new Error(`HTTP ${res.status} ${res.text.slice(0, 200)}`);
        }
      }
      return (performance.now() - started) / timed;
    };

    const cold = await sendBatches(COLD_BATCHES, TIMED);
    const [{ analyzed }] = await sql`
      select last_autoanalyze is not null as analyzed
      from pg_stat_user_tables where relid = 'public.profiles'::regclass`;
    await sql`analyze public.profiles, public.identities, public.events,
                      private.ingested_messages`;
    const warm = await sendBatches(TIMED, TIMED);

    const line = (label, ms) =>
      console.log(
        `${label.padEnd(60)} ${ms.toFixed(1).padStart(6)} ms a batch`,
      );
    line(
      `batches ${COLD_BATCHES - TIMED + 1}-${COLD_BATCHES} on a new database`,
      cold,
    );
    if (analyzed) console.log("  (autovacuum analyzed profiles meanwhile)");
    line(`the next ${TIMED}, after ANALYZE`, warm);
    ratio(
      "new database / after ANALYZE (1.0: no plan made on empty tables hurts)",
      cold / warm,
    );
  } finally {
    await sql.end();
  }
}

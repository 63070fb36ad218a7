// Instructions Postgres runs for a batch of 100 events in
// private.ingest_batch_metered (the call a request makes), next to inserting
// the same rows into the same events table with a multi-row INSERT: counted by
// valgrind's callgrind in a single-user backend, on copies of one warmed-up
// database. The counts come out the same on every run,
// whatever else the machine does, so a change of a few percent in ingestion's
// cost shows here, where throughput runs on this shared machine vary by
// 10-20% (`ingest` measures throughput; this measures work).
// `npm run bench -- ingest_instructions [batches]` (default 40). Needs
// valgrind (Debian package valgrind). With MERIDIAN_CALLGRIND_DIR set (a
// directory the postgres user may write), each run's profile is kept there for
// callgrind_annotate (--inclusive=yes, --tree=caller) to say where the
// instructions go.
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import postgres from "postgres";
import { DENO, PG_BIN, ROOT, stackPaths } from "../dev/config.mjs";
import { stopCluster } from "../dev/postgres.mjs";
import { asPostgresUser, isRoot, runChecked } from "../dev/processes.mjs";
import { createIngestOrg } from "./fixtures.mjs";
import { BATCH } from "./ingest.mjs";

// Enough history that the measured batches meet returning visitors, users
// that link and merge, and indexes of some depth.
const WARM_BATCHES = 300;

/** Batches of the ingest workload in the form ingest_batch takes, from the function's own code. */
function workloadBatches(count, seed) {
  const out = runChecked(DENO, [
    "run",
    // The same batches on every run: the workload draws from Math.random.
    `--v8-flags=--random-seed=${seed.charCodeAt(0)}`,
    "--config",
    join(ROOT, "deno.json"),
    "--allow-read",
    "--allow-env",
    join(ROOT, "bench", "stored_batches.ts"),
    String(count),
    seed,
  ], { maxBuffer: 1 << 30 });
  return out.trim().split("\n").map((line) => JSON.parse(line));
}

/** Where a run's callgrind profile goes: nowhere unless asked for (the total is on stderr). */
function profileFile(name) {
  const dir = process.env.MERIDIAN_CALLGRIND_DIR;
  return dir ? join(dir, `${name}.callgrind.out`) : "/dev/null";
}

/**
 * Instructions a single-user backend counts (valgrind --tool=callgrind) to run
 * `script` on a fresh copy of `snapshot`.
 */
function countInstructions(snapshot, work, script, name) {
  rmSync(work, { recursive: true, force: true });
  cpSync(snapshot, work, { recursive: true, preserveTimestamps: true });
  if (isRoot()) runChecked("chown", ["-R", "postgres:postgres", work]);
  const { cmd, args } = asPostgresUser("valgrind", [
    "--tool=callgrind",
    `--callgrind-out-file=${profileFile(name)}`,
    join(PG_BIN, "postgres"),
    "--single",
    "-j",
    "-D",
    work,
    "postgres",
  ]);
  const res = spawnSync(cmd, args, {
    input: script,
    encoding: "utf8",
    maxBuffer: 1 << 30,
  });
  if (res.status !== 0 || /\bERROR:/.test(res.stderr + res.stdout)) {
    throw new Error(
      `single-user backend failed (${res.status}):\n${
        (res.stderr + res.stdout).slice(-2000)
      }`,
    );
  }
  const collected = res.stderr.match(/Collected : (\d+)/);
  if (!collected) throw new Error(`no count from callgrind:\n${res.stderr}`);
  return Number(collected[1]);
}

/**
 * THE BASELINE: the rows the measured batches store, as one multi-row INSERT
 * per batch. Made by running the batches in a transaction that is rolled back
 * (so the copies still meet them new), with every value quoted by Postgres
 * itself (record_out, then %L).
 */
async function baselineStatements(sql, orgId, sourceId) {
  const tx = await sql.reserve();
  try {
    await tx`begin`;
    await tx`select private.ingest_batch(${orgId}, ${sourceId}, b.body::jsonb)
             from bench.batches b order by b.n`;
    const rows = await tx`
      with cols as (
        select string_agg(quote_ident(attname), ', ' order by attnum) as list,
               string_agg('(r).' || quote_ident(attname), ', ' order by attnum) as picked
        from pg_attribute
        where attrelid = 'public.events'::regclass and attnum > 0 and not attisdropped
          and attname <> 'id'
      ), numbered as (
        select e, (row_number() over (order by e.received_at, e.message_id) - 1) / ${BATCH} as b
        from public.events e
        where e.org_id = ${orgId}
          and e.message_id in (select m ->> 'message_id'
                               from bench.batches b, jsonb_array_elements(b.body::jsonb) m)
      )
      select format('insert into public.events (%s) select %s from (values %s) v (r);',
                    cols.list, cols.picked, string_agg(format('(%L::public.events)', n.e), ', '))
               as statement
      from numbered n, cols group by n.b, cols.list, cols.picked order by n.b`;
    return rows.map((r) => r.statement);
  } finally {
    await tx`rollback`;
    tx.release();
  }
}

export async function run(state, args = []) {
  const batches = Number(args[0] ?? 40);
  if (!Number.isInteger(batches) || batches < 1) {
    throw new Error(`batches must be a positive integer, not ${args[0]}`);
  }
  const valgrind = spawnSync("valgrind", ["--version"], { encoding: "utf8" });
  if (valgrind.status !== 0) {
    throw new Error("valgrind is not installed (apt-get install valgrind)");
  }
  const sql = postgres(state.dbUrl, { max: 2, onnotice: () => {} });
  let orgId;
  let sourceId;
  let baseline;
  try {
    ({ orgId, sourceId } = await createIngestOrg(sql, {
      name: "Instructions",
    }));
    // One stream of batches: the measured ones continue the warm-up's, so they
    // meet its visitors and users again (returning, identifying, merging), as
    // the later batches of an HTTP run do.
    const stream = workloadBatches(WARM_BATCHES + batches, "m");
    // WARM UP through the SQL function, then keep the measured batches in a
    // table: the single-user script reads each from there (one index probe
    // per batch), so no request body has to be written into SQL text. They
    // are kept as text and cast in the call, so the count includes parsing
    // them into jsonb, as the HTTP path parses its parameter.
    for (const batch of stream.slice(0, WARM_BATCHES)) {
      await sql`select private.ingest_batch_metered(${orgId}, ${sourceId}, ${
        sql.json(batch)
      })`;
    }
    await sql`analyze`;
    await sql`create schema bench`;
    await sql`create table bench.batches (n int primary key, body text not null)`;
    // Uncompressed, as a request body arrives: no decompression in the count.
    await sql`alter table bench.batches alter column body set storage external`;
    for (const [i, batch] of stream.slice(WARM_BATCHES).entries()) {
      await sql`insert into bench.batches values (${i + 1}, ${
        JSON.stringify(batch)
      })`;
    }
    baseline = await baselineStatements(sql, orgId, sourceId);
    await sql`checkpoint`;
  } finally {
    await sql.end();
  }

  // A consistent copy needs the server stopped; the stack's teardown finds it so.
  const paths = stackPaths(state.dir);
  stopCluster(paths);
  const dir = join(state.dir, "instructions");
  mkdirSync(dir, { recursive: true });
  const snapshot = join(dir, "snapshot");
  cpSync(paths.data, snapshot, { recursive: true, preserveTimestamps: true });
  const work = join(dir, "work");

  // A blank line ends each command in single-user -j mode, so each batch is
  // its own transaction, as over HTTP.
  const ingestScript = Array.from(
    { length: batches },
    (_, i) =>
      `select private.ingest_batch_metered('${orgId}', '${sourceId}', body::jsonb) from bench.batches where n = ${
        i + 1
      };`,
  ).join("\n\n");
  // Each count includes the backend's start and its shutdown checkpoint; a
  // run of no work counts those alone, and is taken off.
  const idle = countInstructions(snapshot, work, "select 1;", "idle");
  const ingest = countInstructions(snapshot, work, ingestScript, "ingest");
  const insert = countInstructions(
    snapshot,
    work,
    baseline.join("\n\n"),
    "insert",
  );
  rmSync(dir, { recursive: true, force: true });

  const perBatch = (n) => (n - idle) / batches;
  const million = (n) => (n / 1e6).toFixed(1);
  console.log(
    `${batches} batches of ${BATCH} events, after ${WARM_BATCHES} batches of warm-up (valgrind --tool=callgrind, single-user backend)`,
  );
  console.log(
    `ingest_batch_metered                         ${
      million(perBatch(ingest))
    } M instructions a batch`,
  );
  console.log(
    `multi-row INSERT of the same rows             ${
      million(perBatch(insert))
    } M instructions a batch`,
  );
  console.log(
    `ratio INSERT / ingest_batch_metered instructions: ${
      (perBatch(insert) / perBatch(ingest)).toFixed(2)
    }x  (the throughput ratio, were both bound by Postgres's CPU alone)`,
  );
}

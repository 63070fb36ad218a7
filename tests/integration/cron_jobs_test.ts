// The stack's pg_cron really runs the scheduled maintenance jobs (partitions,
// API key usage, rate-limit sweeps): a job it cannot connect for is only a
// "connection failed" row in cron.job_run_details, which nothing else notices.
import assert from "node:assert/strict";
import postgres from "postgres";
import { stack } from "../support/stack.ts";

type Run = { status: string; return_message: string | null };

Deno.test("scheduled jobs run and succeed", async () => {
  const sql = postgres(stack().dbUrl, { max: 1, onnotice: () => {} });
  try {
    // The job runs at the top of every minute: wait for its first run on a
    // stack that has just started, then judge its latest.
    const deadline = Date.now() + 75_000;
    let run: Run | undefined;
    while (!run && Date.now() < deadline) {
      [run] = await sql<Run[]>`
        select d.status, d.return_message
        from cron.job_run_details d join cron.job j using (jobid)
        where j.jobname = 'meridian-flush-api-key-usage'
          and d.status in ('succeeded', 'failed')
        order by d.runid desc limit 1`;
      if (!run) await new Promise((r) => setTimeout(r, 1000));
    }
    assert.ok(run, "the every-minute job ran within 75 s");
    assert.equal(run.status, "succeeded", run.return_message ?? "");
  } finally {
    await sql.end();
  }
});

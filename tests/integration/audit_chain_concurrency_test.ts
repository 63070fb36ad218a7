// Concurrent appenders on one organization: every append gets its own link and
// the chain still verifies end to end (pgTAP cannot race, so this test does).
import assert from "node:assert/strict";
import postgres from "postgres";
import { adminSql, stack } from "../support/stack.ts";

Deno.test("concurrent audit appends keep one unbroken chain", async () => {
  const sql = adminSql();
  const writers = postgres(stack().dbUrl, { max: 16, onnotice: () => {} });
  try {
    const [org] = await sql`
      insert into public.organizations (name, slug)
      values ('Racy', ${
      "racy-" + crypto.randomUUID().slice(0, 8)
    }) returning id`;
    const [{ before }] = await sql`
      select count(*)::int as before from public.audit_log where org_id = ${org.id}`;
    const WRITERS = 16;
    const EACH = 25;
    await Promise.all(
      Array.from({ length: WRITERS }, (_, w) =>
        (async () => {
          for (let i = 0; i < EACH; i++) {
            await writers`
              select (private.append_audit(${org.id}::uuid, 'race.append', 'race',
                ${`${w}-${i}`})).seq`;
          }
        })()),
    );
    const [counts] = await sql`
      select count(*)::int as rows, count(distinct seq)::int as seqs, max(seq)::int as last
      from public.audit_log where org_id = ${org.id}`;
    assert.deepEqual({ ...counts }, {
      rows: before + WRITERS * EACH,
      seqs: before + WRITERS * EACH,
      last: before + WRITERS * EACH,
    });
    const [verdict] =
      await sql`select * from private.verify_audit_chain(${org.id})`;
    assert.equal(verdict.ok, true, verdict.reason);
    assert.equal(Number(verdict.rows_checked), before + WRITERS * EACH);
  } finally {
    await writers.end();
    await sql.end();
  }
});

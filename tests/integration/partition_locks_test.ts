// Partition DDL against open transactions on events: an analyst's query, or a
// batch in flight. Making a partition must not wait for either, two makers of
// one partition take turns, and the drop of an expired one gives up after a
// few seconds instead of holding every writer up behind a long query.
import assert from "node:assert/strict";
import type postgres from "postgres";
import { adminSql, waitForLockWait } from "../support/stack.ts";
import {
  createIngestTarget,
  type IngestTarget,
  openBatch,
} from "../support/ingest.ts";

const DAY = 86_400_000;

/** A past day, within the events retention, that has no events partition yet. */
async function dayWithoutPartition(sql: postgres.Sql): Promise<Date> {
  for (;;) {
    const day = new Date(
      Math.floor(Date.now() / DAY - 60 - Math.random() * 600) * DAY,
    );
    const name = `partitions.events_p${
      day.toISOString().slice(0, 10).replaceAll("-", "_")
    }`;
    const [{ exists }] =
      await sql`select to_regclass(${name}) is not null as exists`;
    if (!exists) return day;
  }
}

function message(id: string, at: Date) {
  const timestamp = new Date(at.getTime() + 3_600_000).toISOString();
  return {
    message_id: id,
    type: "track",
    event: "Imported",
    timestamp,
    received_at: new Date().toISOString(),
    identifiers: [{ type: "anonymous_id", value: `visitor-${id}` }],
  };
}

/** ingest_batch in a transaction of its own that fails rather than waits 5 s for a lock. */
function ingest(
  sql: postgres.Sql,
  target: IngestTarget,
  messages: postgres.JSONValue[],
) {
  return sql.begin(async (tx) => {
    await tx`set local lock_timeout = '5s'`;
    await tx`select private.ingest_batch(${target.orgId}, ${target.sourceId}, ${
      sql.json(messages)
    })`;
  });
}

/** A transaction that has read events and stays open, as a long analyst query does. */
async function openReader(sql: postgres.Sql) {
  const reader = await sql.reserve();
  await reader`begin`;
  await reader`select count(*) from public.events`;
  return {
    async close() {
      await reader`commit`;
      reader.release();
    },
  };
}

async function storedEvents(sql: postgres.Sql, target: IngestTarget) {
  const [{ n }] = await sql`
    select count(*)::int as n from public.events where org_id = ${target.orgId}`;
  return n;
}

Deno.test("a batch that makes a partition does not wait for a reader of events", async () => {
  const sql = adminSql();
  try {
    const target = await createIngestTarget(sql, "partition-reader");
    const day = await dayWithoutPartition(sql);
    const reader = await openReader(sql);
    try {
      await ingest(sql, target, [message("old-1", day)]);
    } finally {
      await reader.close();
    }
    assert.equal(await storedEvents(sql, target), 1);
  } finally {
    await sql.end();
  }
});

Deno.test("two batches making one partition take turns and both store", async () => {
  const sql = adminSql();
  // The second batch's own client: sql's two connections hold the first batch
  // and watch the second.
  const other = adminSql();
  try {
    const target = await createIngestTarget(sql, "partition-pair");
    const day = await dayWithoutPartition(sql);
    const first = await openBatch(sql, target, [message("pair-1", day)]);
    try {
      const second = ingest(other, target, [message("pair-2", day)]);
      await waitForLockWait(
        sql,
        "the second batch to wait for the first",
        "%ingest_batch%",
      );
      await first.commit();
      await second;
    } finally {
      await first.close();
    }
    assert.equal(await storedEvents(sql, target), 2);
  } finally {
    await other.end();
    await sql.end();
  }
});

Deno.test("maintenance keeps an expired partition rather than wait long for a reader", async () => {
  const sql = adminSql();
  try {
    const [{ partition }] = await sql`
      select private.create_time_partition('public.events',
               date_trunc('day', now() - interval '3 years')) as partition`;
    const exists = async () => {
      const [row] =
        await sql`select to_regclass(${partition}) is not null as exists`;
      return row.exists as boolean;
    };
    const reader = await openReader(sql);
    try {
      // Bounded, so that a maintenance run that waits for the reader fails here.
      const runs = await sql.begin(async (tx) => {
        await tx`set local statement_timeout = '20s'`;
        return await tx`
          select parent::text, dropped from private.maintain_time_partitions()
          where parent = 'public.events'::regclass`;
      });
      assert.deepEqual(runs.map((r) => r.dropped), [0]);
      assert.equal(await exists(), true, "kept while the reader is open");
    } finally {
      await reader.close();
    }
    await sql`select private.maintain_time_partitions()`;
    assert.equal(await exists(), false, "dropped by the next run");
  } finally {
    await sql.end();
  }
});

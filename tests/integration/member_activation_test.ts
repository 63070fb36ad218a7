// Activating members takes a lock on the organization's row, to count seats one
// activation at a time. That lock must not wait for ingestion, whose foreign-key
// checks hold the same row (key share) until each batch commits.
import assert from "node:assert/strict";
import type postgres from "postgres";
import { adminSql, createUser } from "../support/stack.ts";
import { createIngestTarget, openBatch } from "../support/ingest.ts";

/** Adds an active member, failing (55P03) rather than waiting longer than lockTimeout for a lock. */
async function addMember(
  tx: postgres.TransactionSql,
  orgId: string,
  userId: string,
  lockTimeout = "5s",
) {
  await tx`select set_config('lock_timeout', ${lockTimeout}, true)`;
  await tx`
    insert into public.organization_members (org_id, user_id, role)
    values (${orgId}, ${userId}, 'read_only')`;
}

Deno.test("adding a member does not wait for an ingestion batch in flight", async () => {
  const sql = adminSql();
  try {
    const target = await createIngestTarget(sql, "seats-ingest");
    const member = await createUser(sql, "seats-ingest-member");
    const now = new Date().toISOString();
    const batch = await openBatch(sql, target, [{
      message_id: "m-1",
      type: "track",
      event: "Seen",
      timestamp: now,
      received_at: now,
      identifiers: [{ type: "anonymous_id", value: "visitor-1" }],
    }]);
    try {
      await sql.begin((tx) => addMember(tx, target.orgId, member.id));
      await batch.commit();
    } finally {
      await batch.close();
    }
    const [counts] = await sql`
      select (select count(*)::int from public.organization_members
              where org_id = ${target.orgId} and status = 'active') as members,
             (select count(*)::int from public.events where org_id = ${target.orgId}) as events`;
    assert.deepEqual({ ...counts }, { members: 1, events: 1 });
  } finally {
    await sql.end();
  }
});

Deno.test("activations still count seats one at a time", async () => {
  const sql = adminSql();
  const first = await sql.reserve();
  let open = false;
  try {
    const target = await createIngestTarget(sql, "seats-serial");
    await sql`update public.organizations set seat_limit_override = 1 where id = ${target.orgId}`;
    const [a, b] = [
      await createUser(sql, "seats-a"),
      await createUser(sql, "seats-b"),
    ];
    // The first activation takes the last seat and stays open.
    await first`begin`;
    open = true;
    await first`
      insert into public.organization_members (org_id, user_id, role)
      values (${target.orgId}, ${a.id}, 'read_only')`;
    // The second cannot count seats until the first is done: it waits, here
    // until its lock timeout.
    await assert.rejects(
      sql.begin((tx) => addMember(tx, target.orgId, b.id, "1s")),
      (err: { code?: string }) => err.code === "55P03",
    );
    await first`commit`;
    open = false;
    await assert.rejects(
      sql.begin((tx) => addMember(tx, target.orgId, b.id)),
      (err: { code?: string; message?: string }) =>
        err.code === "23514" && /seat limit reached/.test(err.message ?? ""),
    );
  } finally {
    if (open) await first`rollback`;
    first.release();
    await sql.end();
  }
});

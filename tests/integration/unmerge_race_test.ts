// Undoing a merge while something else moves what it must restore: a batch,
// not yet committed, that merges the profile holding it, or another admin
// undoing a later merge of the same chain. The unmerge waits for them, then
// takes its identities back from wherever they are, and the events of the
// merged profile that a batch in flight wrote to the holder.
import assert from "node:assert/strict";
import type postgres from "postgres";
import {
  adminSql,
  client,
  createUser,
  type TestUser,
  waitForLockWait,
} from "../support/stack.ts";
import {
  createIngestTarget,
  type IngestTarget,
  openBatch,
  post,
} from "../support/ingest.ts";

/**
 * Through the HTTP endpoint: C (anonymous c-1), B (user u-1) and A (anonymous
 * a-1), oldest first, after `before` (older profiles of the test's own); then
 * A merges into B and B into C.
 */
async function chain(
  sql: postgres.Sql,
  label: string,
  before: Record<string, string>[] = [],
) {
  const target = await createIngestTarget(sql, label);
  const start = Date.now() - 3_600_000;
  const at = (sec: number) => new Date(start + sec * 1000).toISOString();
  let sec = 0;
  const send = async (type: string, ids: Record<string, string>) => {
    const message = { type, event: "Seen", timestamp: at(sec += 10), ...ids };
    const res = await post(target, type, JSON.stringify(message));
    assert.equal(res.status, 200);
  };
  const owner = async (value: string) => {
    const [row] = await sql`
      select profile_id from public.identities
      where org_id = ${target.orgId} and value = ${value}`;
    return row.profile_id as string;
  };
  for (const ids of before) await send("track", ids);
  await send("track", { anonymousId: "c-1" });
  await send("track", { userId: "u-1" });
  await send("track", { anonymousId: "a-1" });
  const [a, b] = [await owner("a-1"), await owner("u-1")];
  await send("identify", { userId: "u-1", anonymousId: "a-1" });
  await send("identify", { userId: "u-1", anonymousId: "c-1" });
  const merges = await sql`
    select loser_id, id from public.profile_merges
    where org_id = ${target.orgId}`;
  const mergeOf = (loser: string) =>
    merges.find((m) => m.loser_id === loser)?.id as string;
  const admin = await createUser(sql, `${label}-admin`);
  await sql`
    insert into public.organization_members (org_id, user_id, role)
    values (${target.orgId}, ${admin.id}, 'admin')`;
  return { target, at, owner, a, b, mergeOf, admin };
}

/**
 * Starts an unmerge through supabase-js and waits until Postgres shows it
 * blocked on a lock; `reply` settles once it is let through.
 */
async function blockedUnmerge(
  sql: postgres.Sql,
  admin: TestUser,
  target: IngestTarget,
  mergeId: string,
) {
  // then() sends it: a supabase-js query is not sent until it is awaited or then'd.
  const answer = client(admin.token).rpc("unmerge_profiles", {
    p_org_id: target.orgId,
    p_merge_id: mergeId,
  }).then((reply) => reply);
  await waitForLockWait(
    sql,
    "the unmerge to wait for a lock",
    "%unmerge_profiles%",
  );
  // Wrapped: an async function returning the promise itself would wait for it.
  return { reply: answer };
}

Deno.test("an unmerge racing a merge of the holder waits for it and still restores", async () => {
  const sql = adminSql();
  try {
    const { target, at, owner, a, mergeOf, admin } = await chain(
      sql,
      "unmerge-race",
      [{ anonymousId: "d-1" }],
    );
    const d = await owner("d-1");
    // A batch merges C, which holds A's identity now, into D, and stays open.
    const batch = await openBatch(sql, target, [{
      message_id: "cd",
      type: "identify",
      timestamp: at(100),
      received_at: at(100),
      identifiers: [
        { type: "user_id", value: "u-1" },
        { type: "anonymous_id", value: "d-1" },
      ],
    }]);
    try {
      const unmerge = await blockedUnmerge(sql, admin, target, mergeOf(a));
      await batch.commit();
      assert.equal((await unmerge.reply).error, null);
    } finally {
      await batch.close();
    }
    assert.equal(await owner("a-1"), a, "A has its identity back, from D");
    assert.equal(await owner("u-1"), d, "what else C held stays with D");
    const [pointer] = await sql`
      select merged_into from public.profiles where org_id = ${target.orgId} and id = ${a}`;
    assert.equal(pointer.merged_into, null);
  } finally {
    await sql.end();
  }
});

Deno.test("two unmerges on one chain, racing, each restore their profile", async () => {
  const sql = adminSql();
  const first = await sql.reserve();
  let open = false;
  try {
    const { target, owner, a, b, mergeOf, admin } = await chain(
      sql,
      "unmerge-pair",
    );
    // An admin undoes B->C and has not committed yet...
    await first`begin`;
    open = true;
    await first`
      select set_config('request.jwt.claims', ${
      JSON.stringify({ sub: admin.id, role: "authenticated" })
    }, true)`;
    await first`set local role authenticated`;
    await first`select public.unmerge_profiles(${target.orgId}, ${mergeOf(b)})`;
    // ...when another undoes A->B, whose holder that first unmerge is changing.
    const second = await blockedUnmerge(sql, admin, target, mergeOf(a));
    await first`commit`;
    open = false;
    assert.equal((await second.reply).error, null);

    assert.equal(await owner("a-1"), a, "A has its identity back, from B");
    assert.equal(await owner("u-1"), b, "B keeps its own");
  } finally {
    if (open) await first`rollback`;
    first.release();
    await sql.end();
  }
});

Deno.test("an event of the merged profile in flight when the unmerge starts goes back to it", async () => {
  const sql = adminSql();
  try {
    const { target, at, a, mergeOf, admin } = await chain(
      sql,
      "unmerge-late-event",
    );
    // A batch writes an event of A's (its anonymous id alone) to C, which
    // holds A's identity now, and stays open.
    const batch = await openBatch(sql, target, [{
      message_id: "a-late",
      type: "track",
      event: "Late",
      timestamp: at(100),
      received_at: at(100),
      anonymous_id: "a-1",
      identifiers: [{ type: "anonymous_id", value: "a-1" }],
    }]);
    try {
      const unmerge = await blockedUnmerge(sql, admin, target, mergeOf(a));
      await batch.commit();
      assert.equal((await unmerge.reply).error, null);
    } finally {
      await batch.close();
    }
    const [late] = await sql`
      select profile_id from public.events
      where org_id = ${target.orgId} and message_id = 'a-late'`;
    assert.equal(late.profile_id, a, "the late event is A's");
    const [counts] = await sql`
      select p.event_count::int as profile,
             (select count(*)::int from public.events e
              where e.org_id = p.org_id and e.profile_id = p.id) as events
      from public.profiles p where p.org_id = ${target.orgId} and p.id = ${a}`;
    assert.deepEqual({ ...counts }, { profile: 2, events: 2 });
  } finally {
    await sql.end();
  }
});

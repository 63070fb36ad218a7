// An admin undoes a merge while a batch, not yet committed, merges the profile
// that holds what that merge moved. The unmerge must wait for the batch and
// then take its identity back from wherever the batch put it.
import assert from "node:assert/strict";
import { adminSql, client, createUser, waitFor } from "../support/stack.ts";
import { createIngestTarget, openBatch, post } from "../support/ingest.ts";

Deno.test("an unmerge racing a merge of the holder waits for it and still restores", async () => {
  const sql = adminSql();
  try {
    const target = await createIngestTarget(sql, "unmerge-race");
    const start = Date.now() - 3_600_000;
    const at = (sec: number) => new Date(start + sec * 1000).toISOString();
    const send = async (message: Record<string, unknown>) =>
      assert.equal(
        (await post(target, String(message.type), JSON.stringify(message)))
          .status,
        200,
      );
    const owner = async (value: string) => {
      const [row] = await sql`
        select profile_id from public.identities
        where org_id = ${target.orgId} and value = ${value}`;
      return row.profile_id as string;
    };
    const seen = (sec: number, ids: Record<string, string>) =>
      send({ type: "track", event: "Seen", timestamp: at(sec), ...ids });
    const identify = (sec: number, ids: Record<string, string>) =>
      send({ type: "identify", timestamp: at(sec), ...ids });
    // D, C, B and A, oldest first; then A merges into B and B into C.
    await seen(0, { anonymousId: "d-1" });
    await seen(10, { anonymousId: "c-1" });
    await seen(20, { userId: "u-1" });
    await seen(30, { anonymousId: "a-1" });
    const a = await owner("a-1");
    const d = await owner("d-1");
    await identify(40, { userId: "u-1", anonymousId: "a-1" });
    await identify(50, { userId: "u-1", anonymousId: "c-1" });
    const [merge] = await sql`
      select id from public.profile_merges
      where org_id = ${target.orgId} and loser_id = ${a}`;

    // An admin of the organization, to undo the merge.
    const admin = await createUser(sql, "unmerge-admin");
    await sql`
      insert into public.organization_members (org_id, user_id, role)
      values (${target.orgId}, ${admin.id}, 'admin')`;

    // A batch merges C, which holds A's identity now, into D, and stays open.
    const batch = await openBatch(sql, target, [{
      message_id: "cd",
      type: "identify",
      timestamp: at(60),
      received_at: at(60),
      identifiers: [
        { type: "user_id", value: "u-1" },
        { type: "anonymous_id", value: "d-1" },
      ],
    }]);
    try {
      // Sent now: a supabase-js query is not, until it is awaited or then'd.
      const unmerge = client(admin.token).rpc("unmerge_profiles", {
        p_org_id: target.orgId,
        p_merge_id: merge.id,
      }).then((answer) => answer);
      await waitFor("the unmerge to wait for the batch", async () => {
        const [{ n }] = await sql`
          select count(*)::int as n from pg_stat_activity
          where wait_event_type = 'Lock' and query like '%unmerge_profiles%'`;
        return n === 1;
      }, 10_000);
      await batch.commit();
      const { error } = await unmerge;
      assert.equal(error, null);
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

// Batches racing on the same identifiers: never two profiles for one identity,
// never a deadlock (every request succeeds), whatever the interleaving.
import assert from "node:assert/strict";
import { adminSql } from "../support/stack.ts";
import { createIngestTarget, post } from "../support/ingest.ts";

Deno.test("concurrent batches on shared identifiers resolve to one profile", async () => {
  const sql = adminSql();
  try {
    const target = await createIngestTarget(sql, "race");
    const REQUESTS = 24;
    const batch = (i: number) =>
      JSON.stringify({
        batch: [
          // Every request introduces a device, links it to the shared user, and
          // touches the shared email, in different orders.
          { type: "page", anonymousId: `device-${i}`, messageId: `p-${i}` },
          ...(i % 2 === 0
            ? [
              {
                type: "identify",
                anonymousId: `device-${i}`,
                userId: "racer",
                messageId: `i-${i}`,
              },
              {
                type: "identify",
                userId: "racer",
                traits: { email: "racer@example.com" },
                messageId: `e-${i}`,
              },
            ]
            : [
              {
                type: "identify",
                userId: "racer",
                traits: { email: "racer@example.com" },
                messageId: `e-${i}`,
              },
              {
                type: "identify",
                anonymousId: `device-${i}`,
                userId: "racer",
                messageId: `i-${i}`,
              },
            ]),
        ],
      });
    const results = await Promise.all(
      Array.from(
        { length: REQUESTS },
        (_, i) => post(target, "batch", batch(i)),
      ),
    );
    assert.deepEqual(results.map((r) => r.status), Array(REQUESTS).fill(200));

    const [counts] = await sql`
      select count(*) filter (where type = 'user_id')::int as user_ids,
             count(*) filter (where type = 'email')::int as emails,
             count(distinct coalesce(p.merged_into, p.id))::int as survivors
      from public.identities i
      join public.profiles p on p.org_id = i.org_id and p.id = i.profile_id
      where i.org_id = ${target.orgId} and i.type in ('user_id', 'email')`;
    assert.deepEqual({ ...counts }, { user_ids: 1, emails: 1, survivors: 1 });

    // With the default limit of 5 anonymous ids, the first devices join the
    // user's profile and later ones stay apart (recorded as conflicts).
    const [devices] = await sql`
      select count(*)::int as joined from public.identities i
      where i.org_id = ${target.orgId} and i.type = 'anonymous_id'
        and i.profile_id = (select profile_id from public.identities
                            where org_id = ${target.orgId} and type = 'user_id' and value = 'racer')`;
    assert.equal(devices.joined, 5);
    const [{ n }] =
      await sql`select count(*)::int as n from public.events where org_id = ${target.orgId}`;
    assert.equal(n, REQUESTS * 3);
  } finally {
    await sql.end();
  }
});

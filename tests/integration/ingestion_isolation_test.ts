// Customer data through supabase-js, as a web client of another organization
// would reach for it: every role of organization A fails to read, insert,
// update or delete organization B's ingestion rows (sources, profiles,
// identities, events, merges, conflicts, settings, groups, memberships), and
// B's profile RPCs refuse it. B's rows are written through the ingest
// endpoint, as an SDK writes them, and must come out of it unchanged.
import assert from "node:assert/strict";
import { adminSql, client, createUser } from "../support/stack.ts";
import { createIngestTarget, post } from "../support/ingest.ts";

const ROLES = ["owner", "admin", "manager", "member", "read_only"] as const;

const TABLES = [
  "sources",
  "profiles",
  "identities",
  "events",
  "profile_merges",
  "identity_conflicts",
  "identity_settings",
  "groups",
  "group_memberships",
] as const;
type Table = typeof TABLES[number];

/** What a PostgREST write answers when it is refused or matches nothing. */
type WriteReply = {
  error: { code: string; message: string } | null;
  data: unknown[] | null;
};

/** Refused outright (42501), or allowed to touch no row: never an other error. */
function touchedNothing(reply: WriteReply, what: string) {
  if (reply.error) {
    assert.equal(reply.error.code, "42501", `${what}: ${reply.error.message}`);
  } else {
    assert.deepEqual(reply.data, [], `${what} touched rows of B`);
  }
}

Deno.test("no role reaches another organization's customer data through supabase-js", async (t) => {
  const sql = adminSql();
  try {
    const a = await createIngestTarget(sql, "cust-a");
    const b = await createIngestTarget(sql, "cust-b");

    // B's data, as an SDK sends it: a visitor who signs up (a link), a second
    // device of the same user (a merge), a second user id on the first device
    // (a conflict: one user_id per profile), and an account.
    const messages = [
      { type: "page", anonymousId: "b-visitor-1", name: "Home" },
      {
        type: "identify",
        anonymousId: "b-visitor-1",
        userId: "b-user",
        traits: { email: "kim@b.example" },
      },
      { type: "page", anonymousId: "b-visitor-2", name: "Pricing" },
      { type: "identify", anonymousId: "b-visitor-2", userId: "b-user" },
      { type: "identify", anonymousId: "b-visitor-1", userId: "b-user-2" },
      {
        type: "group",
        userId: "b-user",
        groupId: "b-account",
        traits: { name: "B Corp" },
      },
    ];
    for (const message of messages) {
      const reply = await post(b, message.type, JSON.stringify(message));
      assert.equal(reply.status, 200, JSON.stringify(reply.json));
    }
    await sql`insert into public.identity_settings (org_id, blocked_values)
              values (${b.orgId}, '{test-device}')`;

    // Every table holds rows of B, so an empty answer means refused, not empty.
    const snapshot = async () => {
      const out: Record<string, { rows: number; digest: string }> = {};
      for (const table of TABLES) {
        const [row] = await sql`
          select count(*)::int as rows,
                 coalesce(md5(string_agg(t::text, ',' order by t::text)), '') as digest
          from ${sql("public." + table)} t where t.org_id = ${b.orgId}`;
        out[table] = { rows: row.rows, digest: row.digest };
      }
      return out;
    };
    const before = await snapshot();
    for (const table of TABLES) {
      assert.ok(before[table].rows > 0, `B has no ${table} to protect`);
    }
    const [bProfile] = await sql`
      select id from public.profiles where org_id = ${b.orgId} and merged_into is null limit 1`;
    const [bMerge] = await sql`
      select id from public.profile_merges where org_id = ${b.orgId} limit 1`;

    // Five members: more seats than the free plan has.
    await sql`update public.organizations set plan = 'enterprise' where id = ${a.orgId}`;
    const members: Record<string, string> = {};
    for (const role of ROLES) {
      const user = await createUser(sql, `cust-${role}`);
      await sql`insert into public.organization_members (org_id, user_id, role)
                values (${a.orgId}, ${user.id}, ${role})`;
      members[role] = user.token;
    }

    const now = new Date().toISOString();
    const planted: Record<Table, Record<string, unknown>> = {
      sources: { org_id: b.orgId, name: "planted" },
      profiles: { org_id: b.orgId, first_seen_at: now, last_seen_at: now },
      identities: {
        org_id: b.orgId,
        type: "user_id",
        value: "planted",
        profile_id: bProfile.id,
        first_seen_at: now,
        last_seen_at: now,
      },
      events: {
        org_id: b.orgId,
        timestamp: now,
        source_id: b.sourceId,
        message_id: "planted",
        type: "track",
        received_at: now,
      },
      profile_merges: {
        org_id: b.orgId,
        winner_id: bProfile.id,
        loser_id: bProfile.id,
        reason: "planted",
      },
      identity_conflicts: {
        org_id: b.orgId,
        type: "user_id",
        value: "planted",
        reason: "planted",
      },
      identity_settings: { org_id: b.orgId, fold_gmail_addresses: true },
      groups: {
        org_id: b.orgId,
        group_id: "planted",
        first_seen_at: now,
        last_seen_at: now,
      },
      group_memberships: {
        org_id: b.orgId,
        group_id: "b-account",
        profile_id: bProfile.id,
        first_seen_at: now,
        last_seen_at: now,
      },
    };
    const changed: Record<Table, Record<string, unknown>> = {
      sources: { name: "hijacked" },
      profiles: { name: "hijacked" },
      identities: { value: "hijacked" },
      events: { event: "hijacked" },
      profile_merges: { reason: "hijacked" },
      identity_conflicts: { reason: "hijacked" },
      identity_settings: { fold_gmail_addresses: true },
      groups: { name: "hijacked" },
      group_memberships: { last_seen_at: now },
    };

    for (const role of ROLES) {
      await t.step(`${role} of A`, async () => {
        const db = client(members[role]);
        // The control: this client does read its own organization.
        const own = await db.from("organizations").select("id").eq(
          "id",
          a.orgId,
        );
        assert.equal(own.data?.length, 1, `${role} reads its organization`);

        for (const table of TABLES) {
          const read = await db.from(table).select("org_id").eq(
            "org_id",
            b.orgId,
          );
          assert.equal(read.error, null, `${role} read ${table}`);
          assert.deepEqual(read.data, [], `${role} read ${table} of B`);

          const insert = await db.from(table).insert(planted[table] as never);
          assert.equal(
            insert.error?.code,
            "42501",
            `${role} inserted into ${table} of B: ${insert.error?.message}`,
          );
          touchedNothing(
            await db.from(table).update(changed[table] as never).eq(
              "org_id",
              b.orgId,
            ).select("org_id") as WriteReply,
            `${role} updating ${table}`,
          );
          touchedNothing(
            await db.from(table).delete().eq("org_id", b.orgId).select(
              "org_id",
            ) as WriteReply,
            `${role} deleting ${table}`,
          );
        }

        const rpcs = [
          db.rpc("search_profiles", { p_org_id: b.orgId }),
          db.rpc("get_profile", {
            p_org_id: b.orgId,
            p_profile_id: bProfile.id,
          }),
          db.rpc("profile_journey", {
            p_org_id: b.orgId,
            p_profile_id: bProfile.id,
          }),
          db.rpc("unmerge_profiles", {
            p_org_id: b.orgId,
            p_merge_id: bMerge.id,
          }),
        ];
        for (const reply of await Promise.all(rpcs)) {
          assert.equal(
            reply.error?.code,
            "42501",
            `${role}: ${JSON.stringify(reply.error)}`,
          );
        }
      });
    }

    assert.deepEqual(await snapshot(), before, "B's rows changed");
  } finally {
    await sql.end();
  }
});

// The usage, quota, rate-limit and outbox tables through supabase-js, as a web
// client reads them: every role of org A sees A's rows and none of B's, and no
// client can write them (a tenant cannot raise its own limits).
import assert from "node:assert/strict";
import { adminSql, client, createUser } from "../support/stack.ts";

const ROLES = ["owner", "admin", "manager", "member", "read_only"] as const;

Deno.test("quota and rate-limit tables are isolated per organization through supabase-js", async (t) => {
  const sql = adminSql();
  try {
    const orgs: string[] = [];
    for (const label of ["a", "b"]) {
      const [org] = await sql`
        insert into public.organizations (name, slug, plan)
        values (${`Quota ${label}`}, ${`qjs-${label}-${
        crypto.randomUUID().slice(0, 8)
      }`}, 'starter')
        returning id`;
      orgs.push(org.id);
      await sql`
        insert into public.org_quota_overrides (org_id, metric, period, quota)
        values (${org.id}, 'events', 'month', 10)`;
      await sql`
        insert into public.rate_limit_policies (org_id, scope, endpoint, request_limit, window_ms)
        values (${org.id}, 'org', 'ingest', 5, 1000)`;
      // 9 of 10: usage, an 80% notification and its webhook event.
      await sql`select private.meter_usage(${org.id}, 'events', 9)`;
    }
    const [a, b] = orgs;

    for (const role of ROLES) {
      await t.step(role, async () => {
        const user = await createUser(sql, `qjs-${role}`);
        await sql`
          insert into public.organization_members (org_id, user_id, role, status)
          values (${a}, ${user.id}, ${role}, 'active')`;
        const db = client(user.token);

        for (
          const table of [
            "usage_counters",
            "quota_notifications",
            "org_quota_overrides",
            "webhook_events",
          ] as const
        ) {
          const { data, error } = await db.from(table).select("org_id");
          assert.equal(error, null, `${table}: ${error?.message}`);
          const seen = new Set(data!.map((r) => r.org_id));
          assert.ok(seen.has(a), `${role} reads A's ${table}`);
          assert.ok(!seen.has(b), `${role} reads none of B's ${table}`);
        }
        const policies = await db.from("rate_limit_policies").select("org_id")
          .not("org_id", "is", null);
        assert.deepEqual(policies.data?.map((r) => r.org_id), [a]);

        const usage = await db.rpc("get_usage", { p_org_id: b });
        assert.equal(usage.error?.code, "42501");
        const own = await db.rpc("get_usage", { p_org_id: a });
        assert.equal(own.error, null);
        assert.ok(own.data!.some((r) => r.metric === "events" && r.used === 9));

        const lift = await db.from("org_quota_overrides").insert({
          org_id: a,
          metric: "api_calls",
          period: "day",
          quota: null,
        });
        assert.equal(lift.error?.code, "42501");
        const raise = await db.from("rate_limit_policies").update({
          request_limit: 1_000_000,
        }).eq("org_id", a).select();
        assert.equal(raise.error?.code, "42501");
        const reset = await db.from("usage_counters").delete().eq("org_id", a)
          .select();
        assert.equal(reset.error?.code, "42501");
      });
    }
    const [{ limit }] = await sql`
      select request_limit as limit from public.rate_limit_policies where org_id = ${a}`;
    assert.equal(limit, 5, "no client changed A's limit");
  } finally {
    await sql.end();
  }
});

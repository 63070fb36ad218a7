// What a client of the ingest endpoint sees of rate limits and quotas, decided
// in Postgres: exactly the limit admitted per window with the IETF RateLimit
// fields, 429 with Retry-After past it, nothing admitted lost; a plan lowered
// below the month's usage refuses with quota_exceeded; thresholds notify once.
import assert from "node:assert/strict";
import { adminSql, client, createUser, stack } from "../support/stack.ts";
import { createIngestTarget, track } from "../support/ingest.ts";
import { startOfRoomyWindow } from "../support/windows.ts";

Deno.test("a key past its limit gets exactly the limit admitted, then 429", async () => {
  const sql = adminSql();
  try {
    const target = await createIngestTarget(sql, "hammer");
    await sql`
      insert into public.rate_limit_policies (org_id, api_key_id, scope, endpoint, request_limit, window_ms)
      values (${target.orgId}, ${target.keyId}, 'api_key', 'ingest', 5, 60000)`;
    await startOfRoomyWindow(60_000, 10_000);

    const replies = await Promise.all(
      Array.from({ length: 12 }, (_, i) => track(target.url, target, `h-${i}`)),
    );
    const admitted = replies.filter((r) => r.status === 200);
    const limited = replies.filter((r) => r.status === 429);
    assert.equal(admitted.length, 5);
    assert.equal(limited.length, 7);

    for (const r of admitted) {
      assert.equal(
        r.headers.get("ratelimit-policy"),
        '"api_key-ingest";q=5;w=60',
      );
      assert.match(
        r.headers.get("ratelimit")!,
        /^"api_key-ingest";r=[0-4];t=\d+$/,
      );
    }
    const remaining = admitted.map((r) =>
      Number(r.headers.get("ratelimit")!.match(/r=(\d+)/)![1])
    ).sort();
    assert.deepEqual(remaining, [0, 1, 2, 3, 4]);

    for (const r of limited) {
      const retryAfter = Number(r.headers.get("retry-after"));
      assert.ok(
        retryAfter >= 1 && retryAfter <= 120,
        `Retry-After ${retryAfter}`,
      );
      assert.match(r.headers.get("ratelimit")!, /^"api_key-ingest";r=0;t=\d+$/);
      const error = r.json.error as {
        code: string;
        details: { rule: string }[];
      };
      assert.equal(error.code, "rate_limited");
      assert.equal(error.details[0].rule, "api_key-ingest:5/60000ms");
    }

    // Every admitted event is stored, and none of the refused ones.
    const [{ stored }] = await sql`
      select count(*)::int as stored from public.events where org_id = ${target.orgId}`;
    assert.equal(stored, 5);
    const [{ used }] = await sql`
      select coalesce(sum(used), 0)::int as used from public.usage_counters
      where org_id = ${target.orgId} and metric = 'events' and period = 'month'`;
    assert.equal(used, 5, "the events quota counts stored events");
  } finally {
    await sql.end();
  }
});

Deno.test("lowering the plan below this month's usage refuses with quota_exceeded", async () => {
  const sql = adminSql();
  try {
    const target = await createIngestTarget(sql, "downgrade");
    await sql`update public.organizations set plan = 'starter' where id = ${target.orgId}`;
    // This month so far: 150,000 events, over the free plan's 100,000.
    await sql`
      insert into public.usage_counters (org_id, metric, period, period_start, slot, used)
      values (${target.orgId}, 'events', 'month',
              date_trunc('month', now() at time zone 'UTC')::date, 0, 150000)`;
    assert.equal((await track(target.url, target, "before")).status, 200);

    await sql`update public.organizations set plan = 'free' where id = ${target.orgId}`;
    const refused = await track(target.url, target, "after");
    assert.equal(refused.status, 429);
    const error = refused.json.error as {
      code: string;
      details: { field: string; rule: string }[];
    };
    assert.equal(error.code, "quota_exceeded");
    assert.deepEqual(
      [error.details[0].field, error.details[0].rule],
      ["events", "quota:month"],
    );
    assert.ok(Number(refused.headers.get("retry-after")) >= 1);
    const [{ stored }] = await sql`
      select count(*)::int as stored from public.events where org_id = ${target.orgId}`;
    assert.equal(stored, 1, "the refused event was not stored");
  } finally {
    await sql.end();
  }
});

Deno.test("crossing 80% and 100% of a quota notifies once each", async () => {
  const sql = adminSql();
  try {
    const target = await createIngestTarget(sql, "threshold");
    await sql`
      insert into public.org_quota_overrides (org_id, metric, period, quota, hard)
      values (${target.orgId}, 'events', 'month', 5, true)`;
    const statuses = [];
    for (let i = 0; i < 7; i++) {
      statuses.push((await track(target.url, target, `t-${i}`)).status);
    }
    // The 5th event reaches the quota; the 6th and 7th are refused.
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429]);
    const events = await sql`
      select payload ->> 'threshold_percent' as threshold, payload ->> 'used' as used
      from public.webhook_events
      where org_id = ${target.orgId} and type = 'quota.threshold_reached'
      order by created_at`;
    assert.deepEqual(events.map((e) => [e.threshold, e.used]), [
      ["80", "4"],
      ["100", "5"],
    ]);
    const [{ audited }] = await sql`
      select count(*)::int as audited from public.audit_log
      where org_id = ${target.orgId} and action = 'quota.threshold_reached'`;
    assert.equal(audited, 2);
  } finally {
    await sql.end();
  }
});

Deno.test("API-key calls count against the daily api_calls quota", async () => {
  const sql = adminSql();
  try {
    const owner = await createUser(sql, "calls-owner");
    const { data: org } = await client(owner.token).rpc(
      "create_organization",
      { p_name: "Metered", p_slug: `calls-${crypto.randomUUID().slice(0, 8)}` },
    );
    const created = await client(owner.token).rpc("create_api_key", {
      p_org_id: org!.id,
      p_name: "exporter",
      p_scopes: ["audit:read"],
    });
    const secret = created.data![0].secret;
    await sql`
      insert into public.org_quota_overrides (org_id, metric, period, quota, hard)
      values (${org!.id}, 'api_calls', 'day', 2, true)`;
    const q = new URLSearchParams({
      org_id: org!.id,
      from: new Date(Date.now() - 3600_000).toISOString(),
      to: new Date(Date.now() + 3600_000).toISOString(),
    });
    const call = () =>
      fetch(`${stack().apiUrl}/functions/v1/audit-export?${q}`, {
        headers: { "x-api-key": secret },
      });

    const statuses = [];
    let last: Response | null = null;
    for (let i = 0; i < 3; i++) {
      last = await call();
      statuses.push(last.status);
      if (i < 2) {
        assert.equal(
          last.headers.get("ratelimit-policy"),
          '"api_key-audit-export";q=10;w=1',
        );
        await last.body?.cancel();
      }
    }
    assert.deepEqual(statuses, [200, 200, 429]);
    const body = await last!.json();
    assert.equal(body.error.code, "quota_exceeded");
    assert.equal(body.error.details[0].rule, "quota:day");
    const [{ used }] = await sql`
      select coalesce(sum(used), 0)::int as used from public.usage_counters
      where org_id = ${org!.id} and metric = 'api_calls' and period = 'day'`;
    assert.equal(used, 2, "the refused call was not counted");
  } finally {
    await sql.end();
  }
});

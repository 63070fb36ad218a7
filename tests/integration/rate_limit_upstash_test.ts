// The Upstash path: with UPSTASH_REDIS_REST_URL/TOKEN set, bursts are decided by
// @upstash/ratelimit, whose Lua scripts run on a real redis-server behind the
// test's Upstash REST endpoint. When Redis dies mid-run the function falls back
// to Postgres, logs it, and admits nothing beyond the limit, also once Redis is
// back (Postgres keeps the buckets it decided until their windows pass).
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { adminSql } from "../support/stack.ts";
import { createIngestTarget, track } from "../support/ingest.ts";
import { startFunction } from "../support/functions.ts";
import { startRedis, startUpstashShim } from "../support/redis.ts";
import { startOfRoomyWindow } from "../support/windows.ts";

const WINDOW_MS = 60_000;

Deno.test("Upstash decides bursts on real Redis and Postgres takes over when it dies", async (t) => {
  const sql = adminSql();
  let redisServer = await startRedis();
  const shim = startUpstashShim(redisServer.port);
  const ingest = await startFunction("ingest", {
    UPSTASH_REDIS_REST_URL: shim.url,
    UPSTASH_REDIS_REST_TOKEN: shim.token,
  });
  const base = `${ingest.url}/ingest`;
  const limitKey = async (limit: number) => {
    const target = await createIngestTarget(sql, "upstash");
    await sql`
      insert into public.rate_limit_policies (org_id, api_key_id, scope, endpoint, request_limit, window_ms)
      values (${target.orgId}, ${target.keyId}, 'api_key', 'ingest', ${limit}, ${WINDOW_MS})`;
    return target;
  };
  const pgBucket = (keyId: string) =>
    sql`select current_count from private.rate_limit_counters
        where key = ${`key:${keyId}:ingest`}`;
  try {
    await t.step(
      "exactly the limit is admitted, counted in Redis",
      async () => {
        const target = await limitKey(5);
        await startOfRoomyWindow(WINDOW_MS, 10_000);
        const replies = await Promise.all(
          Array.from({ length: 12 }, (_, i) => track(base, target, `u-${i}`)),
        );
        assert.equal(replies.filter((r) => r.status === 200).length, 5);
        const limited = replies.filter((r) => r.status === 429);
        assert.equal(limited.length, 7);
        for (const r of limited) {
          assert.ok(Number(r.headers.get("retry-after")) >= 1);
          assert.match(
            r.headers.get("ratelimit")!,
            /^"api_key-ingest";r=0;t=\d+$/,
          );
        }
        assert.equal(
          replies.find((r) => r.status === 200)!.headers.get(
            "ratelimit-policy",
          ),
          '"api_key-ingest";q=5;w=60',
        );
        // The count lives in Redis (the library's own key layout), not Postgres.
        const redis = new Redis({ port: redisServer.port });
        try {
          const window = Math.floor(Date.now() / WINDOW_MS);
          assert.equal(
            await redis.get(`meridian:rl:key:${target.keyId}:ingest:${window}`),
            "5",
          );
        } finally {
          redis.disconnect();
        }
        assert.equal((await pgBucket(target.keyId)).length, 0);
      },
    );

    await t.step(
      "Redis killed mid-run: Postgres decides, nothing over-admitted",
      async () => {
        const target = await limitKey(10);
        await startOfRoomyWindow(WINDOW_MS, 25_000);
        const before = [];
        for (let i = 0; i < 4; i++) {
          before.push((await track(base, target, `k-${i}`)).status);
        }
        assert.deepEqual(before, [200, 200, 200, 200]);

        await redisServer.stop();
        const after = await Promise.all(
          Array.from({ length: 12 }, (_, i) => track(base, target, `d-${i}`)),
        );
        assert.equal(after.filter((r) => r.status === 200).length, 6);
        assert.equal(after.filter((r) => r.status === 429).length, 6);
        const [row] = await pgBucket(target.keyId);
        assert.equal(row.current_count, 10, "Postgres carried Redis's 4 over");
        const [{ stored }] = await sql`
        select count(*)::int as stored from public.events where org_id = ${target.orgId}`;
        assert.equal(stored, 10);
        assert.match(
          ingest.logs(),
          /Upstash failed \(error\); deciding in Postgres/,
        );

        // Redis comes back in the same window; once the function tries Upstash
        // again, this bucket stays with Postgres, which knows what it admitted.
        redisServer = await startRedis(redisServer.port);
        await new Promise((r) => setTimeout(r, 5_500));
        const back = await Promise.all(
          Array.from({ length: 5 }, (_, i) => track(base, target, `b-${i}`)),
        );
        assert.deepEqual(back.map((r) => r.status), [429, 429, 429, 429, 429]);
        const [{ total }] = await sql`
          select count(*)::int as total from public.events where org_id = ${target.orgId}`;
        assert.equal(total, 10, "no more than the limit in the window, in all");

        // A bucket Postgres never decided goes to Redis again.
        const fresh = await limitKey(3);
        const statuses = [];
        for (let i = 0; i < 5; i++) {
          statuses.push((await track(base, fresh, `f-${i}`)).status);
        }
        assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
        assert.equal((await pgBucket(fresh.keyId)).length, 0);
      },
    );
  } finally {
    await ingest.stop();
    await shim.close();
    await redisServer.stop();
    await sql.end();
  }
});

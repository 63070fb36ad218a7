// Ingestion over HTTP as SDKs use it: the official Segment and RudderStack Node
// SDKs, RudderStack's gzip wire format, hostile input, idempotency and tenant
// isolation.
import assert from "node:assert/strict";
import { Analytics } from "@segment/analytics-node";
import { adminSql, client, createUser } from "../support/stack.ts";
import { basicAuth, createIngestTarget, post } from "../support/ingest.ts";

Deno.test("a realistic session through the official Segment SDK", async () => {
  const sql = adminSql();
  try {
    const target = await createIngestTarget(sql, "segment-sdk");
    const host = new URL(target.url);
    const analytics = new Analytics({
      writeKey: target.writeKey,
      host: host.origin,
      path: `${host.pathname}/v1/batch`,
      maxEventsInBatch: 20,
      flushInterval: 50,
    });
    const errors: unknown[] = [];
    analytics.on("error", (err) => errors.push(err));
    // Explicit times a second apart, so the session has one order.
    const base = Date.now() - 60_000;
    const at = (i: number) => new Date(base + i * 1000);
    const page = {
      url:
        "https://shop.example/?utm_source=newsletter&utm_medium=email&utm_campaign=nov",
      referrer: "",
    };
    analytics.page({
      timestamp: at(0),
      anonymousId: "visitor-1",
      name: "Home",
      context: { page },
    });
    analytics.page({
      timestamp: at(1),
      anonymousId: "visitor-1",
      name: "Pricing",
      context: { page: { url: "https://shop.example/pricing" } },
    });
    analytics.identify({
      timestamp: at(2),
      anonymousId: "visitor-1",
      userId: "user-42",
      traits: { email: "Kim@Shop.example", plan: "trial" },
    });
    analytics.track({
      timestamp: at(3),
      userId: "user-42",
      event: "Order Completed",
      properties: { revenue: 30, currency: "eur" },
    });
    analytics.page({
      timestamp: at(4),
      anonymousId: "visitor-2",
      name: "Home",
      context: { page: { url: "https://shop.example/" } },
    });
    analytics.group({
      timestamp: at(5),
      anonymousId: "visitor-2",
      groupId: "acct-9",
      traits: { name: "Shop Ltd", employees: 12 },
    });
    analytics.alias({
      timestamp: at(6),
      previousId: "visitor-2",
      userId: "user-42",
    });
    await analytics.closeAndFlush({ timeout: 10_000 });
    assert.deepEqual(errors, []);

    const events = await sql`
      select e.type, e.event, e.channel, e.revenue, e.currency,
             coalesce(p.merged_into, p.id) as survivor
      from public.events e join public.profiles p on p.org_id = e.org_id and p.id = e.profile_id
      where e.org_id = ${target.orgId} order by e.timestamp`;
    assert.deepEqual(events.map((e) => e.type), [
      "page",
      "page",
      "identify",
      "track",
      "page",
      "group",
      "alias",
    ]);
    assert.equal(events[0].channel, "email");
    assert.equal(events[3].currency, "EUR");
    assert.equal(
      new Set(events.map((e) => e.survivor)).size,
      1,
      "two devices, one person, one profile",
    );
    const identities = await sql`
      select type || '=' || value as id from public.identities
      where org_id = ${target.orgId} order by type, value`;
    assert.deepEqual(identities.map((i) => i.id), [
      "anonymous_id=visitor-1",
      "anonymous_id=visitor-2",
      "email=kim@shop.example",
      "user_id=user-42",
    ]);
    const [profile] = await sql`
      select traits, lifecycle_stage, event_count from public.profiles
      where org_id = ${target.orgId} and merged_into is null`;
    assert.equal(profile.traits.plan, "trial");
    assert.equal(profile.lifecycle_stage, "customer");
    assert.equal(Number(profile.event_count), 7);
    // The group call came from the second device: its person is the member.
    const members = await sql`
      select g.name, g.traits, p.merged_into is null as live
      from public.group_memberships m
      join public.groups g on g.org_id = m.org_id and g.group_id = m.group_id
      join public.profiles p on p.org_id = m.org_id and p.id = m.profile_id
      where m.org_id = ${target.orgId}`;
    assert.deepEqual([...members], [{
      name: "Shop Ltd",
      traits: { name: "Shop Ltd", employees: 12 },
      live: true,
    }]);
  } finally {
    await sql.end();
  }
});

Deno.test("a realistic session through the official RudderStack SDK", async () => {
  const sql = adminSql();
  try {
    const target = await createIngestTarget(sql, "rudder-sdk");
    const base = Date.now() - 60_000;
    const at = (i: number) => new Date(base + i * 1000).toISOString();
    const viewed = {
      anonymousId: "rs-visitor",
      event: "Product Viewed",
      properties: { sku: "A-1" },
      timestamp: at(1),
      messageId: "rs-repeated",
    };
    const calls = [
      ["page", {
        anonymousId: "rs-visitor",
        name: "Home",
        timestamp: at(0),
        context: {
          page: {
            url:
              "https://shop.example/?utm_source=google&utm_medium=cpc&utm_campaign=brand",
          },
        },
      }],
      ["track", viewed],
      // An SDK retry of the same message: accepted again, stored once.
      ["track", viewed],
      ["identify", {
        anonymousId: "rs-visitor",
        userId: "rs-user",
        traits: { email: "Lee@Shop.example", name: "Lee" },
        timestamp: at(2),
      }],
      ["track", {
        anonymousId: "rs-phone",
        event: "App Opened",
        timestamp: at(3),
      }],
      ["alias", {
        previousId: "rs-phone",
        userId: "rs-user",
        timestamp: at(4),
      }],
    ];
    // The SDK's defaults: gzip, Basic auth with the write key, POST
    // {dataPlaneUrl}/v1/batch.
    const child = new Deno.Command("node", {
      args: [
        new URL("../support/rudder_sdk_client.mjs", import.meta.url).pathname,
      ],
      env: {
        RUDDER_DATA_PLANE_URL: target.url,
        RUDDER_WRITE_KEY: target.writeKey,
      },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(JSON.stringify(calls)));
    await writer.close();
    const out = await child.output();
    const report = new TextDecoder().decode(out.stdout);
    assert.equal(
      out.code,
      0,
      `${report} ${new TextDecoder().decode(out.stderr)}`,
    );
    assert.deepEqual(JSON.parse(report).errors, []);

    const events = await sql`
      select e.type, e.event, e.channel, e.message_id, coalesce(p.merged_into, p.id) as survivor
      from public.events e join public.profiles p on p.org_id = e.org_id and p.id = e.profile_id
      where e.org_id = ${target.orgId} order by e.timestamp`;
    assert.deepEqual(events.map((e) => `${e.type}:${e.event ?? ""}`), [
      "page:Home",
      "track:Product Viewed",
      "identify:",
      "track:App Opened",
      "alias:",
    ]);
    assert.equal(events[0].channel, "paid_search");
    assert.equal(
      events.filter((e) => e.message_id === "rs-repeated").length,
      1,
      "a repeated messageId is stored once",
    );
    assert.equal(new Set(events.map((e) => e.survivor)).size, 1);
    const identities = await sql`
      select type || '=' || value as id from public.identities
      where org_id = ${target.orgId} order by type, value`;
    assert.deepEqual(identities.map((i) => i.id), [
      "anonymous_id=rs-phone",
      "anonymous_id=rs-visitor",
      "email=lee@shop.example",
      "user_id=rs-user",
    ]);
    const [profile] = await sql`
      select name, email, event_count from public.profiles
      where org_id = ${target.orgId} and merged_into is null`;
    assert.equal(profile.name, "Lee");
    assert.equal(profile.email, "Lee@Shop.example");
    assert.equal(Number(profile.event_count), 5);
  } finally {
    await sql.end();
  }
});

Deno.test("RudderStack's wire format: gzip batch with Basic auth", async () => {
  // What the SDK sends, by hand, so the envelope is pinned down: POST
  // {dataPlaneUrl}/v1/batch, Basic auth with the write key, a gzipped
  // {batch, sentAt} body.
  const sql = adminSql();
  try {
    const target = await createIngestTarget(sql, "rudder");
    const body = JSON.stringify({
      batch: [
        {
          type: "track",
          event: "Viewed",
          anonymousId: "r-anon",
          messageId: "r-1",
          timestamp: new Date().toISOString(),
          context: { library: { name: "analytics-node", version: "2.0.2" } },
        },
        {
          type: "identify",
          anonymousId: "r-anon",
          userId: "r-user",
          messageId: "r-2",
          traits: { phone: "+44 20 7946 0958" },
        },
      ],
      sentAt: new Date().toISOString(),
    });
    const gz = new Blob([body]).stream().pipeThrough(
      new CompressionStream("gzip"),
    );
    const res = await fetch(`${target.url}/v1/batch`, {
      method: "POST",
      headers: {
        Authorization: basicAuth(target.writeKey),
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
      },
      body: await new Response(gz).arrayBuffer(),
    });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).accepted, 2);
    const ids =
      await sql`select type || '=' || value as id from public.identities where org_id = ${target.orgId} order by 1`;
    assert.deepEqual(ids.map((i) => i.id), [
      "anonymous_id=r-anon",
      "phone=+442079460958",
      "user_id=r-user",
    ]);
  } finally {
    await sql.end();
  }
});

Deno.test("RudderStack's browser SDK passes its CORS preflight", async () => {
  // @rudderstack/analytics-js sends Basic auth, JSON and an AnonymousId header
  // from the page's origin, so the browser asks first.
  const sql = adminSql();
  try {
    const target = await createIngestTarget(sql, "rudder-browser");
    const asked = ["anonymousid", "authorization", "content-type"];
    const preflight = await fetch(`${target.url}/v1/track`, {
      method: "OPTIONS",
      headers: {
        Origin: "https://shop.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": asked.join(","),
      },
    });
    await preflight.body?.cancel();
    assert.equal(preflight.status, 200);
    const allowed =
      (preflight.headers.get("access-control-allow-headers") ?? "")
        .split(",").map((h) => h.trim().toLowerCase());
    for (const header of asked) assert.ok(allowed.includes(header), header);

    const res = await fetch(`${target.url}/v1/track`, {
      method: "POST",
      headers: {
        Origin: "https://shop.example",
        Authorization: basicAuth(target.writeKey),
        "Content-Type": "application/json;charset=UTF-8",
        AnonymousId: btoa("rb-anon"),
      },
      body: JSON.stringify({
        type: "track",
        event: "Viewed",
        anonymousId: "rb-anon",
        messageId: "rb-1",
        context: {
          library: { name: "RudderLabs JavaScript SDK", version: "3.7.0" },
        },
      }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    await res.body?.cancel();
  } finally {
    await sql.end();
  }
});

Deno.test("source settings as Segment's CDN serves them, naming where to send", async () => {
  // Segment's SDKs fetch {cdn}/v1/projects/{writeKey}/settings before sending:
  // analytics.js with cdnURL set to the function, the mobile SDKs with
  // cdnHost. They then post to integrations["Segment.io"].apiHost.
  const sql = adminSql();
  try {
    const target = await createIngestTarget(sql, "cdn");
    const res = await fetch(
      `${target.url}/v1/projects/${target.writeKey}/settings`,
      { headers: { Origin: "https://shop.example" } },
    );
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("access-control-allow-origin"), "*");
    assert.match(res.headers.get("cache-control") ?? "", /max-age=\d+/);
    const settings = await res.json();
    const segmentio = settings.integrations["Segment.io"];
    const { host, protocol } = new URL(target.url);
    assert.deepEqual(segmentio, {
      apiKey: target.writeKey,
      apiHost: `${host}/functions/v1/ingest/v1`,
      protocol: protocol.replace(":", ""),
    });
    assert.equal(settings.metrics.sampleRate, 0, "no telemetry to Segment");

    // What analytics.js then does with it: {protocol}://{apiHost}/t.
    const sent = await fetch(
      `${segmentio.protocol}://${segmentio.apiHost}/t`,
      {
        method: "POST",
        headers: { "Content-Type": "text/plain" },
        body: JSON.stringify({
          type: "track",
          event: "Settings Followed",
          anonymousId: "cdn-anon",
          writeKey: segmentio.apiKey,
        }),
      },
    );
    assert.equal(sent.status, 200, await sent.clone().text());
    await sent.body?.cancel();

    const unknown = await fetch(
      `${target.url}/v1/projects/wk_test_nope/settings`,
    );
    assert.equal(unknown.status, 401);
    await unknown.body?.cancel();
  } finally {
    await sql.end();
  }
});

Deno.test("analytics.js's wire format: short paths, text/plain, key in the body", async () => {
  // What Segment's browser SDK (@segment/analytics-next) sends, by hand, so the
  // envelope is pinned down (browser_sdk_test.ts runs the SDK itself in
  // Chromium). Its Segment.io plugin POSTs each call to {apiHost}/<first
  // letter of the type>, or with the batching strategy {writeKey, batch,
  // sentAt} to {apiHost}/b; always as text/plain (no CORS preflight), with the
  // write key in the body.
  const sql = adminSql();
  try {
    const target = await createIngestTarget(sql, "ajs");
    const send = (path: string, body: Record<string, unknown>) =>
      fetch(`${target.url}/v1/${path}`, {
        method: "POST",
        headers: {
          "Content-Type": "text/plain",
          Origin: "https://shop.example",
        },
        body: JSON.stringify({ ...body, writeKey: target.writeKey }),
      });
    const page = {
      url: "https://shop.example/pricing?utm_source=google&utm_medium=cpc",
      referrer: "https://www.google.com/",
      path: "/pricing",
      title: "Pricing",
    };
    const context = {
      page,
      library: { name: "analytics.js", version: "next-1.70.0" },
      userAgent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) Safari/605.1.15",
    };
    const calls: [string, Record<string, unknown>][] = [
      ["p", { type: "page", name: "Pricing", properties: page }],
      ["t", {
        type: "track",
        event: "Plan Chosen",
        properties: { plan: "pro" },
      }],
      ["i", {
        type: "identify",
        userId: "ajs-user",
        traits: { email: "Ajs@Example.com" },
      }],
      ["g", { type: "group", userId: "ajs-user", groupId: "acme" }],
    ];
    for (const [path, call] of calls) {
      const res = await send(path, {
        ...call,
        anonymousId: "ajs-anon",
        messageId: `ajs-${path}`,
        timestamp: new Date().toISOString(),
        sentAt: new Date().toISOString(),
        context,
        _metadata: { bundled: ["Segment.io"], unbundled: [] },
      });
      assert.equal(res.status, 200, `/v1/${path}: ${await res.clone().text()}`);
      assert.equal(res.headers.get("access-control-allow-origin"), "*");
      await res.body?.cancel();
    }
    const batched = await send("b", {
      batch: [
        {
          type: "track",
          event: "Checkout Started",
          anonymousId: "ajs-anon",
          messageId: "ajs-b1",
          context,
        },
        {
          type: "track",
          event: "Order Completed",
          userId: "ajs-user",
          messageId: "ajs-b2",
          context,
          properties: { revenue: 49 },
        },
      ],
      sentAt: new Date().toISOString(),
    });
    assert.equal(batched.status, 200);
    assert.equal((await batched.json()).accepted, 2);

    const events = await sql`
      select message_id, type, event, channel, utm_source from public.events
      where org_id = ${target.orgId} order by message_id`;
    assert.deepEqual(
      events.map((e) => [e.message_id, e.type, e.event, e.channel]),
      [
        ["ajs-b1", "track", "Checkout Started", "paid_search"],
        ["ajs-b2", "track", "Order Completed", "paid_search"],
        ["ajs-g", "group", null, "paid_search"],
        ["ajs-i", "identify", null, "paid_search"],
        ["ajs-p", "page", "Pricing", "paid_search"],
        ["ajs-t", "track", "Plan Chosen", "paid_search"],
      ],
    );
    const [profile] = await sql`
      select p.email, p.event_count, p.revenue from public.profiles p
      join public.identities i on i.org_id = p.org_id and i.profile_id = p.id
      where i.org_id = ${target.orgId} and i.type = 'anonymous_id' and i.value = 'ajs-anon'`;
    assert.deepEqual(
      [profile.email, Number(profile.event_count), Number(profile.revenue)],
      ["Ajs@Example.com", 6, 49],
      "the anonymous visitor and the user they became are one profile",
    );
  } finally {
    await sql.end();
  }
});

Deno.test("hostile input gets the right 4xx and loses nothing accepted", async (t) => {
  const sql = adminSql();
  try {
    const target = await createIngestTarget(sql, "hostile");
    const ok = { userId: "h-user", event: "Fine" };

    await t.step("missing write key: 401", async () => {
      const res = await fetch(`${target.url}/v1/track`, {
        method: "POST",
        body: JSON.stringify(ok),
      });
      assert.equal(res.status, 401);
      await res.body?.cancel();
    });
    await t.step("a secret key is not a write key: 401", async () => {
      const res = await fetch(`${target.url}/v1/track`, {
        method: "POST",
        headers: {
          Authorization: basicAuth("mk_test_LocalDemoKeyForAcmeOnly0000000"),
        },
        body: JSON.stringify(ok),
      });
      assert.equal(res.status, 401);
      await res.body?.cancel();
    });
    await t.step("a message over 32 KB: 413", async () => {
      const r = await post(
        target,
        "track",
        JSON.stringify({ ...ok, properties: { blob: "x".repeat(40_000) } }),
      );
      assert.equal(r.status, 413);
    });
    await t.step("a 10 MB body: 413 without reading it all", async () => {
      const r = await post(target, "batch", "x".repeat(10 * 1024 * 1024));
      assert.equal(r.status, 413);
    });
    await t.step("wrong types name the field", async () => {
      const r = await post(
        target,
        "track",
        JSON.stringify({ userId: "h-user", event: 42 }),
      );
      assert.equal(r.status, 400);
      const error = r.json.error as {
        details: { field: string; rule: string }[];
      };
      assert.deepEqual(error.details.map((d) => d.field), ["event"]);
      // A context that is not an object was spread into {"0": "w", ...} and stored.
      const batch = await post(
        target,
        "batch",
        JSON.stringify({
          context: { locale: "en-US" },
          batch: [{ ...ok, type: "track", context: "web" }, {
            ...ok,
            type: "track",
            timestamp: "yesterday",
          }],
        }),
      );
      assert.equal(batch.status, 400);
      assert.deepEqual(
        (batch.json.error as { details: { field: string; rule: string }[] })
          .details.map((d) => [d.field, d.rule]),
        [["batch.0.context", "invalid_type"], [
          "batch.1.timestamp",
          "format:datetime",
        ]],
      );
    });
    await t.step("deeply nested properties are refused", async () => {
      let nested: Record<string, unknown> = { leaf: true };
      for (let i = 0; i < 40; i++) nested = { n: nested };
      const r = await post(
        target,
        "track",
        JSON.stringify({ ...ok, properties: nested }),
      );
      assert.equal(r.status, 400);
      const error = r.json.error as { details: { field: string }[] };
      assert.equal(error.details[0].field, "properties");
    });
    await t.step("$unset that is not a list of trait names: 400", async () => {
      for (const unset of [[null], "email", [1]]) {
        const r = await post(
          target,
          "identify",
          JSON.stringify({ userId: "h-user", traits: { $unset: unset } }),
        );
        assert.equal(r.status, 400, JSON.stringify(unset));
        const error = r.json.error as { details: { field: string }[] };
        assert.equal(error.details[0].field, "traits.$unset");
      }
    });
    await t.step("an email longer than an address can be: 400", async () => {
      const email = `${"x".repeat(300)}@example.com`;
      for (
        const [kind, message, field] of [
          ["identify", { userId: "h-user", traits: { email } }, "traits.email"],
          ["track", {
            userId: "h-user",
            event: "E",
            context: { traits: { email } },
          }, "context.traits.email"],
        ] as const
      ) {
        const r = await post(target, kind, JSON.stringify(message));
        assert.equal(r.status, 400, JSON.stringify(r.json));
        const error = r.json.error as { details: { field: string }[] };
        assert.equal(error.details[0].field, field);
      }
    });
    await t.step("invalid UTF-8: 400", async () => {
      const bytes = new Uint8Array([
        ...new TextEncoder().encode('{"userId":"'),
        0xff,
        0xfe,
        ...new TextEncoder().encode('","event":"x"}'),
      ]);
      const r = await post(target, "track", bytes);
      assert.equal(r.status, 400);
      assert.equal((r.json.error as { code: string }).code, "invalid_encoding");
    });
    await t.step("not JSON: 400", async () => {
      const r = await post(target, "track", "{nope");
      assert.equal(r.status, 400);
    });
    await t.step(
      "a batch keeps its valid messages and names the invalid ones",
      async () => {
        const r = await post(
          target,
          "batch",
          JSON.stringify({
            batch: [
              {
                type: "track",
                userId: "h-user",
                event: "Kept",
                messageId: "keep-1",
              },
              { type: "track", userId: "h-user", messageId: "bad-1" },
              { type: "teleport", userId: "h-user" },
              {
                type: "identify",
                traits: { email: "x@y.z" },
                messageId: "bad-2",
              },
            ],
          }),
        );
        assert.equal(r.status, 200);
        assert.equal(r.json.accepted, 1);
        const rejected = r.json.rejected as {
          index: number;
          details: { field: string }[];
        }[];
        assert.deepEqual(rejected.map((x) => [x.index, x.details[0].field]), [
          [1, "event"],
          [2, "type"],
          [3, "userId"],
        ]);
      },
    );
    await t.step(
      "NUL and half an emoji are stored as U+FFFD, not refused with the batch",
      async () => {
        // Valid JSON escapes that Postgres text and jsonb refuse: before the
        // repair, one such message failed the statement and so its batch.
        const r = await post(
          target,
          "batch",
          `{"batch":[
            {"type":"track","userId":"h-user","event":"Clean","messageId":"text-1"},
            {"type":"track","userId":"h-user","event":"N\\u0000L","messageId":"text-2",
             "properties":{"k\\u0000":"v\\u0000"}},
            {"type":"page","userId":"h-user","name":"Cut \\ud83d","messageId":"text-3",
             "properties":{"title":"Whole \\ud83d\\ude00, cut \\ude00"}}]}`,
        );
        assert.equal(r.status, 200, JSON.stringify(r.json));
        assert.equal(r.json.accepted, 3);
        const rows =
          await sql`select message_id, event, properties from public.events
                               where org_id = ${target.orgId} and message_id like 'text-%'
                               order by message_id`;
        assert.deepEqual(
          rows.map((e) => [e.message_id, e.event, e.properties]),
          [
            ["text-1", "Clean", {}],
            ["text-2", "N\uFFFDL", { "k\uFFFD": "v\uFFFD" }],
            ["text-3", "Cut \uFFFD", {
              title: "Whole \ud83d\ude00, cut \uFFFD",
            }],
          ],
        );
      },
    );
    await t.step(
      "a repeated messageId is acknowledged and stored once",
      async () => {
        for (let i = 0; i < 3; i++) {
          const r = await post(
            target,
            "track",
            JSON.stringify({ ...ok, messageId: "same-message" }),
          );
          assert.equal(r.status, 200);
        }
        const [{ n }] = await sql`select count(*)::int as n from public.events
                                where org_id = ${target.orgId} and message_id = 'same-message'`;
        assert.equal(n, 1);
      },
    );
    await t.step(
      "a timestamp beyond retention is refused, naming it",
      async () => {
        const r = await post(
          target,
          "track",
          JSON.stringify({ ...ok, timestamp: "2001-01-01T00:00:00Z" }),
        );
        assert.equal(r.status, 400);
        assert.equal(
          (r.json.error as { details: { field: string }[] }).details[0].field,
          "timestamp",
        );
      },
    );
    const [{ n }] =
      await sql`select count(*)::int as n from public.events where org_id = ${target.orgId}`;
    assert.equal(n, 5, "exactly the five accepted messages are stored");
  } finally {
    await sql.end();
  }
});

Deno.test("events of one organization never appear to another", async () => {
  const sql = adminSql();
  try {
    const a = await createIngestTarget(sql, "iso-a");
    const b = await createIngestTarget(sql, "iso-b");
    assert.equal(
      (await post(
        a,
        "track",
        JSON.stringify({ userId: "shared-id", event: "A only" }),
      )).status,
      200,
    );
    assert.equal(
      (await post(
        b,
        "track",
        JSON.stringify({ userId: "shared-id", event: "B only" }),
      )).status,
      200,
    );
    for (const [target, name] of [[a, "A Corp"], [b, "B Corp"]] as const) {
      assert.equal(
        (await post(
          target,
          "group",
          JSON.stringify({
            userId: "shared-id",
            groupId: "acct",
            traits: { name },
          }),
        )).status,
        200,
      );
    }
    const reader = await createUser(sql, "b-reader");
    await sql`insert into public.organization_members (org_id, user_id, role) values (${b.orgId}, ${reader.id}, 'read_only')`;
    const db = client(reader.token);
    const { data: events } = await db.from("events").select("type, event")
      .order("timestamp");
    assert.deepEqual(events, [{ type: "track", event: "B only" }, {
      type: "group",
      event: null,
    }]);
    const { data: profiles } = await db.from("profiles").select("id, org_id");
    assert.ok(profiles?.every((p) => p.org_id === b.orgId));
    const { data: groups } = await db.from("groups").select("name, org_id");
    assert.deepEqual(groups, [{ name: "B Corp", org_id: b.orgId }]);
    const { data: members } = await db.from("group_memberships").select(
      "org_id, profile_id",
    );
    assert.deepEqual(members, [{
      org_id: b.orgId,
      profile_id: profiles?.[0]?.id,
    }]);
    const search = await db.rpc("search_profiles", { p_org_id: a.orgId });
    assert.equal(search.error?.code, "42501");
    // Their own organization's profile reads whole through the web client.
    const own = await db.rpc("get_profile", {
      p_org_id: b.orgId,
      p_profile_id: profiles?.[0]?.id ?? "",
    });
    assert.equal(own.error, null, JSON.stringify(own.error));
    const read = own.data as {
      profile: { id: string };
      events: { type: string }[];
      groups: { name: string }[];
    };
    assert.deepEqual(read.events.map((e) => e.type), ["group", "track"]);
    assert.deepEqual(read.groups.map((g) => g.name), ["B Corp"]);
    const theirs = await db.rpc("get_profile", {
      p_org_id: a.orgId,
      p_profile_id: read.profile.id,
    });
    assert.equal(theirs.error?.code, "42501");
    const [{ n }] =
      await sql`select count(*)::int as n from public.profiles where org_id in (${a.orgId}, ${b.orgId})`;
    assert.equal(n, 2, "the same userId in two organizations is two profiles");
  } finally {
    await sql.end();
  }
});

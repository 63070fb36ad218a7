// The browser SDKs, unchanged, in real Chromium. Each page loads the SDK as a
// site bundles it from npm, from an origin of its own (so every call is
// cross-origin, CORS and all), configured only to point at the function. The
// SDK fetches its source settings from the function, follows them, and sends
// a visit that turns into a purchase; events, identities and the profile are
// read back from Postgres.
import assert from "node:assert/strict";
import type postgres from "postgres";
import { adminSql, stack } from "../support/stack.ts";
import { createIngestTarget } from "../support/ingest.ts";

const ROOT = decodeURIComponent(new URL("../../", import.meta.url).pathname);
const LANDING = "/pricing?utm_source=google&utm_medium=cpc&utm_campaign=brand";

async function run(cmd: string, args: string[], stdin?: string) {
  const child = new Deno.Command(cmd, {
    args,
    cwd: ROOT,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  const out = new TextDecoder().decode(stdout);
  const err = new TextDecoder().decode(stderr);
  if (code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} exited ${code}:\n${err}${out}`);
  }
  return { out, err };
}

/** A page in a fresh directory: the SDK bundled from npm as `sdk.js`, and index.html. */
async function makePage(sdkModule: string, global: string, script: string) {
  const dir = await Deno.makeTempDir({ prefix: "meridian-browser-" });
  await run(`${ROOT}node_modules/.bin/esbuild`, [
    "--bundle",
    "--format=iife",
    "--log-level=warning",
    `--outfile=${dir}/sdk.js`,
  ], `import { ${global} } from "${sdkModule}"; window.${global} = ${global};`);
  await Deno.writeTextFile(
    `${dir}/index.html`,
    `<!doctype html><title>Pricing</title><script src="/sdk.js"></script>\n<script>${script}</script>`,
  );
  return dir;
}

/** Opens the page in Chromium; what window.done resolves to, and every request made. */
async function openPage(dir: string) {
  const { out, err } = await run("node", [
    `${ROOT}tests/support/browser_page.mjs`,
    dir,
    LANDING,
  ]);
  return {
    result: JSON.parse(out.trim().split("\n").at(-1)!).result,
    log: err,
  };
}

/** The organization's events once `count` have arrived (SDKs send in the background). */
async function eventsOnceArrived(
  sql: postgres.Sql,
  orgId: string,
  count: number,
) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const events = await sql`
      select type, event, channel, utm_campaign, anonymous_id, user_id,
             context -> 'library' ->> 'name' as library, browser is not null as parsed_ua
      from public.events where org_id = ${orgId} order by timestamp, received_at`;
    if (events.length >= count || Date.now() > deadline) return events;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * What both pages' visits must leave: one live profile, from the anonymous page
 * view to the purchase, holding all three identifiers.
 */
async function assertOneCustomer(
  sql: postgres.Sql,
  orgId: string,
  who: { anonymousId: string; userId: string; email: string },
) {
  const profiles = await sql`
    select p.email, p.event_count, p.revenue, p.lifecycle_stage,
           p.first_touch ->> 'channel' as first_channel,
           array(select i.type || '=' || i.value from public.identities i
                 where i.org_id = p.org_id and i.profile_id = p.id order by 1) as ids
    from public.profiles p where p.org_id = ${orgId} and p.merged_into is null`;
  assert.deepEqual(
    profiles.map((p) => [
      p.email,
      Number(p.event_count),
      Number(p.revenue),
      p.lifecycle_stage,
      p.first_channel,
      p.ids,
    ]),
    [[who.email, 4, 49, "customer", "paid_search", [
      `anonymous_id=${who.anonymousId}`,
      `email=${who.email.toLowerCase()}`,
      `user_id=${who.userId}`,
    ]]],
    "one person, from the first anonymous page view to the purchase",
  );
}

/**
 * The visit both analytics.js pages send (page view, plan, identify,
 * purchase), with the SDK loaded as a site would, pointed at the function by
 * cdnURL alone; `options` are analytics.js's own load options.
 */
function analyticsJsPage(
  writeKey: string,
  who: { userId: string; email: string },
  { options = {}, deliveredTo }: { options?: object; deliveredTo?: string } =
    {},
) {
  return makePage(
    "@segment/analytics-next",
    "AnalyticsBrowser",
    `const analytics = AnalyticsBrowser.load({
      writeKey: ${JSON.stringify(writeKey)},
      cdnURL: ${JSON.stringify(`${stack().apiUrl}/functions/v1/ingest`)},
    }, ${JSON.stringify(options)});
    window.done = (async () => {
      await analytics.page("Pricing");
      await analytics.track("Plan Chosen", { plan: "pro" });
      await analytics.identify(${JSON.stringify(who.userId)}, { email: ${
      JSON.stringify(who.email)
    } });
      await analytics.track("Order Completed", { revenue: 49, currency: "EUR" });
      ${deliveredTo ? `await delivered(/${deliveredTo}/, 1);` : ""}
      return (await analytics.user()).anonymousId();
    })();`,
  );
}

Deno.test("Segment's analytics.js in Chromium, pointed at the function, sends a visit that becomes a customer", async () => {
  const sql = adminSql();
  let dir = "";
  try {
    const target = await createIngestTarget(sql, "browser-segment");
    dir = await analyticsJsPage(target.writeKey, {
      userId: "browser-user",
      email: "Browser@Example.com",
    });
    const { result: anonymousId, log } = await openPage(dir);
    assert.match(
      log,
      /GET \S+\/ingest\/v1\/projects\/\S+\/settings -> 200/,
      log,
    );
    assert.doesNotMatch(log, /-> [45]\d\d|failed:/, log);

    const events = await eventsOnceArrived(sql, target.orgId, 4);
    assert.deepEqual(
      events.map((
        e,
      ) => [
        e.type,
        e.event,
        e.channel,
        e.utm_campaign,
        e.library,
        e.parsed_ua,
      ]),
      [
        ["page", "Pricing", "paid_search", "brand", "analytics.js", true],
        ["track", "Plan Chosen", "paid_search", "brand", "analytics.js", true],
        ["identify", null, "paid_search", "brand", "analytics.js", true],
        [
          "track",
          "Order Completed",
          "paid_search",
          "brand",
          "analytics.js",
          true,
        ],
      ],
    );
    assert.ok(events.every((e) => e.anonymous_id === anonymousId));
    await assertOneCustomer(sql, target.orgId, {
      anonymousId,
      userId: "browser-user",
      email: "Browser@Example.com",
    });
  } finally {
    if (dir) await Deno.remove(dir, { recursive: true });
    await sql.end();
  }
});

Deno.test("analytics.js's batching strategy delivers the same visit through /v1/b", async () => {
  const sql = adminSql();
  let dir = "";
  try {
    const target = await createIngestTarget(sql, "browser-batching");
    dir = await analyticsJsPage(target.writeKey, {
      userId: "batch-user",
      email: "Batch@Example.com",
    }, {
      options: {
        integrations: {
          "Segment.io": {
            deliveryStrategy: {
              strategy: "batching",
              config: { size: 4, timeout: 500 },
            },
          },
        },
      },
      // The batch goes out in the background, once the fourth call fills it.
      deliveredTo: "\\/ingest\\/v1\\/b$",
    });
    const { result: anonymousId, log } = await openPage(dir);
    const events = await eventsOnceArrived(sql, target.orgId, 4);
    assert.match(log, /POST \S+\/ingest\/v1\/b -> 200/, log);
    assert.doesNotMatch(log, /\/ingest\/v1\/[tpi] /, "no call sent on its own");
    assert.deepEqual(events.map((e) => [e.type, e.event]), [
      ["page", "Pricing"],
      ["track", "Plan Chosen"],
      ["identify", null],
      ["track", "Order Completed"],
    ]);
    await assertOneCustomer(sql, target.orgId, {
      anonymousId,
      userId: "batch-user",
      email: "Batch@Example.com",
    });
  } finally {
    if (dir) await Deno.remove(dir, { recursive: true });
    await sql.end();
  }
});

Deno.test("RudderStack's browser SDK in Chromium, pointed at the function, sends a visit that becomes a customer", async () => {
  const sql = adminSql();
  let dir = "";
  try {
    const target = await createIngestTarget(sql, "browser-rudder");
    const ingest = `${stack().apiUrl}/functions/v1/ingest`;
    // The bundled build carries its plugins (the default one fetches them
    // from RudderStack's CDN).
    dir = await makePage(
      "@rudderstack/analytics-js/bundled",
      "RudderAnalytics",
      `const analytics = new RudderAnalytics();
      analytics.load(${JSON.stringify(target.writeKey)}, ${
        JSON.stringify(ingest)
      }, {
        configUrl: ${JSON.stringify(ingest)},
      });
      window.done = new Promise((resolve) => analytics.ready(() => {
        analytics.page("Pricing");
        analytics.track("Plan Chosen", { plan: "pro" });
        analytics.identify("rudder-user", { email: "Rudder@Example.com" });
        analytics.track("Order Completed", { revenue: 49, currency: "EUR" });
        delivered(/\\/ingest\\/v1\\/(page|track|identify)$/, 4)
          .then(() => resolve(analytics.getAnonymousId()));
      }));`,
    );
    const { result: anonymousId } = await openPage(dir);

    const events = await eventsOnceArrived(sql, target.orgId, 4);
    // The SDK sends from a queue: the order of arrival is its own.
    assert.deepEqual(
      events.map((e) => [e.type, e.event, e.channel, e.library, e.parsed_ua])
        .sort(),
      [
        ["identify", null, "paid_search", "RudderLabs JavaScript SDK", true],
        ["page", "Pricing", "paid_search", "RudderLabs JavaScript SDK", true],
        [
          "track",
          "Order Completed",
          "paid_search",
          "RudderLabs JavaScript SDK",
          true,
        ],
        [
          "track",
          "Plan Chosen",
          "paid_search",
          "RudderLabs JavaScript SDK",
          true,
        ],
      ].sort(),
    );
    assert.ok(events.every((e) => e.anonymous_id === anonymousId));
    await assertOneCustomer(sql, target.orgId, {
      anonymousId,
      userId: "rudder-user",
      email: "Rudder@Example.com",
    });
  } finally {
    if (dir) await Deno.remove(dir, { recursive: true });
    await sql.end();
  }
});

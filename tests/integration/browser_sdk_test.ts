// Segment's browser SDK, unchanged, in real Chromium: the page loads
// @segment/analytics-next as a site bundles it, with one option pointing it at
// the function (cdnURL), from an origin of its own. The SDK fetches its source
// settings, follows them, and sends a visit that turns into a purchase; the
// events, identities and profile are read back from Postgres.
import assert from "node:assert/strict";
import { adminSql, stack } from "../support/stack.ts";
import { createIngestTarget } from "../support/ingest.ts";

const ROOT = decodeURIComponent(new URL("../../", import.meta.url).pathname);

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

Deno.test("analytics.js in Chromium, pointed at the function, sends a visit that becomes a customer", async () => {
  const sql = adminSql();
  const dir = await Deno.makeTempDir({ prefix: "meridian-ajs-" });
  try {
    const target = await createIngestTarget(sql, "browser");
    // The SDK as a site ships it: bundled from npm.
    await run(
      `${ROOT}node_modules/.bin/esbuild`,
      [
        "--bundle",
        "--format=iife",
        "--log-level=warning",
        `--outfile=${dir}/analytics.js`,
      ],
      `import { AnalyticsBrowser } from "@segment/analytics-next";
        window.AnalyticsBrowser = AnalyticsBrowser;`,
    );
    await Deno.writeTextFile(
      `${dir}/index.html`,
      `<!doctype html><title>Pricing</title><script src="/analytics.js"></script>
<script>
  const analytics = AnalyticsBrowser.load({
    writeKey: ${JSON.stringify(target.writeKey)},
    cdnURL: ${JSON.stringify(`${stack().apiUrl}/functions/v1/ingest`)},
  });
  window.done = (async () => {
    await analytics.page("Pricing");
    await analytics.track("Plan Chosen", { plan: "pro" });
    await analytics.identify("browser-user", { email: "Browser@Example.com" });
    await analytics.track("Order Completed", { revenue: 49, currency: "EUR" });
    return (await analytics.user()).anonymousId();
  })();
</script>`,
    );

    const { out, err } = await run("node", [
      `${ROOT}tests/support/browser_page.mjs`,
      dir,
      "/pricing?utm_source=google&utm_medium=cpc&utm_campaign=brand",
    ]);
    const { result: anonymousId } = JSON.parse(out.trim().split("\n").at(-1)!);
    assert.match(
      err,
      /GET \S+\/ingest\/v1\/projects\/\S+\/settings -> 200/,
      err,
    );
    assert.doesNotMatch(err, /-> [45]\d\d|failed:/, err);

    const events = await sql`
      select type, event, channel, utm_campaign, revenue, currency, anonymous_id,
             context -> 'library' ->> 'name' as library, browser is not null as parsed_ua
      from public.events where org_id = ${target.orgId} order by timestamp, received_at`;
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

    const profiles = await sql`
      select p.email, p.event_count, p.revenue, p.lifecycle_stage, p.first_touch ->> 'channel' as first_channel,
             array(select i.type || '=' || i.value from public.identities i
                   where i.org_id = p.org_id and i.profile_id = p.id order by 1) as ids
      from public.profiles p where p.org_id = ${target.orgId} and p.merged_into is null`;
    assert.deepEqual(
      profiles.map((
        p,
      ) => [
        p.email,
        Number(p.event_count),
        Number(p.revenue),
        p.lifecycle_stage,
        p.first_channel,
        p.ids,
      ]),
      [[
        "Browser@Example.com",
        4,
        49,
        "customer",
        "paid_search",
        [
          `anonymous_id=${anonymousId}`,
          "email=browser@example.com",
          "user_id=browser-user",
        ],
      ]],
      "one person, from the first anonymous page view to the purchase",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
    await sql.end();
  }
});

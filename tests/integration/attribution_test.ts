// Attribution as a marketer and an analyst use it: journeys sent through the
// ingest endpoint with the official Segment Node SDK, a campaign made through
// supabase-js, a Google Ads spend export uploaded, all eight models computed
// through /functions/v1/attribution and checked against credit worked out
// here from the journeys, the reads (runs, reports, the analytics views with
// ROAS and ROI), and who may do what.
import assert from "node:assert/strict";
import { Analytics } from "@segment/analytics-node";
import type postgres from "postgres";
import {
  adminSql,
  client,
  createUser,
  stack,
  type TestUser,
  waitFor,
} from "../support/stack.ts";
import { createIngestTarget, type IngestTarget } from "../support/ingest.ts";

const DAY = 86_400_000;
const HOUR = 3_600_000;
const HALF_LIFE_DAYS = 7;

// ---------------------------------------------------------------------------
// THE JOURNEYS

/** How a visitor arrived, as the page call's context says it. */
type Via =
  | "google_cpc_campaign" // context.campaign: google / cpc
  | "google_cpc_url" // utm_* in context.page.url, from google / cpc
  | "newsletter_url" // utm_* in the URL: newsletter / email
  | "facebook_social_campaign" // context.campaign: facebook / social
  | "direct"; // a page URL without UTM or referrer

/** The channel ingest/enrichment.ts assigns to each (classifyChannel). */
const CHANNEL: Record<Via, string> = {
  google_cpc_campaign: "paid_search",
  google_cpc_url: "paid_search",
  newsletter_url: "email",
  facebook_social_campaign: "organic_social",
  direct: "direct",
};

type Hit =
  | {
    kind: "touch";
    user: string;
    day: number; // days before today (UTC)
    hour: number;
    via: Via;
    campaign: string | null;
  }
  | { kind: "order"; user: string; day: number; hour: number; revenue: number };

const touch = (
  user: string,
  day: number,
  hour: number,
  via: Via,
  campaign: string | null = null,
): Hit => ({ kind: "touch", user, day, hour, via, campaign });
const order = (
  user: string,
  day: number,
  hour: number,
  revenue: number,
): Hit => ({ kind: "order", user, day, hour, revenue });

// Six people over the last ten days. Paths (a conversion's touches: in the
// 30-day window, after the person's previous conversion):
//   ana  paid_search(spring_sale) > email(spring_sale) > direct  → 120
//   ben  organic_social(spring_sale) > paid_search(brand_search) → 80
//   cy   email(newsletter_w23) → 50, then paid_search(brand_search) → 30
//        (the email came before her first order: not on the second path)
//   dee  direct > direct → 40 (last non-direct falls back to the last)
//   eve  paid_search(brand_search) > email(newsletter_w23), no order
//   fay  an order with no touch → 25 ("(none)" in the rule-based models)
const JOURNEYS: Hit[] = [
  touch("ana", 9, 10, "google_cpc_campaign", "spring_sale"),
  touch("ana", 6, 10, "newsletter_url", "spring_sale"),
  touch("ana", 5, 9, "direct"),
  order("ana", 5, 10, 120),
  touch("ben", 8, 12, "facebook_social_campaign", "spring_sale"),
  touch("ben", 4, 12, "google_cpc_url", "brand_search"),
  order("ben", 3, 8, 80),
  touch("cy", 7, 10, "newsletter_url", "newsletter_w23"),
  order("cy", 7, 12, 50),
  touch("cy", 2, 10, "google_cpc_url", "brand_search"),
  order("cy", 1, 10, 30),
  touch("dee", 6, 10, "direct"),
  touch("dee", 3, 10, "direct"),
  order("dee", 2, 10, 40),
  touch("eve", 5, 15, "google_cpc_url", "brand_search"),
  touch("eve", 4, 15, "newsletter_url", "newsletter_w23"),
  order("fay", 4, 9, 25),
];
const TOTAL_REVENUE = 345;
const TOUCHLESS_REVENUE = 25;

function contextFor(via: Via, name: string | null) {
  const campaign = name ?? "";
  const utm = (source: string, medium: string) =>
    `utm_source=${source}&utm_medium=${medium}&utm_campaign=${campaign}`;
  switch (via) {
    case "google_cpc_campaign":
      return {
        campaign: { source: "google", medium: "cpc", name: campaign },
        page: { url: "https://shop.example/spring", referrer: "" },
      };
    case "google_cpc_url":
      return {
        page: {
          url: `https://shop.example/?${utm("google", "cpc")}`,
          referrer: "https://www.google.com/",
        },
      };
    case "newsletter_url":
      return {
        page: {
          url: `https://shop.example/?${utm("newsletter", "email")}`,
          referrer: "",
        },
      };
    case "facebook_social_campaign":
      return {
        campaign: { source: "facebook", medium: "social", name: campaign },
        page: {
          url: "https://shop.example/",
          referrer: "https://www.facebook.com/",
        },
      };
    case "direct":
      return { page: { url: "https://shop.example/", referrer: "" } };
  }
}

/** Sends hits through the ingest endpoint with the Segment SDK; message ids returned in order. */
async function sendJourneys(
  target: IngestTarget,
  hits: Hit[],
  today: number,
  tag: string,
): Promise<string[]> {
  const host = new URL(target.url);
  const analytics = new Analytics({
    writeKey: target.writeKey,
    host: host.origin,
    path: `${host.pathname}/v1/batch`,
    maxEventsInBatch: 50,
    flushInterval: 50,
  });
  const errors: unknown[] = [];
  analytics.on("error", (err) => errors.push(err));
  const ids = hits.map((_, i) => `${tag}-${i}`);
  hits.forEach((hit, i) => {
    const timestamp = new Date(today - hit.day * DAY + hit.hour * HOUR);
    if (hit.kind === "touch") {
      analytics.page({
        userId: hit.user,
        name: "Landing",
        timestamp,
        messageId: ids[i],
        context: contextFor(hit.via, hit.campaign),
      });
    } else {
      analytics.track({
        userId: hit.user,
        event: "Order Completed",
        properties: { revenue: hit.revenue },
        timestamp,
        messageId: ids[i],
      });
    }
  });
  await analytics.closeAndFlush({ timeout: 20_000 });
  assert.deepEqual(errors, []);
  return ids;
}

type Stored = {
  message_id: string;
  timestamp: Date;
  type: string;
  channel: string | null;
  utm_campaign: string | null;
  revenue: string | null;
};

/** Waits until ingestion has stored every message id, and returns the rows. */
async function storedEvents(
  sql: postgres.Sql,
  orgId: string,
  ids: string[],
): Promise<Map<string, Stored>> {
  let rows: Stored[] = [];
  await waitFor("the journeys stored", async () => {
    rows = await sql<Stored[]>`
      select message_id, timestamp, type, channel, utm_campaign, revenue::text as revenue
      from public.events where org_id = ${orgId} and message_id = any (${ids})`;
    return rows.length === ids.length;
  }, 30_000);
  return new Map(rows.map((r) => [r.message_id, r]));
}

// ---------------------------------------------------------------------------
// INDEPENDENT EXPECTATIONS

type TouchAt = { channel: string; campaign: string | null; at: number };
type Conversion = {
  user: string;
  at: number;
  value: number;
  touches: TouchAt[];
};

/** Each conversion with its touches: in the window, after the previous conversion. */
function conversionsOf(
  hits: Hit[],
  ids: string[],
  stored: Map<string, Stored>,
  windowDays = 30,
): Conversion[] {
  const at = (i: number) => stored.get(ids[i])!.timestamp.getTime();
  const conversions: Conversion[] = [];
  hits.forEach((hit, i) => {
    if (hit.kind !== "order") return;
    const previous = hits
      .map((h, j) => ({ h, at: at(j) }))
      .filter(({ h, at: t }) =>
        h.kind === "order" && h.user === hit.user && t < at(i)
      )
      .reduce((latest, { at: t }) => Math.max(latest, t), -Infinity);
    const touches = hits
      .map((h, j) => ({ h, at: at(j) }))
      .filter(({ h, at: t }) =>
        h.kind === "touch" && h.user === hit.user && t < at(i) &&
        t >= at(i) - windowDays * DAY && t > previous
      )
      .map(({ h, at: t }) => {
        const tch = h as Extract<Hit, { kind: "touch" }>;
        return { channel: CHANNEL[tch.via], campaign: tch.campaign, at: t };
      })
      .sort((a, b) => a.at - b.at);
    conversions.push({
      user: hit.user,
      at: at(i),
      value: hit.revenue,
      touches,
    });
  });
  return conversions;
}

const RULE_MODELS = [
  "first_touch",
  "last_touch",
  "last_non_direct",
  "linear",
  "time_decay",
  "position_based",
] as const;
type RuleModel = typeof RULE_MODELS[number];

/** The weight of each touch of a conversion under a rule-based model. */
function weights(model: RuleModel, c: Conversion): number[] {
  const n = c.touches.length;
  const last = n - 1;
  switch (model) {
    case "first_touch":
      return c.touches.map((_, i) => i === 0 ? 1 : 0);
    case "last_touch":
      return c.touches.map((_, i) => i === last ? 1 : 0);
    case "last_non_direct": {
      const nonDirect = c.touches.map((t) => t.channel !== "direct")
        .lastIndexOf(true);
      const pick = nonDirect === -1 ? last : nonDirect;
      return c.touches.map((_, i) => i === pick ? 1 : 0);
    }
    case "linear":
      return c.touches.map(() => 1);
    case "time_decay":
      return c.touches.map((t) =>
        0.5 ** ((c.at - t.at) / DAY / HALF_LIFE_DAYS)
      );
    case "position_based":
      if (n === 1) return [1];
      if (n === 2) return [0.5, 0.5];
      return c.touches.map((_, i) =>
        i === 0 ? 0.4 : i === last ? 0.4 : 0.2 / (n - 2)
      );
  }
}

type Expected = {
  value: Map<string, number>;
  conversions: Map<string, number>;
  /** How many conversions give the key credit (the rounding tolerance scales with it). */
  count: Map<string, number>;
};

/** Credit per channel (or per utm_campaign) under a rule-based model. */
function expectedCredit(
  model: RuleModel,
  conversions: Conversion[],
  by: (t: TouchAt) => string = (t) => t.channel,
): Expected {
  const out: Expected = {
    value: new Map(),
    conversions: new Map(),
    count: new Map(),
  };
  const add = (key: string, value: number, conv: number) => {
    out.value.set(key, (out.value.get(key) ?? 0) + value);
    out.conversions.set(key, (out.conversions.get(key) ?? 0) + conv);
    out.count.set(key, (out.count.get(key) ?? 0) + 1);
  };
  for (const c of conversions) {
    if (c.touches.length === 0) {
      add("(none)", c.value, 1);
      continue;
    }
    const w = weights(model, c);
    const total = w.reduce((s, x) => s + x, 0);
    c.touches.forEach((t, i) => {
      if (w[i] > 0) add(by(t), c.value * w[i] / total, w[i] / total);
    });
  }
  return out;
}

/** Simplified Shapley: each journey's value shared equally by its channel set. */
function expectedShapley(conversions: Conversion[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const c of conversions) {
    const set = [...new Set(c.touches.map((t) => t.channel))];
    for (const ch of set) {
      out.set(ch, (out.get(ch) ?? 0) + c.value / set.length);
    }
  }
  return out;
}

// Markov, order 1, worked by hand. Journeys (repeats collapsed):
//   ps>email>direct ✓, social>ps ✓, email ✓, ps ✓, direct ✓, ps>email ✗
// start → ps 3/6, social 1/6, email 1/6, direct 1/6
// ps → email 2/4, conv 2/4; email → direct 1/3, conv 1/3, null 1/3;
// direct → conv 1; social → ps 1.
// P(conv) = x(start): x(direct) = 1, x(email) = 2/3, x(ps) = 5/6,
// x(social) = 5/6, P = 3/6·5/6 + 1/6·5/6 + 1/6·2/3 + 1/6 = 5/6 (the observed
// rate, 5 of 6 journeys). Removal effects 1 - P(without)/P:
//   ps: P = 1/6·2/3 + 1/6 = 10/36 → 2/3
//   email: x(ps) = 1/2, P = 1/4 + 1/12 + 1/6 = 1/2 → 2/5
//   direct: x(email) = 1/3, x(ps) = 2/3, P = 1/3 + 1/9 + 1/18 = 1/2 → 2/5
//   social: P = 5/12 + 1/9 + 1/6 = 25/36 → 1/6
// Sum 49/30; shares ps 20/49, email 12/49, direct 12/49, social 5/49.
const MARKOV_1_SHARES: Record<string, number> = {
  paid_search: 20 / 49,
  email: 12 / 49,
  direct: 12 / 49,
  organic_social: 5 / 49,
};

// ---------------------------------------------------------------------------
// THE API

type Row = Record<string, unknown>;
type Credit = {
  channel: string;
  conversions: string;
  value: string;
  share: string | null;
  share_lo: string | null;
  share_hi: string | null;
};
type Run = {
  id: string;
  model: string;
  params: Record<string, unknown>;
  window_days: number;
  base_currency: string;
  input_hash: string | null;
  conversions: string;
  value: string;
  unattributed_conversions: string;
  unattributed_value: string;
  diagnostics: Record<string, unknown>;
  period_from: string;
  period_to: string;
};
type Reply<T = Row> = { status: number; body: T };

async function api<T = Row>(
  method: string,
  path: string,
  token: string,
  body?: string,
  contentType = "application/json",
): Promise<Reply<T>> {
  const res = await fetch(
    `${stack().apiUrl}/functions/v1/attribution${path}`,
    {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "Content-Type": contentType }),
      },
      body,
    },
  );
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: kept as text for the assertion message
  }
  return { status: res.status, body: parsed as T };
}

type Computed = { run: Run; credit: Credit[] };

function compute(
  token: string,
  orgId: string,
  period: { from: string; to: string },
  model: string,
  options: Row = {},
): Promise<Reply<Computed>> {
  return api<Computed>(
    "POST",
    "/compute",
    token,
    JSON.stringify({ org_id: orgId, model, ...period, options }),
  );
}

const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);

function assertClose(
  actual: number,
  expected: number,
  tolerance: number,
  what: string,
) {
  assert.ok(
    Math.abs(actual - expected) <= tolerance,
    `${what}: ${actual} is not ${expected} (±${tolerance})`,
  );
}

/** The payload of a user's token: the claims PostgREST would set. */
function claimsOf(token: string): Row {
  const b64 = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  return JSON.parse(atob(b64.padEnd(Math.ceil(b64.length / 4) * 4, "=")));
}

/**
 * Runs fn as the user under RLS, as PostgREST would (role authenticated, the
 * token's claims). The analytics schema is not exposed through PostgREST
 * (config.toml [api] schemas and dev/postgrest.mjs list public only), so the
 * views are read this way.
 */
function asUser<T>(
  sql: postgres.Sql,
  user: TestUser,
  fn: (tx: postgres.TransactionSql) => Promise<T>,
): Promise<T> {
  return sql.begin(async (tx) => {
    await tx`select set_config('request.jwt.claims', ${
      JSON.stringify(claimsOf(user.token))
    }, true),
                    set_config('role', 'authenticated', true)`;
    return await fn(tx);
  }) as Promise<T>;
}

const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** An organization with a write key, its owner, on a plan whose rate limit fits a test's bursts. */
async function arrange(sql: postgres.Sql, label: string) {
  const target = await createIngestTarget(sql, label);
  await sql`update public.organizations set plan = 'professional' where id = ${target.orgId}`;
  const owner = await createUser(sql, `${label}-owner`);
  await sql`insert into public.organization_members (org_id, user_id, role)
            values (${target.orgId}, ${owner.id}, 'owner')`;
  return { target, owner };
}

// ---------------------------------------------------------------------------

Deno.test("attribution end to end: SDK journeys, a campaign, Google Ads spend, eight models, reports and permissions", async (t) => {
  const sql = adminSql();
  try {
    const { target, owner } = await arrange(sql, "attribution");
    const org = target.orgId;
    const today = Math.floor(Date.now() / DAY) * DAY;
    const period = {
      from: new Date(today - 12 * DAY).toISOString(),
      to: new Date(today + DAY).toISOString(),
    };
    const tag = `attr-${crypto.randomUUID().slice(0, 8)}`;
    const ids = await sendJourneys(target, JOURNEYS, today, tag);
    const stored = await storedEvents(sql, org, ids);
    const conversions = conversionsOf(JOURNEYS, ids, stored);
    const runs: Record<string, Computed> = {};
    const run = (name: string): Computed => {
      const computed = runs[name];
      if (!computed) throw new Error(`no ${name} run: its compute failed`);
      return computed;
    };

    await t.step(
      "ingest stores each hit at its time, with its channel and UTM campaign",
      () => {
        JOURNEYS.forEach((hit, i) => {
          const row = stored.get(ids[i])!;
          // The SDK's timestamp, corrected for the (tiny) clock skew between
          // its sentAt and the function's receivedAt.
          const sent = today - hit.day * DAY + hit.hour * HOUR;
          assert.ok(
            Math.abs(row.timestamp.getTime() - sent) < 60_000,
            `${ids[i]} at ${row.timestamp.toISOString()}`,
          );
          if (hit.kind === "touch") {
            assert.equal(row.type, "page");
            assert.equal(
              row.channel,
              CHANNEL[hit.via],
              `${hit.user} ${hit.via}`,
            );
            assert.equal(row.utm_campaign, hit.campaign);
          } else {
            assert.equal(row.type, "track");
            // A server-side track has no page or campaign context: no channel,
            // so the conversion itself is never a touch.
            assert.equal(row.channel, null);
            assert.equal(Number(row.revenue), hit.revenue);
          }
        });
        assert.equal(sum(conversions.map((c) => c.value)), TOTAL_REVENUE);
        assert.deepEqual(
          conversions.map((c) => c.touches.map((x) => x.channel).join(">")),
          [
            "paid_search>email>direct",
            "organic_social>paid_search",
            "email",
            "paid_search",
            "direct>direct",
            "",
          ],
        );
      },
    );

    let springSaleId = "";
    await t.step(
      "the owner sets attribution settings and creates a campaign through supabase-js",
      async () => {
        const db = client(owner.token);
        const settings = await db.rpc("set_attribution_settings", {
          p_org_id: org,
          p_base_currency: "usd",
          p_window_days: 30,
        });
        assert.equal(settings.error, null, JSON.stringify(settings.error));
        assert.equal(settings.data!.base_currency, "USD");
        assert.deepEqual(settings.data!.conversion_events, ["Order Completed"]);
        assert.equal(settings.data!.window_days, 30);
        assert.equal(settings.data!.reset_after_conversion, true);

        const { data, error } = await db.from("campaigns").insert({
          org_id: org,
          key: "spring-sale",
          name: "Spring Sale",
          channel: "paid_search",
          utm_campaign: "spring_sale",
          objective: "sales",
          budget: 500,
          currency: "USD",
        }).select("id, key, utm_campaign").single();
        assert.equal(error, null, JSON.stringify(error));
        assert.equal(data!.utm_campaign, "spring_sale");
        springSaleId = data!.id;
      },
    );

    // Google Ads' campaign report download: a title, the date range, the
    // header, rows, and the totals it appends.
    const spendDays = {
      d9: isoDay(today - 9 * DAY),
      d8: isoDay(today - 8 * DAY),
    };
    const d4 = isoDay(today - 4 * DAY);
    const d3 = isoDay(today - 3 * DAY);
    const d2 = isoDay(today - 2 * DAY);
    const csv = [
      "Campaign report",
      `"${spendDays.d9} - ${d2}"`,
      "Day,Campaign,Cost,Impr.,Clicks,Currency code",
      `${spendDays.d9},Spring Sale,60.00,"2,000",80,USD`,
      `${spendDays.d8},Spring Sale,40.50,1500,45,USD`,
      `${d4},brand_search,$30.00,900,30,USD`,
      `${d3},brand_search,"12,5",500,10,USD`, // line 7: a decimal comma
      `${d2},brand_search,20.00,700,20,USD`,
      `Total: Account,--,"150.50","5,100",175,USD`,
      "",
    ].join("\r\n");
    const SPEND = { spring: 100.5, brand: 50, impressions: 5100, clicks: 175 };
    let brandSearchId = "";

    await t.step(
      "a Google Ads export uploads: good rows stored, the bad one reported by line and column",
      async () => {
        const res = await api<Row>(
          "POST",
          `/spend?org_id=${org}&create_campaigns=true`,
          owner.token,
          csv,
          "text/csv",
        );
        assert.equal(res.status, 200, JSON.stringify(res.body));
        assert.equal(res.body.layout, "google_ads");
        assert.equal(res.body.rows_accepted, 4);
        assert.equal(res.body.rows_rejected, 1);
        assert.equal(res.body.stored, 4);
        assert.equal(res.body.created_campaigns, 1);
        const errors = res.body.errors as Row[];
        assert.equal(errors.length, 1, JSON.stringify(errors));
        assert.equal(errors[0].line, 7);
        assert.equal(errors[0].field, "Cost");
        assert.equal(errors[0].rule, "number_format");

        const rows = await sql`
        select s.day::text as day, c.key, c.name, c.utm_campaign, s.source, s.channel,
               s.amount::float8 as amount, s.currency, s.impressions::int as impressions,
               s.clicks::int as clicks
        from public.ad_spend s join public.campaigns c on c.org_id = s.org_id and c.id = s.campaign_id
        where s.org_id = ${org} order by s.day`;
        assert.deepEqual(rows.map((r) => ({ ...r })), [
          {
            day: spendDays.d9,
            key: "spring-sale",
            name: "Spring Sale",
            utm_campaign: "spring_sale",
            source: "csv",
            channel: "paid_search",
            amount: 60,
            currency: "USD",
            impressions: 2000,
            clicks: 80,
          },
          {
            day: spendDays.d8,
            key: "spring-sale",
            name: "Spring Sale",
            utm_campaign: "spring_sale",
            source: "csv",
            channel: "paid_search",
            amount: 40.5,
            currency: "USD",
            impressions: 1500,
            clicks: 45,
          },
          {
            day: d4,
            key: "brand_search",
            name: "brand_search",
            utm_campaign: "brand_search",
            source: "csv",
            channel: "paid_search",
            amount: 30,
            currency: "USD",
            impressions: 900,
            clicks: 30,
          },
          {
            day: d2,
            key: "brand_search",
            name: "brand_search",
            utm_campaign: "brand_search",
            source: "csv",
            channel: "paid_search",
            amount: 20,
            currency: "USD",
            impressions: 700,
            clicks: 20,
          },
        ]);
        const [brand] = await sql`
        select id from public.campaigns where org_id = ${org} and key = 'brand_search'`;
        brandSearchId = brand.id;

        // The same export again replaces its rows: idempotent by day, campaign
        // and source.
        const again = await api<Row>(
          "POST",
          `/spend?org_id=${org}&create_campaigns=true`,
          owner.token,
          csv,
          "text/csv",
        );
        assert.equal(again.status, 200);
        assert.equal(again.body.created_campaigns, 0);
        const [{ n, total }] = await sql`
        select count(*)::int as n, sum(amount)::float8 as total from public.ad_spend where org_id = ${org}`;
        assert.equal(n, 4);
        assert.equal(total, SPEND.spring + SPEND.brand);
      },
    );

    await t.step(
      "rule-based models: every run credits exactly what the journeys say",
      async () => {
        for (const model of RULE_MODELS) {
          const res = await compute(owner.token, org, period, model);
          assert.equal(
            res.status,
            201,
            `${model}: ${JSON.stringify(res.body)}`,
          );
          const { run: saved, credit } = res.body;
          runs[model] = res.body;
          assert.equal(saved.model, model);
          assert.equal(Number(saved.conversions), 6, model);
          assert.equal(Number(saved.value), TOTAL_REVENUE, model);
          assert.equal(Number(saved.unattributed_conversions), 1, model);
          assert.equal(
            Number(saved.unattributed_value),
            TOUCHLESS_REVENUE,
            model,
          );
          assert.equal(saved.window_days, 30);
          assert.equal(saved.base_currency, "USD");
          assert.match(saved.input_hash ?? "", /^[0-9a-f]+$/);
          assert.deepEqual(saved.params.conversion_events, ["Order Completed"]);
          if (model === "time_decay") {
            assert.equal(Number(saved.params.half_life_days), HALF_LIFE_DAYS);
          }
          if (model === "position_based") {
            assert.equal(Number(saved.params.first_share), 0.4);
            assert.equal(Number(saved.params.last_share), 0.4);
          }
          // Rule-based runs credit every conversion: the touchless one to "(none)".
          assertClose(
            sum(credit.map((c) => Number(c.value))),
            TOTAL_REVENUE,
            1e-9,
            `${model} value`,
          );
          assertClose(
            sum(credit.map((c) => Number(c.conversions))),
            6,
            1e-9,
            `${model} conversions`,
          );
          const expected = expectedCredit(model, conversions);
          assert.deepEqual(
            credit.map((c) => c.channel).sort(),
            [...expected.value.keys()].sort(),
            model,
          );
          for (const c of credit) {
            // SQL rounds each touch's share to 6 decimals (value) and 9
            // (conversions), the remainder on the largest: 1e-6 per conversion.
            const n = expected.count.get(c.channel)!;
            assertClose(
              Number(c.value),
              expected.value.get(c.channel)!,
              1e-6 * n,
              `${model} ${c.channel} value`,
            );
            assertClose(
              Number(c.conversions),
              expected.conversions.get(c.channel)!,
              1e-8 * n,
              `${model} ${c.channel} conversions`,
            );
          }
        }
        // The rules, spelled out for the runs where they differ most.
        const value = (model: string, channel: string) =>
          Number(
            run(model).credit.find((c) => c.channel === channel)?.value ?? 0,
          );
        assert.equal(value("first_touch", "paid_search"), 150);
        assert.equal(value("last_touch", "direct"), 160);
        assert.equal(value("last_non_direct", "email"), 170);
        assert.equal(value("last_non_direct", "direct"), 40);
        assert.equal(value("position_based", "paid_search"), 48 + 40 + 30);
        assert.equal(value("linear", "(none)"), 25);
      },
    );

    const markovRuns: Computed[] = [];
    await t.step(
      "data-driven models: credit plus unattributed is the total",
      async () => {
        const attempts: [string, Row][] = [
          ["markov", { order: 1, bootstrap_replicates: 20, seed: 7 }],
          ["markov", { order: 1, bootstrap_replicates: 20, seed: 7 }],
          ["markov", { order: 2, bootstrap_replicates: 20 }],
          ["shapley", { min_users: 1, bootstrap_replicates: 20 }],
        ];
        for (const [model, options] of attempts) {
          const res = await compute(owner.token, org, period, model, options);
          assert.equal(
            res.status,
            201,
            `${model}: ${JSON.stringify(res.body)}`,
          );
          const { run: saved, credit } = res.body;
          assert.equal(saved.model, model);
          assert.equal(Number(saved.conversions), 6);
          assert.equal(Number(saved.value), TOTAL_REVENUE);
          // The touchless conversion is not a path: reported, not credited.
          assert.equal(Number(saved.unattributed_conversions), 1);
          assert.equal(Number(saved.unattributed_value), TOUCHLESS_REVENUE);
          assert.ok(!credit.some((c) => c.channel === "(none)"));
          assertClose(
            sum(credit.map((c) => Number(c.value))) +
              Number(saved.unattributed_value),
            TOTAL_REVENUE,
            1e-9,
            `${model} value`,
          );
          assertClose(
            sum(credit.map((c) => Number(c.conversions))) +
              Number(saved.unattributed_conversions),
            6,
            1e-9,
            `${model} conversions`,
          );
          assert.match(saved.input_hash ?? "", /^[0-9a-f]+$/);
          assert.equal(saved.params.bootstrap_replicates, 20);
          for (const [k, v] of Object.entries(options)) {
            assert.equal(saved.params[k], v, `${model} params.${k}`);
          }
          for (const c of credit) {
            const [lo, hi] = [Number(c.share_lo), Number(c.share_hi)];
            assert.ok(c.share_lo !== null && c.share_hi !== null, c.channel);
            assert.ok(
              0 <= lo && lo <= hi && hi <= 1,
              `${c.channel} [${lo}, ${hi}]`,
            );
          }
          if (model === "markov") markovRuns.push(res.body);
          else runs.shapley = res.body;
        }
        runs.markov = markovRuns[0];
        runs.markov2 = markovRuns[2];

        // Markov, first order, against the chain solved by hand.
        for (const c of run("markov").credit) {
          const share = MARKOV_1_SHARES[c.channel];
          assert.ok(share !== undefined, c.channel);
          assertClose(
            Number(c.share),
            share,
            1e-9,
            `markov ${c.channel} share`,
          );
          assertClose(
            Number(c.value),
            share * (TOTAL_REVENUE - TOUCHLESS_REVENUE),
            1e-6,
            `markov ${c.channel} value`,
          );
          assertClose(Number(c.conversions), share * 5, 1e-9, c.channel);
        }
        assert.equal(run("markov").credit.length, 4);
        assertClose(
          Number(run("markov").run.diagnostics.conversionProbability),
          5 / 6,
          1e-12,
          "P(conversion)",
        );
        assert.equal(run("markov2").run.diagnostics.order, 2);

        // Shapley over channel sets, min_users 1.
        const shapley = expectedShapley(conversions);
        assert.deepEqual(
          run("shapley").credit.map((c) => c.channel).sort(),
          [...shapley.keys()].sort(),
        );
        for (const c of run("shapley").credit) {
          assertClose(
            Number(c.value),
            shapley.get(c.channel)!,
            1e-6,
            `shapley ${c.channel}`,
          );
        }
      },
    );

    await t.step(
      "the model comparison: every model's share per channel, the spread, the sensitivities",
      async () => {
        const res = await api<Row>(
          "POST",
          "/compare",
          owner.token,
          JSON.stringify({ org_id: org, ...period }),
        );
        assert.equal(res.status, 201, JSON.stringify(res.body));
        const body = res.body as {
          runs: Record<string, string>;
          channels: {
            channel: string;
            shares: Record<string, number>;
            min: number;
            max: number;
            range: number;
            flagged: boolean;
          }[];
        };
        // Eight models and four sensitivity variants, each a stored run.
        assert.equal(Object.keys(body.runs).length, 12);
        const lastTouch = expectedCredit("last_touch", conversions);
        const attributed = [...lastTouch.conversions.values()].reduce(
          (a, b) => a + b,
          0,
        ) - (lastTouch.conversions.get("(none)") ?? 0);
        for (const c of body.channels) {
          assert.equal(Object.keys(c.shares).length, 8, c.channel);
          const values = Object.values(c.shares);
          assertClose(c.min, Math.min(...values), 1e-12, "min");
          assertClose(c.max, Math.max(...values), 1e-12, "max");
          assert.equal(c.flagged, c.max - c.min >= 0.1, c.channel);
          // The last-touch share, from the credit worked out in this test.
          assertClose(
            c.shares.last_touch,
            (lastTouch.conversions.get(c.channel) ?? 0) / attributed,
            1e-6,
            `last_touch share of ${c.channel}`,
          );
        }
        // Sorted by how much the model matters, most first.
        const ranges = body.channels.map((c) => c.range);
        assert.deepEqual(ranges, [...ranges].sort((a, b) => b - a));
      },
    );

    await t.step(
      "the same seed gives the same intervals, and a run records what it read",
      () => {
        const [first, second] = markovRuns;
        if (!second) throw new Error("no markov runs: their compute failed");
        assert.notEqual(first.run.id, second.run.id);
        assert.equal(first.run.input_hash, second.run.input_hash);
        assert.equal(first.run.params.seed, 7);
        const intervals = (r: Computed) =>
          r.credit.map((c) => [c.channel, c.share, c.share_lo, c.share_hi]);
        assert.deepEqual(intervals(second), intervals(first));
        // The rule-based runs read the same conversions and touches, and so
        // did the data-driven ones: one fingerprint each.
        const hashes = (models: readonly string[]) =>
          new Set(models.map((m) => run(m).run.input_hash)).size;
        assert.equal(hashes(RULE_MODELS), 1);
        assert.equal(hashes(["markov", "markov2", "shapley"]), 1);
      },
    );

    await t.step(
      "runs, reports and the model list read through the function",
      async () => {
        const read = await api<Computed>(
          "GET",
          `/runs/${run("linear").run.id}?org_id=${org}`,
          owner.token,
        );
        assert.equal(read.status, 200);
        assert.equal(read.body.run.id, run("linear").run.id);
        assert.deepEqual(
          read.body.credit.map((c) => [c.channel, Number(c.value)]),
          run("linear").credit.map((c) => [c.channel, Number(c.value)]),
        );

        const report = (runId: string, by: string) =>
          api<{ run_id: string; by: string; rows: Row[] }>(
            "GET",
            `/report?org_id=${org}&run_id=${runId}&by=${by}`,
            owner.token,
          );

        const byChannel = await report(run("time_decay").run.id, "channel");
        assert.equal(byChannel.status, 200);
        assert.equal(byChannel.body.by, "channel");
        assertClose(
          sum(byChannel.body.rows.map((r) => Number(r.value))),
          TOTAL_REVENUE,
          1e-9,
          "report by channel",
        );

        // By campaign: first touch credits spring_sale with ana's and ben's
        // first touches, brand_search with cy's second order.
        const byCampaign = await report(run("first_touch").run.id, "campaign");
        assert.equal(byCampaign.status, 200);
        const got = byCampaign.body.rows.map((r) =>
          `${r.channel}|${r.utm_campaign}|${r.campaign_id}|${Number(r.value)}`
        ).sort();
        assert.deepEqual(
          got,
          [
            "(none)|null|null|25",
            "direct|null|null|40",
            `email|newsletter_w23|null|50`,
            `organic_social|spring_sale|${springSaleId}|80`,
            `paid_search|brand_search|${brandSearchId}|30`,
            `paid_search|spring_sale|${springSaleId}|120`,
          ].sort(),
        );

        // By day: each conversion's value on its (UTC) day.
        const byDay = await report(run("position_based").run.id, "day");
        assert.equal(byDay.status, 200);
        const perDay = new Map<string, number>();
        for (const r of byDay.body.rows) {
          const day = String(r.day).slice(0, 10);
          perDay.set(day, (perDay.get(day) ?? 0) + Number(r.value));
        }
        const expectedDays = new Map<string, number>();
        for (const c of conversions) {
          const day = isoDay(c.at);
          expectedDays.set(day, (expectedDays.get(day) ?? 0) + c.value);
        }
        assert.deepEqual(
          [...perDay.entries()].sort().map((
            [d, v],
          ) => [d, Math.round(v * 1e6) / 1e6]),
          [...expectedDays.entries()].sort(),
        );

        const models = await fetch(
          `${stack().apiUrl}/functions/v1/attribution/models`,
        );
        assert.equal(models.status, 200);
        const list = (await models.json()).models as {
          name: string;
          kind: string;
        }[];
        assert.deepEqual(
          list.map((m) => m.name).sort(),
          [
            ...RULE_MODELS,
            "markov",
            "shapley",
          ].sort(),
        );
        assert.equal(list.filter((m) => m.kind === "data_driven").length, 2);
      },
    );

    await t.step(
      "analytics views as the owner: ROAS and ROI from the credit and the spend",
      async () => {
        const paidSearchSpend = SPEND.spring + SPEND.brand;
        const channels = await asUser(sql, owner, (tx) =>
          tx`
        select channel, conversions::float8 as conversions, revenue::float8 as revenue,
               spend::float8 as spend, impressions::int as impressions, clicks::int as clicks,
               roas::float8 as roas, roi::float8 as roi, cpa::float8 as cpa, ctr::float8 as ctr, currency
        from analytics.channel_performance
        where run_id = ${run("last_touch").run.id} order by channel`);
        // The analyst's way in: supabase-js on the analytics schema, same rows.
        const viaJs = await client(owner.token).schema("analytics")
          .from("channel_performance").select("channel, revenue")
          .eq("run_id", run("last_touch").run.id).order("channel");
        assert.equal(viaJs.error, null, JSON.stringify(viaJs.error));
        assert.deepEqual(
          viaJs.data!.map((r) => r.channel),
          channels.map((c) => c.channel),
        );
        const lastTouch = expectedCredit("last_touch", conversions);
        // Last touch: ben's and cy's second order end on paid search.
        const psRevenue = lastTouch.value.get("paid_search")!;
        assert.equal(psRevenue, 80 + 30);
        assert.deepEqual(
          channels.map((c) => c.channel),
          [...lastTouch.value.keys()].sort(),
        );
        for (const c of channels) {
          assert.equal(c.revenue, lastTouch.value.get(c.channel));
          assert.equal(c.currency, "USD");
          if (c.channel === "paid_search") {
            assertClose(c.spend, paidSearchSpend, 1e-9, "spend");
            assertClose(c.roas, psRevenue / paidSearchSpend, 1e-12, "ROAS");
            assertClose(
              c.roi,
              (psRevenue - paidSearchSpend) / paidSearchSpend,
              1e-12,
              "ROI",
            );
            assertClose(c.cpa, paidSearchSpend / 2, 1e-9, "CPA");
            assert.equal(c.impressions, SPEND.impressions);
            assert.equal(c.clicks, SPEND.clicks);
            assertClose(c.ctr, SPEND.clicks / SPEND.impressions, 1e-12, "CTR");
          } else {
            // No spend on the channel: nothing to divide by.
            assert.equal(c.spend, 0);
            assert.equal(c.roas, null);
            assert.equal(c.roi, null);
          }
        }

        // Campaigns under linear: spring_sale's touches are ana's paid search
        // and email (40 + 40) and ben's social (40); brand_search is ben's
        // paid search (40) and cy's second order (30).
        const byCampaign = expectedCredit(
          "linear",
          conversions,
          (x) => x.campaign ?? "",
        );
        const campaigns = await asUser(sql, owner, (tx) =>
          tx`
        select campaign_key, campaign_id, revenue::float8 as revenue, spend::float8 as spend,
               roas::float8 as roas, roi::float8 as roi, conversions::float8 as conversions
        from analytics.campaign_performance
        where run_id = ${run("linear").run.id} order by campaign_key`);
        assert.deepEqual(
          campaigns.map((c) => [c.campaign_key, c.campaign_id]),
          [["brand_search", brandSearchId], ["spring-sale", springSaleId]],
        );
        const spendOf: Record<string, number> = {
          "brand_search": SPEND.brand,
          "spring-sale": SPEND.spring,
        };
        const utmOf: Record<string, string> = {
          "brand_search": "brand_search",
          "spring-sale": "spring_sale",
        };
        for (const c of campaigns) {
          const revenue = byCampaign.value.get(utmOf[c.campaign_key])!;
          const spend = spendOf[c.campaign_key];
          assertClose(c.revenue, revenue, 1e-6, `${c.campaign_key} revenue`);
          assertClose(c.spend, spend, 1e-9, `${c.campaign_key} spend`);
          assertClose(c.roas, revenue / spend, 1e-6, `${c.campaign_key} ROAS`);
          assertClose(
            c.roi,
            (revenue - spend) / spend,
            1e-6,
            `${c.campaign_key} ROI`,
          );
        }
        assertClose(
          campaigns[1].revenue,
          120,
          1e-6,
          "spring_sale under linear",
        );
        assertClose(
          campaigns[0].revenue,
          70,
          1e-6,
          "brand_search under linear",
        );

        // The markov run's paths, converting and not.
        const paths = await asUser(sql, owner, (tx) =>
          tx`
        select path_text, conversions, non_conversions, value::float8 as value
        from analytics.conversion_paths where run_id = ${run("markov").run.id}
        order by path_text`);
        assert.deepEqual(paths.map((p) => ({ ...p })), [
          {
            path_text: "direct > direct",
            conversions: 1,
            non_conversions: 0,
            value: 40,
          },
          { path_text: "email", conversions: 1, non_conversions: 0, value: 50 },
          {
            path_text: "organic_social > paid_search",
            conversions: 1,
            non_conversions: 0,
            value: 80,
          },
          {
            path_text: "paid_search",
            conversions: 1,
            non_conversions: 0,
            value: 30,
          },
          {
            path_text: "paid_search > email",
            conversions: 0,
            non_conversions: 1,
            value: 0,
          },
          {
            path_text: "paid_search > email > direct",
            conversions: 1,
            non_conversions: 0,
            value: 120,
          },
        ]);
      },
    );

    await t.step(
      "a read-only member reads but may not compute or upload",
      async () => {
        const reader = await createUser(sql, "attr-reader");
        await sql`insert into public.organization_members (org_id, user_id, role)
                values (${org}, ${reader.id}, 'read_only')`;
        const denied = await compute(reader.token, org, period, "linear");
        assert.equal(denied.status, 403, JSON.stringify(denied.body));
        const upload = await api(
          "POST",
          `/spend?org_id=${org}`,
          reader.token,
          csv,
          "text/csv",
        );
        assert.equal(upload.status, 403);
        const runRead = await api(
          "GET",
          `/runs/${run("time_decay").run.id}?org_id=${org}`,
          reader.token,
        );
        assert.equal(runRead.status, 200);
        const report = await api<{ rows: Row[] }>(
          "GET",
          `/report?org_id=${org}&run_id=${run("linear").run.id}&by=campaign`,
          reader.token,
        );
        assert.equal(report.status, 200);
        assert.ok(report.body.rows.length > 0);
        // campaigns:read but not campaigns:create.
        const db = client(reader.token);
        const { data } = await db.from("campaigns").select("key").eq(
          "org_id",
          org,
        );
        assert.equal(data!.length, 2);
        const insert = await db.from("campaigns").insert({
          org_id: org,
          key: "sneaky",
          name: "Sneaky",
          utm_campaign: "sneaky",
        });
        assert.equal(insert.error?.code, "42501");
      },
    );

    await t.step(
      "a member of another organization reaches none of it",
      async () => {
        const other = await createIngestTarget(sql, "attribution-other");
        const outsider = await createUser(sql, "attr-outsider");
        await sql`insert into public.organization_members (org_id, user_id, role)
                values (${other.orgId}, ${outsider.id}, 'owner')`;
        const calls: Reply[] = [
          await compute(outsider.token, org, period, "linear"),
          await api(
            "POST",
            `/spend?org_id=${org}`,
            outsider.token,
            csv,
            "text/csv",
          ),
          await api(
            "GET",
            `/runs/${run("linear").run.id}?org_id=${org}`,
            outsider.token,
          ),
          await api(
            "GET",
            `/report?org_id=${org}&run_id=${run("linear").run.id}`,
            outsider.token,
          ),
        ];
        assert.deepEqual(calls.map((c) => c.status), [403, 403, 403, 403]);
        // Naming their own organization with our run id reads nothing either.
        const crossed = await api<Row>(
          "GET",
          `/runs/${run("linear").run.id}?org_id=${other.orgId}`,
          outsider.token,
        );
        assert.equal(crossed.status, 404);

        const db = client(outsider.token);
        for (
          const table of [
            "attribution_runs",
            "attribution_results",
            "attribution_run_paths",
            "attribution_settings",
            "campaigns",
            "ad_spend",
          ] as const
        ) {
          const { data, error } = await db.from(table).select("org_id");
          assert.equal(error, null, `${table}: ${JSON.stringify(error)}`);
          assert.deepEqual(data, [], table);
        }
        const views = await asUser(sql, outsider, (tx) =>
          tx`
        select (select count(*)::int from analytics.channel_performance where org_id = ${org}) as channels,
               (select count(*)::int from analytics.campaign_performance where org_id = ${org}) as campaigns,
               (select count(*)::int from analytics.conversion_paths where org_id = ${org}) as paths,
               (select count(*)::int from analytics.spend_in_base_currency where org_id = ${org}) as spend`);
        assert.deepEqual({ ...views[0] }, {
          channels: 0,
          campaigns: 0,
          paths: 0,
          spend: 0,
        });
        // And through supabase-js, which reads the analytics schema too.
        for (
          const view of [
            "channel_performance",
            "campaign_performance",
            "conversion_paths",
            "spend_in_base_currency",
          ] as const
        ) {
          const { data, error } = await db.schema("analytics").from(view)
            .select("org_id").eq("org_id", org);
          assert.equal(error, null, `${view}: ${JSON.stringify(error)}`);
          assert.deepEqual(data, [], view);
        }
      },
    );

    await t.step(
      "a new conversion changes the run's input fingerprint",
      async () => {
        // One more order with no touch: new input, new totals, so every model's
        // fingerprint must change with it.
        const extra = [order("gus", 1, 14, 10)];
        const extraIds = await sendJourneys(target, extra, today, `${tag}-x`);
        await storedEvents(sql, org, extraIds);
        for (const model of ["last_touch", "markov"]) {
          const res = await compute(
            owner.token,
            org,
            period,
            model,
            model === "markov" ? { bootstrap_replicates: 0 } : {},
          );
          assert.equal(res.status, 201);
          assert.equal(Number(res.body.run.value), TOTAL_REVENUE + 10);
          const before = run(model).run;
          assert.notEqual(
            res.body.run.input_hash,
            before.input_hash,
            `${model}: same input_hash for different input`,
          );
        }
      },
    );
  } finally {
    await sql.end();
  }
});

Deno.test("attribution refuses bad input with 400s that name the field, and unknown runs with 404", async () => {
  const sql = adminSql();
  try {
    const { target, owner } = await arrange(sql, "attribution-input");
    const org = target.orgId;
    const period = {
      from: new Date(Date.now() - 7 * DAY).toISOString(),
      to: new Date().toISOString(),
    };
    const fields = (r: Reply) =>
      ((r.body.error as Row | undefined)?.details as Row[] | undefined ?? [])
        .map((d) => d.field);

    const unknownModel = await compute(owner.token, org, period, "u_shaped");
    assert.equal(unknownModel.status, 400);
    assert.ok(fields(unknownModel as Reply).includes("model"));

    const backwards = await compute(owner.token, org, {
      from: period.to,
      to: period.from,
    }, "linear");
    assert.equal(backwards.status, 400);
    assert.ok(fields(backwards as Reply).includes("from"));

    const badOption = await compute(owner.token, org, period, "markov", {
      order: 4,
    });
    assert.equal(badOption.status, 400);
    assert.ok(fields(badOption as Reply).includes("options.order"));

    const notJson = await api(
      "POST",
      "/compute",
      owner.token,
      "{model: linear",
    );
    assert.equal(notJson.status, 400, JSON.stringify(notJson.body));
    assert.ok(fields(notJson).includes("(body)"));

    const missing = await api(
      "GET",
      `/runs/${crypto.randomUUID()}?org_id=${org}`,
      owner.token,
    );
    assert.equal(missing.status, 404);

    const badReport = await api(
      "GET",
      `/report?org_id=${org}&run_id=${crypto.randomUUID()}&by=week`,
      owner.token,
    );
    assert.equal(badReport.status, 400);
    assert.ok(fields(badReport).includes("by"));

    // A file that is not a spend export: nothing stored, the header named.
    const notSpend = await api(
      "POST",
      `/spend?org_id=${org}`,
      owner.token,
      "name,email\nKim,kim@shop.example\n",
      "text/csv",
    );
    assert.equal(notSpend.status, 422);
    assert.equal(notSpend.body.stored, 0);
    assert.deepEqual(
      (notSpend.body.errors as Row[]).map((e) => [e.line, e.field, e.rule]),
      [[1, "(header)", "known_layout"]],
    );

    // An empty period computes: nothing to credit, nothing invented.
    const empty = await compute(owner.token, org, period, "linear");
    assert.equal(empty.status, 201);
    assert.equal(Number(empty.body.run.conversions), 0);
    assert.deepEqual(empty.body.credit, []);
    const emptyMarkov = await compute(owner.token, org, period, "markov");
    assert.equal(emptyMarkov.status, 201, JSON.stringify(emptyMarkov.body));
    assert.deepEqual(emptyMarkov.body.credit, []);
  } finally {
    await sql.end();
  }
});

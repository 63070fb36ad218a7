// Enrichment rules of the ingest function: Segment's clock-skew correction, UTM
// extraction, channel classification, user agents and identifier extraction.
import assert from "node:assert/strict";
import {
  classifyChannel,
  correctTimestamp,
  eventTime,
  extractIdentifiers,
  extractUtm,
  parseUserAgent,
  userTraits,
} from "../../supabase/functions/ingest/enrichment.ts";
import { TrackMessage } from "../../supabase/functions/ingest/schemas.ts";

Deno.test("clock skew: receivedAt - (sentAt - timestamp)", () => {
  const received = new Date("2026-11-21T12:00:00.000Z");
  // The device clock runs 10 minutes fast: it says it sent at 12:10.
  const corrected = correctTimestamp(
    "2026-11-21T12:05:00.000Z",
    "2026-11-21T12:10:00.000Z",
    received,
  );
  assert.equal(corrected.toISOString(), "2026-11-21T11:55:00.000Z");
  assert.equal(correctTimestamp(undefined, undefined, received), received);
  assert.equal(
    correctTimestamp("2026-11-21T11:00:00.000Z", undefined, received)
      .toISOString(),
    "2026-11-21T11:00:00.000Z",
  );
});

Deno.test("a timestamp set beside the SDK's originalTimestamp is kept as sent", () => {
  const received = new Date("2026-11-21T12:00:00.000Z");
  const sentAt = "2026-11-21T12:10:00.000Z";
  // RudderStack's SDK stamps originalTimestamp; the caller imports history.
  assert.equal(
    eventTime(
      {
        originalTimestamp: "2026-11-21T12:09:59.000Z",
        timestamp: "2025-06-01T08:00:00.000Z",
      },
      sentAt,
      received,
    ).toISOString(),
    "2025-06-01T08:00:00.000Z",
  );
  // Alone, either one is the device's clock and is corrected for its skew.
  for (const key of ["originalTimestamp", "timestamp"]) {
    assert.equal(
      eventTime({ [key]: "2026-11-21T12:05:00.000Z" }, sentAt, received)
        .toISOString(),
      "2026-11-21T11:55:00.000Z",
    );
  }
  assert.equal(eventTime({}, sentAt, received), received);
});

Deno.test("UTM comes from context.campaign, else from the page URL", () => {
  assert.deepEqual(
    extractUtm({
      campaign: { name: "spring", source: "google", medium: "cpc" },
    }),
    { campaign: "spring", source: "google", medium: "cpc" },
  );
  assert.deepEqual(
    extractUtm({
      page: {
        url:
          "https://a.example/?utm_source=fb&utm_medium=paid&utm_campaign=x&utm_content=v2&utm_id=42",
      },
    }),
    { source: "fb", medium: "paid", campaign: "x", content: "v2", id: "42" },
  );
});

Deno.test("channels follow the documented rules in order", () => {
  const page = (url: string, referrer = "") => ({ page: { url, referrer } });
  const channel = (ctx: Record<string, unknown>) =>
    classifyChannel(ctx, extractUtm(ctx));
  assert.equal(
    channel(page("https://a.example/?utm_source=facebook&utm_medium=cpc")),
    "paid_social",
  );
  assert.equal(
    channel(page("https://a.example/?utm_source=google&utm_medium=cpc")),
    "paid_search",
  );
  assert.equal(channel(page("https://a.example/?gclid=abc")), "paid_search");
  assert.equal(channel(page("https://a.example/?utm_medium=email")), "email");
  assert.equal(
    channel(page("https://a.example/?utm_medium=affiliate")),
    "affiliate",
  );
  assert.equal(
    channel(page("https://a.example/?utm_medium=display")),
    "display",
  );
  assert.equal(
    channel(page("https://a.example/", "https://www.linkedin.com/feed")),
    "organic_social",
  );
  assert.equal(
    channel(page("https://a.example/", "https://www.google.com/")),
    "organic_search",
  );
  assert.equal(
    channel(page("https://a.example/", "https://blog.other.example/post")),
    "referral",
  );
  assert.equal(
    channel(page("https://a.example/", "https://a.example/other")),
    "direct",
  );
  assert.equal(channel(page("https://a.example/")), "direct");
  assert.equal(
    classifyChannel({}, {}),
    null,
    "server-side calls carry no channel",
  );
});

Deno.test("user agents become browser, os and device type", () => {
  assert.deepEqual(
    parseUserAgent(
      "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    ),
    { browser: "Chrome", os: "Windows", deviceType: "desktop" },
  );
  assert.equal(
    parseUserAgent(
      "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    )
      .deviceType,
    "mobile",
  );
  assert.deepEqual(parseUserAgent(undefined), {
    browser: null,
    os: null,
    deviceType: null,
  });
});

Deno.test("identifiers: ids, traits, device and external ids", () => {
  assert.deepEqual(
    extractIdentifiers({
      type: "identify",
      userId: 7,
      anonymousId: "a",
      traits: { email: "x@y.z", phone: "+1 415" },
      context: {
        device: { id: "dev" },
        externalIds: [{ id: "cus_1", type: "Stripe Customer" }],
      },
    }),
    [
      { type: "user_id", value: "7" },
      { type: "anonymous_id", value: "a" },
      { type: "email", value: "x@y.z" },
      { type: "phone", value: "+1 415" },
      { type: "device_id", value: "dev" },
      { type: "external:stripe_customer", value: "cus_1" },
    ],
  );
  assert.deepEqual(
    extractIdentifiers({ type: "alias", userId: "u", previousId: "p" }).map((
      i,
    ) => i.type),
    ["user_id", "previous_id"],
  );
});

Deno.test("user traits: context.traits, overlaid by identify's own", () => {
  // RudderStack's browser SDK: identify carries its traits in context.traits only.
  const rudder = {
    type: "identify",
    userId: "u-1",
    context: { traits: { email: "R@Example.com", plan: "pro" } },
  };
  assert.deepEqual(userTraits(rudder), { email: "R@Example.com", plan: "pro" });
  assert.deepEqual(
    extractIdentifiers(rudder).map((i) => `${i.type}=${i.value}`),
    ["user_id=u-1", "email=R@Example.com"],
  );
  // Segment's: top-level traits win over context.traits; $unset only counts there.
  assert.deepEqual(
    userTraits({
      type: "identify",
      traits: { plan: "enterprise", $unset: ["trial"] },
      context: { traits: { plan: "pro", $unset: ["email"], name: "Ann" } },
    }),
    { plan: "enterprise", name: "Ann", $unset: ["trial"] },
  );
  // A group's traits are the group's, not the user's.
  assert.deepEqual(
    userTraits({ type: "group", traits: { name: "Acme" }, context: {} }),
    {},
  );
});

Deno.test("schemas name the field and the rule", () => {
  const bad = TrackMessage.safeParse({ type: "track", event: "" });
  assert.equal(bad.success, false);
  const fields = bad.error!.issues.map((i) => i.path.join("."));
  assert.ok(fields.includes("event"));
  assert.ok(fields.includes("userId"), "userId or anonymousId is required");
  assert.equal(
    TrackMessage.safeParse({ type: "track", event: "x", userId: 5 }).success,
    true,
  );
});

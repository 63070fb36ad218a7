// Turns a validated Segment message into the row private.ingest_batch stores:
// Segment's clock-skew correction, UTM and channel attribution, user agent
// parsing and the identifiers resolution will use. Pure functions, unit-tested.
import { UAParser } from "ua-parser-js";
import { remember } from "../_shared/bounded_map.ts";
import type { ValidMessage } from "./schemas.ts";

export type Utm = {
  source?: string;
  medium?: string;
  campaign?: string;
  term?: string;
  content?: string;
  id?: string;
};

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj =>
  v !== null && typeof v === "object" && !Array.isArray(v) ? v as Obj : {};
const str = (v: unknown): string | undefined =>
  typeof v === "string" && v.trim() !== ""
    ? v.trim()
    : typeof v === "number"
    ? String(v)
    : undefined;

/**
 * Segment's rule: with sentAt, the device clock's error is (sentAt - receivedAt),
 * so timestamp = receivedAt - (sentAt - originalTimestamp). Without a client
 * timestamp, the event happened when it was received.
 */
export function correctTimestamp(
  originalTimestamp: string | undefined,
  sentAt: string | undefined,
  receivedAt: Date,
): Date {
  if (!originalTimestamp) return receivedAt;
  const original = new Date(originalTimestamp);
  if (!sentAt) return original;
  const skew = new Date(sentAt).getTime() - receivedAt.getTime();
  return new Date(original.getTime() - skew);
}

/**
 * When a message happened. A timestamp set beside the originalTimestamp that
 * RudderStack's SDKs always stamp was set by the caller (a historical import,
 * say) and is kept as sent, as RudderStack and Segment keep a manually set
 * timestamp. Otherwise the client's time (originalTimestamp, or the timestamp
 * Segment's libraries stamp) is corrected for the device clock's skew.
 */
export function eventTime(
  m: { timestamp?: string; originalTimestamp?: string },
  sentAt: string | undefined,
  receivedAt: Date,
): Date {
  if (m.originalTimestamp && m.timestamp) return new Date(m.timestamp);
  return correctTimestamp(
    m.originalTimestamp ?? m.timestamp,
    sentAt,
    receivedAt,
  );
}

type ParsedUrl = { params: URLSearchParams; host: string };
// A message names its page URL up to four times (UTM, click ids, host) and
// sites have few pages: parsing each URL once halved enrichment's cost.
const URL_CACHE_SIZE = 2000;
const urlCache = new Map<string, ParsedUrl | null>();

function parseUrl(url: string | undefined): ParsedUrl | null {
  if (!url) return null;
  const cached = urlCache.get(url);
  if (cached !== undefined) return cached;
  let parsed: ParsedUrl | null = null;
  try {
    const u = new URL(url);
    parsed = {
      params: u.searchParams,
      host: u.hostname.toLowerCase().replace(/^www\./, ""),
    };
  } catch {
    parsed = null;
  }
  return remember(urlCache, url, parsed, URL_CACHE_SIZE);
}

function urlParams(url: string | undefined): URLSearchParams | null {
  return parseUrl(url)?.params ?? null;
}

function hostOf(url: string | undefined): string | null {
  return parseUrl(url)?.host ?? null;
}

/** UTM fields from context.campaign, else from the page URL's utm_* parameters. */
export function extractUtm(context: Obj): Utm {
  const campaign = obj(context.campaign);
  const params = urlParams(str(obj(context.page).url));
  const pick = (campaignKey: string, param: string) =>
    str(campaign[campaignKey]) ?? params?.get(param) ?? undefined;
  const utm: Utm = {
    source: pick("source", "utm_source"),
    medium: pick("medium", "utm_medium"),
    campaign: pick("name", "utm_campaign"),
    term: pick("term", "utm_term"),
    content: pick("content", "utm_content"),
    id: pick("id", "utm_id"),
  };
  return Object.fromEntries(Object.entries(utm).filter(([, v]) => v)) as Utm;
}

const SEARCH_ENGINES =
  /(^|\.)(google|bing|duckduckgo|yahoo|baidu|yandex|ecosia|search\.brave|startpage)\./;
const SOCIAL_NETWORKS =
  /(^|\.)(facebook|fb|instagram|linkedin|lnkd|twitter|t|x|tiktok|pinterest|reddit|youtube|snapchat|threads)\.(com|co|net|in)$/;
const SOCIAL_SOURCES =
  /^(facebook|fb|instagram|ig|linkedin|twitter|x|tiktok|pinterest|reddit|youtube|snapchat)$/;

/**
 * Channel classification, first matching rule wins:
 *  1. paid_social: paid medium (cpc, ppc, paid, paid_social, paidsocial) from a social source, or fbclid/ttclid with a paid medium
 *  2. paid_search: paid medium (cpc, ppc, paid, paidsearch, paid_search, sem), or a gclid/gbraid/wbraid/msclkid click id
 *  3. email: medium email/e-mail/newsletter, or source email/newsletter
 *  4. affiliate: medium affiliate(s)
 *  5. display: medium display/banner/cpm/programmatic
 *  6. organic_social: medium social (social-network, social-media, sm), or a social network referrer
 *  7. organic_search: medium organic, or a search engine referrer
 *  8. referral: a referrer on another host
 *  9. direct: none of the above
 * Messages with neither page nor campaign context (server-side calls) get no
 * channel: they say nothing about how the person arrived.
 */
export function classifyChannel(context: Obj, utm: Utm): string | null {
  const page = obj(context.page);
  const hasWebContext = Object.keys(page).length > 0 ||
    Object.keys(obj(context.campaign)).length > 0;
  if (!hasWebContext) return null;
  const medium = utm.medium?.toLowerCase() ?? "";
  const source = utm.source?.toLowerCase() ?? "";
  const params = urlParams(str(page.url));
  const referrer = hostOf(
    str(page.referrer) ?? str(obj(context.referrer).link),
  );
  const pageHost = hostOf(str(page.url));
  const paid =
    /^(cpc|ppc|paid|paidsearch|paid_search|sem|paid_social|paidsocial|social_paid)$/
      .test(medium);
  const socialSource = SOCIAL_SOURCES.test(source) ||
    (referrer !== null && SOCIAL_NETWORKS.test(referrer));

  if (paid && (socialSource || /social/.test(medium))) return "paid_social";
  if (paid && (params?.has("fbclid") || params?.has("ttclid"))) {
    return "paid_social";
  }
  if (
    paid || ["gclid", "gbraid", "wbraid", "msclkid"].some((p) => params?.has(p))
  ) return "paid_search";
  if (
    /^(email|e-mail|e_mail|newsletter)$/.test(medium) ||
    /^(email|newsletter)$/.test(source)
  ) return "email";
  if (/^affiliates?$/.test(medium)) return "affiliate";
  if (/^(display|banner|cpm|programmatic)$/.test(medium)) return "display";
  if (/^(social|social-network|social-media|social_media|sm)$/.test(medium)) {
    return "organic_social";
  }
  if (referrer && SOCIAL_NETWORKS.test(referrer)) return "organic_social";
  if (medium === "organic" || (referrer && SEARCH_ENGINES.test(referrer))) {
    return "organic_search";
  }
  if (referrer && referrer !== pageHost) return "referral";
  return "direct";
}

export type Device = {
  browser: string | null;
  os: string | null;
  deviceType: string | null;
};

// Parsing a user agent costs far more than the rest of a message's enrichment,
// and traffic repeats a few thousand strings: remember recent answers.
const UA_CACHE_SIZE = 2000;
const uaCache = new Map<string, Device>();

export function parseUserAgent(userAgent: string | undefined): Device {
  if (!userAgent) return { browser: null, os: null, deviceType: null };
  const cached = uaCache.get(userAgent);
  if (cached) return cached;
  const ua = new UAParser(userAgent).getResult();
  const device: Device = {
    browser: ua.browser.name ?? null,
    os: ua.os.name ?? null,
    // ua-parser-js leaves desktops without a device type.
    deviceType: ua.device.type ?? (ua.os.name ? "desktop" : null),
  };
  return remember(uaCache, userAgent, device, UA_CACHE_SIZE);
}

export type Identifier = { type: string; value: string };

/**
 * The user's traits a message carries: context.traits, which RudderStack's
 * SDKs send on every call (identify included, in place of top-level traits),
 * overlaid for identify by its own traits, as Segment's SDKs send them.
 * `$unset` counts only where Meridian documents it, in identify's traits.
 */
export function userTraits(m: Obj): Obj {
  const { $unset: _ignored, ...fromContext } = obj(obj(m.context).traits);
  return m.type === "identify"
    ? { ...fromContext, ...obj(m.traits) }
    : fromContext;
}

/**
 * Every identifier a message carries, raw; SQL normalizes and blocks. A caller
 * that has the message's userTraits already passes them.
 */
export function extractIdentifiers(
  m: Obj,
  traits: Obj = userTraits(m),
): Identifier[] {
  const ids: Identifier[] = [];
  const add = (type: string, v: unknown) => {
    const value = str(v);
    if (value) ids.push({ type, value });
  };
  const context = obj(m.context);
  add("user_id", m.userId);
  add("anonymous_id", m.anonymousId);
  if (m.type === "alias") add("previous_id", m.previousId);
  add("email", traits.email);
  add("phone", traits.phone);
  add("device_id", obj(context.device).id);
  const externals = Array.isArray(context.externalIds)
    ? context.externalIds
    : [];
  for (const e of externals.slice(0, 20)) {
    const system = str(obj(e).type)?.toLowerCase().replace(/[^a-z0-9_]/g, "_")
      .slice(0, 40);
    if (system) add(`external:${system}`, obj(e).id);
  }
  return ids;
}

const num = (v: unknown): number | null => {
  const n = typeof v === "string" ? Number(v) : v;
  return typeof n === "number" && Number.isFinite(n) ? n : null;
};

/**
 * The row handed to private.ingest_batch. Absent values are left out rather
 * than sent as null (jsonb_to_recordset reads a missing key as null): a third
 * of a batch's JSON was null fields and their names, which Postgres parsed
 * into jsonb and this function serialized, on every request.
 */
export function toStoredMessage(
  message: ValidMessage & Obj,
  receivedAt: Date,
  envelope: { sentAt?: string; requestIp: string | null },
) {
  const context = obj(message.context);
  const properties = obj(message.properties);
  const sentAt = message.sentAt ?? envelope.sentAt;
  const originalTimestamp = message.originalTimestamp ?? message.timestamp;
  const timestamp = eventTime(message, sentAt, receivedAt);
  const utm = extractUtm(context);
  const device = parseUserAgent(str(context.userAgent));
  const revenue = num(properties.revenue);
  const ip = str(context.ip) ?? envelope.requestIp ?? undefined;
  const traits = userTraits(message);
  return {
    message_id: message.messageId ?? crypto.randomUUID(),
    type: message.type,
    event: message.type === "track"
      ? str(message.event)
      : message.type === "page" || message.type === "screen"
      ? str(message.name)
      : undefined,
    user_id: str(message.userId),
    anonymous_id: str(message.anonymousId),
    group_id: str(message.groupId),
    timestamp: timestamp.toISOString(),
    original_timestamp: originalTimestamp
      ? new Date(originalTimestamp).toISOString()
      : undefined,
    sent_at: sentAt ? new Date(sentAt).toISOString() : undefined,
    received_at: receivedAt.toISOString(),
    properties,
    traits: message.type === "identify"
      ? traits
      : message.type === "group"
      ? obj(message.traits)
      : undefined,
    context: ip && !context.ip ? { ...context, ip } : context,
    integrations: message.integrations ?? undefined,
    channel: classifyChannel(context, utm) ?? undefined,
    utm_source: utm.source,
    utm_medium: utm.medium,
    utm_campaign: utm.campaign,
    utm_term: utm.term,
    utm_content: utm.content,
    campaign_id: utm.id,
    revenue: revenue ?? undefined,
    value: num(properties.value) ?? undefined,
    currency: str(properties.currency)?.toUpperCase().slice(0, 3) ??
      (revenue !== null ? "USD" : undefined),
    browser: device.browser ?? undefined,
    os: device.os ?? undefined,
    device_type: device.deviceType ?? undefined,
    ip,
    identifiers: extractIdentifiers(message, traits),
  };
}

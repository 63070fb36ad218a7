// Admission control every function runs before any work: the caller's rate
// limit (policy from Postgres, decided in Postgres or, when configured, by
// @upstash/ratelimit in Redis) and, for metered calls, the plan quota (always
// Postgres: quotas must be durable).
//
// Denials become 429 with Retry-After and the IETF draft fields
// (draft-ietf-httpapi-ratelimit-headers: `RateLimit-Policy: "name";q=..;w=..`
// and `RateLimit: "name";r=..;t=..`); admitted responses carry them too.
import { Ratelimit } from "@upstash/ratelimit";
import { Redis } from "@upstash/redis";
import type postgres from "postgres";
import { type Principal, UNPARSEABLE_CLIENT } from "./auth.ts";
import { remember } from "./bounded_map.ts";
import { HttpError } from "./errors.ts";

export type Meter = "api_calls" | "events" | "webhook_deliveries";

export type Decision = {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Epoch ms at which the current window ends. */
  resetAt: number;
  retryAfterMs: number;
  windowMs: number;
  /** Names the policy in the headers: scope and endpoint, e.g. "org-ingest". */
  policy: string;
  decidedBy: "postgres" | "upstash";
};

type Policy = {
  scope: string;
  request_limit: number;
  window_ms: number;
  bucket: string;
};

/** The principal as SQL's rate-limit functions read it. */
export function principalForSql(p: Principal): Record<string, string | null> {
  return {
    kind: p.kind,
    org_id: p.orgId,
    key_id: p.kind === "api_key" ? p.actorId : null,
    user_id: p.kind === "user" ? p.actorId : null,
    // An address that could not be read is one shared bucket: limited,
    // never unlimited.
    ip: p.context.ip ?? UNPARSEABLE_CLIENT,
  };
}

// CONFIGURATION -------------------------------------------------------------------
const enabled = Deno.env.get("MERIDIAN_RATE_LIMITS") !== "off";
if (!enabled) {
  console.warn(
    "MERIDIAN_RATE_LIMITS=off: rate limits are NOT enforced by this process",
  );
}
const upstashUrl = Deno.env.get("UPSTASH_REDIS_REST_URL");
const upstashToken = Deno.env.get("UPSTASH_REDIS_REST_TOKEN");
const UPSTASH_TIMEOUT_MS = Number(
  Deno.env.get("MERIDIAN_UPSTASH_TIMEOUT_MS") ?? 500,
);
// How long a policy read from Postgres serves the Upstash path.
const POLICY_TTL_MS = 30_000;

const redis = upstashUrl && upstashToken
  ? new Redis({
    url: upstashUrl,
    token: upstashToken,
    // A dead Redis must not hold requests: fail to the Postgres fallback.
    retry: false,
  })
  : null;

export function limiterBackend(): "postgres" | "upstash" | "off" {
  if (!enabled) return "off";
  return redis ? "upstash" : "postgres";
}

// HEADERS -------------------------------------------------------------------------
const seconds = (ms: number) => Math.max(0, Math.ceil(ms / 1000));

export function rateLimitHeaders(d: Decision | null): Record<string, string> {
  if (!d) return {};
  const resetIn = d.allowed ? d.resetAt - Date.now() : d.retryAfterMs;
  const headers: Record<string, string> = {
    "RateLimit-Policy": `"${d.policy}";q=${d.limit};w=${seconds(d.windowMs)}`,
    "RateLimit": `"${d.policy}";r=${d.remaining};t=${seconds(resetIn)}`,
  };
  if (!d.allowed) {
    headers["Retry-After"] = String(Math.max(1, seconds(d.retryAfterMs)));
    // Segment's own field, in seconds: analytics.js waits that long before it
    // sends a rate-limited batch again (its default otherwise).
    headers["X-RateLimit-Reset"] = headers["Retry-After"];
  }
  return headers;
}

export function rateLimitedError(d: Decision): HttpError {
  return new HttpError(
    429,
    "rate_limited",
    `Rate limit of ${d.limit} requests per ${d.windowMs / 1000} s exceeded`,
    [{
      field: "policy",
      rule: `${d.policy}:${d.limit}/${d.windowMs}ms`,
      message: `retry after ${seconds(d.retryAfterMs)} s`,
    }],
    rateLimitHeaders(d),
  );
}

// POSTGRES ------------------------------------------------------------------------
/** A decision as private.admit_request (and private.admit_write_key) return it. */
export type AdmitRow = {
  allowed: boolean;
  remaining: number | null;
  reset_at: Date | null;
  retry_after_ms: number | null;
  request_limit: number | null;
  window_ms: number | null;
  scope: string | null;
};

/** The decision in a row from SQL; null when no policy applies. */
export function decisionFromRow(
  row: AdmitRow,
  endpoint: string,
): Decision | null {
  if (row.request_limit === null) return null;
  return {
    allowed: row.allowed,
    limit: row.request_limit,
    remaining: row.remaining ?? 0,
    resetAt: row.reset_at!.getTime(),
    retryAfterMs: row.retry_after_ms ?? 0,
    windowMs: row.window_ms!,
    policy: `${row.scope}-${endpoint}`,
    decidedBy: "postgres",
  };
}

async function admitInPostgres(
  sql: postgres.Sql,
  principal: Principal,
  endpoint: string,
  cost: number,
  meter: Meter | null,
): Promise<Decision | null> {
  const [row] = await sql<AdmitRow[]>`
    select * from private.admit_request(${
    sql.json(principalForSql(principal))
  }, ${endpoint}, ${cost}, ${meter}::public.usage_metric)`;
  return decisionFromRow(row, endpoint);
}

// UPSTASH -------------------------------------------------------------------------
const policyCache = new Map<string, { policy: Policy | null; until: number }>();
const limiters = new Map<string, Ratelimit>();
const ephemeralCache = new Map<string, number>();
/** Per bucket, what Redis last reported used in which window: the fallback's floor. */
const lastSeen = new Map<string, { window: number; used: number }>();
const carried = new Map<string, true>();
// Once Postgres has decided for a bucket, it goes on deciding until the end of
// the next window: Redis never learns what Postgres admitted, so handing the
// bucket back sooner would admit the same capacity twice.
const postgresUntil = new Map<string, number>();
// After a failure, Upstash is left alone for a while (no request pays the
// timeout again meanwhile), then tried again.
const UPSTASH_RETRY_MS = 5_000;
let upstashResumeAt = 0;
const BUCKET_MEMORY_MAX = 10_000;

async function policyFor(
  sql: postgres.Sql,
  principal: Principal,
  endpoint: string,
): Promise<Policy | null> {
  const who = principalForSql(principal);
  const cacheKey = `${JSON.stringify(who)}|${endpoint}`;
  const hit = policyCache.get(cacheKey);
  if (hit && hit.until > Date.now()) return hit.policy;
  const [row] = await sql<Policy[]>`
    select scope::text, request_limit, window_ms, bucket
    from private.rate_limit_policy_for(${sql.json(who)}, ${endpoint})`;
  remember(policyCache, cacheKey, {
    policy: row ?? null,
    until: Date.now() + POLICY_TTL_MS,
  }, BUCKET_MEMORY_MAX);
  return row ?? null;
}

function limiterFor(limit: number, windowMs: number): Ratelimit {
  const id = `${limit}/${windowMs}`;
  let limiter = limiters.get(id);
  if (!limiter) {
    limiter = new Ratelimit({
      redis: redis!,
      limiter: Ratelimit.slidingWindow(limit, `${windowMs} ms`),
      ephemeralCache,
      timeout: UPSTASH_TIMEOUT_MS,
      prefix: "meridian:rl",
      analytics: false,
    });
    limiters.set(id, limiter);
  }
  return limiter;
}

async function decideInUpstash(
  policy: Policy,
  cost: number,
): Promise<Omit<Decision, "policy"> | null> {
  const now = Date.now();
  if (now < upstashResumeAt || (postgresUntil.get(policy.bucket) ?? 0) > now) {
    return null;
  }
  const limiter = limiterFor(policy.request_limit, policy.window_ms);
  const tripped = (why: string, err?: unknown) => {
    upstashResumeAt = Date.now() + UPSTASH_RETRY_MS;
    console.error(
      `rate limit: Upstash failed (${why}); deciding in Postgres, retrying Upstash in ${
        UPSTASH_RETRY_MS / 1000
      } s`,
      ...(err ? [err] : []),
    );
    return null;
  };
  try {
    const res = await limiter.limit(policy.bucket, { rate: cost });
    if (res.reason === "timeout") {
      return tripped(`no answer within ${UPSTASH_TIMEOUT_MS} ms`);
    }
    const remaining = Math.max(0, res.remaining);
    remember(lastSeen, policy.bucket, {
      window: Math.floor(Date.now() / policy.window_ms),
      used: policy.request_limit - remaining,
    }, BUCKET_MEMORY_MAX);
    return {
      allowed: res.success,
      limit: policy.request_limit,
      remaining,
      resetAt: res.reset,
      retryAfterMs: res.success ? 0 : Math.max(0, res.reset - Date.now()),
      windowMs: policy.window_ms,
      decidedBy: "upstash",
    };
  } catch (err) {
    return tripped("error", err);
  }
}

type CheckRow = {
  allowed: boolean;
  remaining: number;
  reset_at: Date;
  retry_after_ms: number;
};

/** Postgres decides a bucket Redis was deciding, starting from what Redis had admitted. */
async function fallBackToPostgres(
  sql: postgres.Sql,
  policy: Policy,
  cost: number,
): Promise<Omit<Decision, "policy">> {
  const window = Math.floor(Date.now() / policy.window_ms);
  remember(
    postgresUntil,
    policy.bucket,
    (window + 2) * policy.window_ms,
    BUCKET_MEMORY_MAX,
  );
  const seen = lastSeen.get(policy.bucket);
  const carryKey = `${policy.bucket}@${window}`;
  if (seen && seen.window === window && !carried.has(carryKey)) {
    await sql`select private.rate_limit_carry_over(${policy.bucket}, ${policy.window_ms}, ${seen.used})`;
    remember(carried, carryKey, true, BUCKET_MEMORY_MAX);
  }
  const [row] = await sql<CheckRow[]>`
    select * from public.check_rate_limit(${policy.bucket}, ${policy.request_limit}, ${policy.window_ms}, ${
    Math.min(cost, policy.request_limit)
  })`;
  return {
    allowed: row.allowed,
    limit: policy.request_limit,
    remaining: row.remaining,
    resetAt: row.reset_at.getTime(),
    retryAfterMs: row.retry_after_ms,
    windowMs: policy.window_ms,
    decidedBy: "postgres",
  };
}

// ENTRY POINT ---------------------------------------------------------------------
export type AdmitOptions = {
  /** Units of the limit this request uses (default 1). */
  cost?: number;
  /** Quota metric this request counts against, e.g. api_calls for API-key calls. */
  meter?: Meter | null;
};

/**
 * Admits the request or throws 429 (rate_limited, or quota_exceeded from SQL's
 * MQ001). Returns the decision for the RateLimit headers, or null when no
 * policy applies (or limits are off).
 */
export async function admit(
  sql: postgres.Sql,
  principal: Principal,
  endpoint: string,
  options: AdmitOptions = {},
): Promise<Decision | null> {
  if (!enabled) return null;
  const cost = Math.max(1, Math.floor(options.cost ?? 1));
  const meter = principal.orgId ? options.meter ?? null : null;

  let decision: Decision | null;
  if (!redis) {
    decision = await admitInPostgres(sql, principal, endpoint, cost, meter);
  } else {
    const policy = await policyFor(sql, principal, endpoint);
    if (policy) {
      const decided = await decideInUpstash(policy, cost) ??
        await fallBackToPostgres(sql, policy, cost);
      decision = { ...decided, policy: `${policy.scope}-${endpoint}` };
    } else {
      decision = null;
    }
    if ((decision?.allowed ?? true) && meter) {
      await sql`select private.meter_usage(${principal.orgId}::uuid, ${meter}::public.usage_metric, 1)`;
    }
  }
  if (decision && !decision.allowed) throw rateLimitedError(decision);
  return decision;
}

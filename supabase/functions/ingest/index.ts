// Segment-compatible ingestion: POST /functions/v1/ingest/v1/{identify,track,
// page,screen,group,alias,batch,import}, and analytics.js's short forms, plus
// the source settings Segment's SDKs fetch first (source_settings.ts). Point a
// Segment or RudderStack SDK's host at /functions/v1/ingest and use a write
// key.
//
// Stages: authenticate the write key and admit (rate limit per organization,
// or per key when overridden; one round trip, see write_key.ts) -> read the
// body within its size and time limits -> validate
// each message (zod) -> enrich (skew, UTM, channel, user agent) -> one SQL
// call (private.ingest_batch_metered: the events quota counts stored events)
// -> respond. 200 means committed in Postgres. Database work runs in a slot of
// the instance's bound and is shed (503) past it; reading a body holds no
// slot, so slow clients cannot take the capacity that stores events.
//
// Batches: valid messages are stored and invalid ones reported, so one bad event
// does not cost the others: 200 {"success": true, "accepted", "duplicates",
// "rejected": [{index, messageId, details}]}; when no message is valid, 400 with
// the details of each.
import { clientIp } from "../_shared/auth.ts";
import { sql } from "../_shared/db.ts";
import { HttpError, toErrorResponse, zodDetails } from "../_shared/errors.ts";
import {
  ConcurrencyLimit,
  limitFromEnv,
} from "../_shared/concurrency_limit.ts";
import { jsonResponse, preflight, withHeaders } from "../_shared/http.ts";
import { mayHoldUnstorableText, toStorableJson } from "../_shared/pg_text.ts";
import { rateLimitHeaders } from "../_shared/rate_limit.ts";
import { readLimitedText } from "../_shared/body.ts";
import {
  SETTINGS_ROUTE,
  settingsResponse,
  SOURCE_CONFIG_ROUTE,
} from "./source_settings.ts";
import { admitWriteKey, type WriteKey, writeKeyFrom } from "./write_key.ts";
import { toStoredMessage } from "./enrichment.ts";
import { BatchEnvelope } from "./schemas.ts";
import {
  MAX_MESSAGE_BYTES,
  type Rejected,
  validateMessage,
} from "./validate.ts";

const MAX_BATCH_BYTES = 500 * 1024;
// Accepted timestamps (after skew correction): events retention back, a day ahead.
const MAX_AGE_MS = 2 * 365 * 86_400_000;
const MAX_AHEAD_MS = 86_400_000;
const ROUTE =
  /^\/ingest\/v1\/(identify|track|page|screen|group|alias|batch|import|[tpisgab])\/?$/;
// Segment's browser SDK (analytics.js) posts to the first letter of the call
// (/v1/t, /v1/p, ...) and, with its batching strategy, to /v1/b.
const SHORT_PATHS: Record<string, string> = {
  t: "track",
  p: "page",
  i: "identify",
  s: "screen",
  g: "group",
  a: "alias",
  b: "batch",
};
// Every statement of this function is bounded: overload shows as a timeout
// (503, retry) rather than a request that hangs.
const db = () => sql({ statementTimeoutMs: 15_000 });
// Requests this instance works on at once; past it, 503 at once (see
// concurrency_limit.ts). At the ~80 batches of 100 a second one instance
// stores on two cores, 64 in flight wait under a second for a connection.
// A slot is taken only once the body is in: a slow body holds no slot that
// database work needs.
const inFlight = new ConcurrencyLimit(
  limitFromEnv("MERIDIAN_INGEST_MAX_IN_FLIGHT", 64),
);
// Bodies read before any credential is known (a write key sent in the body, as
// some SDKs do) have a smaller bound of their own, so that unauthenticated
// clients can never take the capacity of authenticated ones. Each read is
// bounded in time too (_shared/body.ts).
const unauthenticatedReads = new ConcurrencyLimit(
  limitFromEnv("MERIDIAN_INGEST_MAX_UNAUTHENTICATED_READS", 16),
);

/**
 * Runs database work in a slot of the instance's bound, or refuses at once
 * (503, retry) when none is free: load is shed before the work, never queued.
 */
async function withSlot<T>(work: () => Promise<T>): Promise<T> {
  const release = inFlight.tryAcquire();
  if (!release) throw overloaded();
  try {
    return await work();
  } finally {
    release();
  }
}

function overloaded(): HttpError {
  return new HttpError(
    503,
    "overloaded",
    "Ingestion is at capacity; retry shortly",
    [],
    { "Retry-After": "1" },
  );
}

type Obj = Record<string, unknown>;

/** One statement, so one transaction: the batch is stored whole or not at all. */
async function store(orgId: string, sourceId: string, messages: unknown[]) {
  const [row] = await db()`
    select private.ingest_batch_metered(${orgId}::uuid, ${sourceId}::uuid, ${
    db().json(messages as never)
  }) as result`;
  return row.result as {
    received: number;
    accepted: number;
    duplicates: number;
  };
}

Deno.serve(async (req) => {
  // Browser SDKs send headers of their own (see preflight).
  const cors = preflight(req, { anyHeader: true });
  if (cors) return cors;
  // Set once the request is admitted, so every later answer reports the limit.
  let limitHeaders: Record<string, string> = {};
  try {
    const url = new URL(req.url);
    const settings = SETTINGS_ROUTE.test(url.pathname);
    const sourceConfig = SOURCE_CONFIG_ROUTE.test(url.pathname);
    const route = settings || sourceConfig ? null : url.pathname.match(ROUTE);
    if (!settings && !sourceConfig && !route) {
      throw new HttpError(
        404,
        "not_found",
        "Use /v1/{identify,track,page,screen,group,alias,batch,import} (or analytics.js's /v1/{t,p,i,s,g,a,b}); GET /v1/projects/{writeKey}/settings or /sourceConfig/",
      );
    }
    const method = settings || sourceConfig ? "GET" : "POST";
    if (req.method !== method) {
      throw new HttpError(
        405,
        "method_not_allowed",
        `this endpoint answers ${method} only`,
      );
    }

    const requestIp = clientIp(req.headers.get("x-forwarded-for"));

    // SOURCE SETTINGS, as Segment's CDN and RudderStack's control plane serve them.
    if (settings || sourceConfig) {
      return await withSlot(() => settingsResponse(req, db(), requestIp));
    }

    const kind = SHORT_PATHS[route![1]] ?? route![1];
    const isBatch = kind === "batch" || kind === "import";

    // AUTHENTICATE FIRST when the key is in the header (SDKs send it there), so
    // a bad key costs no body read; a key in the body is checked after parsing.
    const admitKey = async (writeKey: string) => {
      const admitted = await withSlot(() =>
        admitWriteKey(db(), req, writeKey, requestIp, "ingest")
      );
      limitHeaders = rateLimitHeaders(admitted.decision);
      return admitted.key;
    };
    const headerKey = writeKeyFrom(req, {});
    let key: WriteKey | null = headerKey ? await admitKey(headerKey) : null;

    // BODY, within its size and time limits; without a credential yet, in
    // the unauthenticated readers' bound.
    let releaseRead: (() => void) | null = null;
    if (!key) {
      releaseRead = unauthenticatedReads.tryAcquire();
      if (!releaseRead) {
        await req.body?.cancel();
        throw overloaded();
      }
    }
    let text: string;
    try {
      text = await readLimitedText(
        req,
        isBatch ? MAX_BATCH_BYTES : MAX_MESSAGE_BYTES,
      );
    } finally {
      releaseRead?.();
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new HttpError(
        400,
        "invalid_json",
        "The request body is not valid JSON",
        [
          { field: "(body)", rule: "json", message: "unparseable JSON" },
        ],
      );
    }
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      throw new HttpError(
        400,
        "invalid_request",
        "The request body must be a JSON object",
        [
          { field: "(body)", rule: "object", message: typeof body },
        ],
      );
    }

    if (!key) {
      const bodyKey = writeKeyFrom(req, body as Obj);
      if (!bodyKey) {
        throw new HttpError(
          401,
          "unauthorized",
          "A write key is required (HTTP Basic username or writeKey)",
        );
      }
      key = await admitKey(bodyKey);
    }

    // VALIDATE AND ENRICH
    const receivedAt = new Date();
    let rawMessages: unknown[];
    let envelope: { context?: Obj; integrations?: Obj; sentAt?: string } = {};
    if (isBatch) {
      const parsed = BatchEnvelope.safeParse(body);
      if (!parsed.success) {
        throw new HttpError(
          400,
          "invalid_request",
          "The batch is not valid",
          zodDetails(parsed.error),
        );
      }
      rawMessages = parsed.data.batch;
      envelope = parsed.data;
    } else {
      rawMessages = [{ ...(body as Obj), type: kind }];
    }
    const rejected: Rejected[] = [];
    const stored: ReturnType<typeof toStoredMessage>[] = [];
    // NUL and unpaired surrogates become U+FFFD (see pg_text.ts): Postgres
    // would refuse them, and with them every message of the batch.
    const repairText = mayHoldUnstorableText(text);
    rawMessages.forEach((raw, index) => {
      const { message, rejected: bad } = validateMessage(raw, index, envelope, {
        measured: !isBatch,
      });
      if (bad) return rejected.push(bad);
      const enriched = toStoredMessage(message as never, receivedAt, {
        sentAt: envelope.sentAt,
        requestIp,
      });
      const row = repairText ? toStorableJson(enriched) : enriched;
      const at = Date.parse(row.timestamp);
      if (
        at < receivedAt.getTime() - MAX_AGE_MS ||
        at > receivedAt.getTime() + MAX_AHEAD_MS
      ) {
        return rejected.push({
          index,
          messageId: row.message_id,
          details: [{
            field: "timestamp",
            rule: "within:-2y..+1d",
            message: `${row.timestamp} is outside the accepted range`,
          }],
        });
      }
      stored.push(row);
    });

    if (stored.length === 0) {
      const details = rejected.flatMap((r) =>
        r.details.map((d) => ({
          ...d,
          field: isBatch ? `batch.${r.index}.${d.field}` : d.field,
        }))
      );
      throw new HttpError(
        400,
        "invalid_request",
        "No message in the request is valid",
        details,
      );
    }

    // STORE (one transaction) AND ANSWER
    const result = await withSlot(() => store(key.orgId, key.sourceId, stored));
    return jsonResponse(
      {
        success: true,
        ...(isBatch || rejected.length
          ? {
            accepted: result.accepted,
            duplicates: result.duplicates,
            rejected,
          }
          : {}),
      },
      200,
      limitHeaders,
    );
  } catch (err) {
    return withHeaders(toErrorResponse(err), limitHeaders);
  }
});

// The one place that turns failures into Meridian's error shape:
//   {"error": {"code": "...", "message": "...", "details": [...]}}
// A validation failure names the field and the rule; a Postgres error maps by
// SQLSTATE; anything unexpected is a 500 without internals (logged server-side).
import { z } from "zod";
import { jsonResponse } from "./http.ts";

export type ErrorDetail = { field?: string; rule?: string; message: string };

export type ErrorBody = {
  error: { code: string; message: string; details: ErrorDetail[] };
};

/** A failure the handler chose, with its HTTP status and stable code. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: ErrorDetail[] = [],
    readonly headers: HeadersInit = {},
  ) {
    super(message);
    this.name = "HttpError";
  }
}

export function errorResponse(
  status: number,
  code: string,
  message: string,
  details: ErrorDetail[] = [],
  headers: HeadersInit = {},
): Response {
  const body: ErrorBody = { error: { code, message, details } };
  return jsonResponse(body, status, headers);
}

export function zodDetails(error: z.ZodError): ErrorDetail[] {
  return error.issues.map((issue) => ({
    field: issue.path.map(String).join(".") || "(body)",
    // "format:datetime" says more than zod's "invalid_format".
    rule: issue.code === "invalid_format"
      ? `format:${issue.format}`
      : issue.code,
    message: issue.message,
  }));
}

type SqlStateRule = { status: number; code: string };

// By SQLSTATE (exact) and then by class (first two characters).
const SQLSTATE_RULES: Record<string, SqlStateRule> = {
  "23505": { status: 409, code: "conflict" },
  "23503": { status: 409, code: "reference_violation" },
  "23502": { status: 400, code: "invalid_input" },
  "23514": { status: 400, code: "invalid_input" },
  "22023": { status: 400, code: "invalid_input" },
  "22P02": { status: 400, code: "invalid_input" },
  "42501": { status: 403, code: "forbidden" },
  "28000": { status: 401, code: "unauthorized" },
  "28P01": { status: 401, code: "unauthorized" },
  "P0002": { status: 404, code: "not_found" },
  // PostgREST's custom statuses (PTxyz answers HTTP xyz): what SQL raises for
  // "not found", since PostgREST answers P0002 with a 500.
  "PT404": { status: 404, code: "not_found" },
  "PT409": { status: 409, code: "conflict" },
  "PT429": { status: 429, code: "too_many_requests" },
  "40001": { status: 503, code: "retry_later" },
  "40P01": { status: 503, code: "retry_later" },
  "57014": { status: 503, code: "timeout" },
  "53300": { status: 503, code: "database_busy" },
  "57P01": { status: 503, code: "database_unavailable" },
  "57P03": { status: 503, code: "database_unavailable" },
};
const SQLSTATE_CLASS_RULES: Record<string, SqlStateRule> = {
  "22": { status: 400, code: "invalid_input" },
  "23": { status: 409, code: "constraint_violation" },
  "08": { status: 503, code: "database_unavailable" },
  "53": { status: 503, code: "database_busy" },
};

type PgLikeError = {
  code: string;
  message?: string;
  detail?: string;
  details?: string;
  hint?: string;
};

function isPgError(err: unknown): err is PgLikeError {
  return typeof err === "object" && err !== null &&
    typeof (err as { code?: unknown }).code === "string" &&
    /^[0-9A-Z]{5}$/.test((err as { code: string }).code);
}

// postgres.js reports connection failures with these codes, not a SQLSTATE.
const CONNECTION_ERRORS = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
]);

// Meridian's own SQLSTATE for a hard plan quota used up (private.meter_usage);
// its detail is "<metric>:<day|month>".
const QUOTA_EXCEEDED = "MQ001";

/** Seconds until the UTC day or month that a quota counts ends. */
export function secondsUntilPeriodEnd(
  period: string,
  now = new Date(),
): number {
  const end = period === "day"
    ? Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1)
    : Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
  return Math.max(1, Math.ceil((end - now.getTime()) / 1000));
}

function quotaExceededResponse(err: PgLikeError): Response {
  const [metric, period] = (err.detail ?? err.details ?? "").split(":");
  return errorResponse(
    429,
    "quota_exceeded",
    err.message ?? "quota exceeded",
    [{
      field: metric || "quota",
      rule: `quota:${period || "unknown"}`,
      message: err.hint ?? "Upgrade the plan or wait for the next period.",
    }],
    { "Retry-After": String(secondsUntilPeriodEnd(period)) },
  );
}

/** Maps any thrown value to the error response a client should see. */
export function toErrorResponse(err: unknown): Response {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "string" && CONNECTION_ERRORS.has(code)) {
    console.error("database unavailable", err);
    return errorResponse(
      503,
      "database_unavailable",
      "The database is unavailable; retry shortly",
      [],
      {
        "Retry-After": "1",
      },
    );
  }
  if (err instanceof HttpError) {
    return errorResponse(
      err.status,
      err.code,
      err.message,
      err.details,
      err.headers,
    );
  }
  if (err instanceof z.ZodError) {
    return errorResponse(
      400,
      "invalid_request",
      "The request is not valid",
      zodDetails(err),
    );
  }
  if (isPgError(err) && err.code === QUOTA_EXCEEDED) {
    return quotaExceededResponse(err);
  }
  if (isPgError(err)) {
    const rule = SQLSTATE_RULES[err.code] ??
      SQLSTATE_CLASS_RULES[err.code.slice(0, 2)];
    if (rule) {
      // Messages of these SQLSTATEs are written for clients (our RAISEs and
      // constraint names); the `detail` carries the field when we know it.
      const detail = err.detail ?? err.details;
      return errorResponse(
        rule.status,
        rule.code,
        err.message ?? rule.code,
        detail ? [{ message: detail }] : [],
        rule.status === 503 ? { "Retry-After": "1" } : {},
      );
    }
  }
  console.error("unhandled error", err);
  return errorResponse(500, "internal_error", "Internal error");
}

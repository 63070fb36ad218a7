// GET /functions/v1/health: liveness of the API and its database, for load
// balancers and uptime checks. Public (verify_jwt = false): it reveals nothing
// but whether we are up and which schema version runs.
import { jsonResponse, preflight } from "../_shared/http.ts";
import { anonymousPrincipal } from "../_shared/auth.ts";
import {
  errorResponse,
  HttpError,
  toErrorResponse,
} from "../_shared/errors.ts";
import { sql } from "../_shared/db.ts";
import { admit, rateLimitHeaders } from "../_shared/rate_limit.ts";
import { MERIDIAN_VERSION } from "../_shared/version.ts";

const DB_CHECK_TIMEOUT_MS = 3000;

type HealthReport = {
  status: "ok" | "degraded";
  version: string;
  db: { ok: boolean; latency_ms: number | null; error?: string };
  migrations: { applied: number; latest: string | null } | null;
};

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${ms} ms`)),
      ms,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function checkHealth(): Promise<HealthReport> {
  const started = performance.now();
  try {
    const [row] = await withTimeout(
      sql()<{ applied: number; latest: string | null }[]>`
        select count(*)::int as applied, max(version) as latest
        from supabase_migrations.schema_migrations`,
      DB_CHECK_TIMEOUT_MS,
    );
    return {
      status: "ok",
      version: MERIDIAN_VERSION,
      db: { ok: true, latency_ms: Math.round(performance.now() - started) },
      migrations: { applied: row.applied, latest: row.latest },
    };
  } catch (err) {
    console.error("health: database check failed", err);
    return {
      status: "degraded",
      version: MERIDIAN_VERSION,
      db: {
        ok: false,
        latency_ms: null,
        error: "database unreachable",
      },
      migrations: null,
    };
  }
}

Deno.serve(async (req) => {
  const cors = preflight(req);
  if (cors) return cors;
  if (req.method !== "GET" && req.method !== "HEAD") {
    return errorResponse(
      405,
      "method_not_allowed",
      "health answers GET and HEAD only",
      [{ field: "method", rule: "one_of:GET,HEAD", message: req.method }],
      { Allow: "GET, HEAD, OPTIONS" },
    );
  }
  // Limited per client IP like every public endpoint. The limiter lives in
  // Postgres: when it cannot be reached, health still answers (and says the
  // database is down), which is the one answer it exists to give.
  let limitHeaders: Record<string, string> = {};
  try {
    limitHeaders = rateLimitHeaders(
      await admit(sql(), anonymousPrincipal(req), "health"),
    );
  } catch (err) {
    if (err instanceof HttpError) return toErrorResponse(err);
    console.error("health: rate limiter unavailable, answering anyway", err);
  }
  const report = await checkHealth();
  return jsonResponse(report, report.status === "ok" ? 200 : 503, limitHeaders);
});

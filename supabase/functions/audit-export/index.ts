// GET /functions/v1/audit-export?org_id=&from=&to=&format=csv|jsonl[&action=&actor=
//   &resource_type=&risk=&q=&limit=]
// Streams an organization's audit trail for auditors (audit:read), as CSV (written
// by Postgres's COPY) or JSON Lines, oldest first, at most `limit` rows (hard cap
// 100,000; default 10,000). Accepts a user session or an API key, so
// verify_jwt = false and authentication happens here.
import type postgres from "postgres";
import { z } from "zod";
import {
  authenticate,
  requirePermission,
  withPrincipal,
} from "../_shared/auth.ts";
import { recordAuditEvent, recordDenial } from "../_shared/audit.ts";
import { sql } from "../_shared/db.ts";
import { HttpError, toErrorResponse } from "../_shared/errors.ts";
import { Instant } from "../_shared/instant.ts";
import { corsHeaders, preflight, withHeaders } from "../_shared/http.ts";
import { pacedStream } from "../_shared/paced_stream.ts";
import { admit, rateLimitHeaders } from "../_shared/rate_limit.ts";

const MAX_ROWS = 100_000;

const ExportQuery = z.object({
  org_id: z.guid(),
  from: Instant,
  to: Instant,
  format: z.enum(["csv", "jsonl"]).default("jsonl"),
  action: z.string().min(1).max(200).optional(),
  actor: z.string().min(1).max(320).optional(),
  resource_type: z.string().min(1).max(100).optional(),
  risk: z.enum(["low", "medium", "high", "critical"]).optional(),
  q: z.string().min(1).max(500).optional(),
  limit: z.coerce.number().int().min(1).max(MAX_ROWS).default(10_000),
}).refine((v) => Date.parse(v.from) < Date.parse(v.to), {
  path: ["from"],
  message: "from must be before to",
});
type ExportQuery = z.infer<typeof ExportQuery>;

function exportCall(q: ExportQuery) {
  return sql()`
    select format(
      'select * from public.audit_log_export(p_org_id => %L::uuid, p_from => %L::timestamptz,'
      ' p_to => %L::timestamptz, p_actor => %L, p_action => %L, p_resource_type => %L,'
      ' p_risk => %L::public.audit_risk, p_query => %L, p_limit => %s)',
      ${q.org_id}::text, ${q.from}::text, ${q.to}::text, ${
    q.actor ?? null
  }::text,
      ${q.action ?? null}::text, ${q.resource_type ?? null}::text, ${
    q.risk ?? null
  }::text,
      ${q.q ?? null}::text, ${q.limit}::int) as call`;
}

// Text columns of the export, as Postgres names their types.
const TEXT_TYPES = new Set([25, 1043, 19]); // text, varchar, name

/**
 * The export's query with every text column passed through private.csv_cell,
 * so no cell an attacker wrote can run as a spreadsheet formula.
 */
async function csvSafeSelect(
  tx: postgres.TransactionSql,
  call: string,
): Promise<string> {
  const { columns } = await tx.unsafe(`select * from (${call}) e`).describe();
  const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;
  const list = columns.map((c) =>
    TEXT_TYPES.has(c.type)
      ? `private.csv_cell(e.${ident(c.name)}) as ${ident(c.name)}`
      : `e.${ident(c.name)}`
  );
  return `select ${list.join(", ")} from (${call}) e`;
}

Deno.serve(async (req) => {
  const cors = preflight(req);
  if (cors) return cors;
  let limitHeaders: Record<string, string> = {};
  try {
    if (req.method !== "GET") {
      throw new HttpError(
        405,
        "method_not_allowed",
        "audit-export answers GET only",
      );
    }
    const url = new URL(req.url);
    const parsed = ExportQuery.safeParse(Object.fromEntries(url.searchParams));
    if (!parsed.success) throw parsed.error;
    const query = parsed.data;

    const principal = await authenticate(req, sql(), { orgId: query.org_id });
    // MEMBERSHIP before anything is counted or recorded: a stranger must not
    // spend the organization's rate limit or write into its audit chain. (An
    // API key of another organization was refused by authenticate.)
    if (principal.kind === "user" && principal.permissions.length === 0) {
      throw new HttpError(
        403,
        "forbidden",
        "You are not a member of this organization",
        [{ field: "org_id", rule: "member", message: "not a member" }],
      );
    }
    // API-key calls count against the plan's daily api_calls quota.
    limitHeaders = rateLimitHeaders(
      await admit(sql(), principal, "audit-export", {
        meter: principal.kind === "api_key" ? "api_calls" : null,
      }),
    );
    try {
      requirePermission(principal, "audit:read");
    } catch (err) {
      await recordDenial(
        sql(),
        principal,
        query.org_id,
        "audit.export",
        "audit:read",
      );
      throw err;
    }
    // Postgres quotes every value into the call, so COPY can run it unparameterized.
    const [{ call }] = await exportCall(query);
    await recordAuditEvent(sql(), principal, {
      orgId: query.org_id,
      action: "audit_log.exported",
      resourceType: "audit_log",
      details: {
        format: query.format,
        from: query.from,
        to: query.to,
        limit: query.limit,
      },
      risk: "medium",
    });

    const encoder = new TextEncoder();
    // Paced by the reader (_shared/paced_stream.ts): a slow auditor's download
    // holds the cursor, not 100,000 rows in this function's memory.
    const body = pacedStream(
      (out) =>
        withPrincipal(sql(), principal, async (tx) => {
          if (query.format === "csv") {
            const stream = await tx.unsafe(
              `copy (${await csvSafeSelect(
                tx,
                call,
              )}) to stdout with (format csv, header true)`,
            ).readable();
            for await (const chunk of stream) {
              await out.write(chunk as Uint8Array);
            }
          } else {
            const rows = tx.unsafe(
              `select row_to_json(e) as r from (${call}) e`,
            ).cursor(500);
            for await (const batch of rows) {
              await out.write(encoder.encode(
                batch.map((row) => JSON.stringify(row.r)).join("\n") + "\n",
              ));
            }
          }
        }),
      { onError: (err) => console.error("audit-export: stream failed", err) },
    );
    const ext = query.format === "csv" ? "csv" : "jsonl";
    return new Response(body, {
      headers: {
        ...corsHeaders,
        ...limitHeaders,
        "Content-Type": query.format === "csv"
          ? "text/csv; charset=utf-8"
          : "application/x-ndjson",
        "Content-Disposition":
          `attachment; filename="audit-${query.org_id}.${ext}"`,
        "X-Row-Cap": String(query.limit),
        "X-Request-Id": principal.context.requestId,
      },
    });
  } catch (err) {
    return withHeaders(toErrorResponse(err), limitHeaders);
  }
});

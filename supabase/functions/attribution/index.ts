// /functions/v1/attribution: which channels and campaigns earn the revenue,
// and what they cost (issue 29).
//   POST /attribution/compute   {org_id, model, from, to, window_days?,
//                               options?}: runs a model, stores the run
//                               (analytics:manage)
//   GET  /attribution/runs/<id>?org_id=   a stored run with its credit
//   GET  /attribution/report?org_id=&run_id=&by=channel|campaign|day
//   POST /attribution/compare   {org_id, from, to, window_days?,
//                               half_life_days?}: the eight models and their
//                               sensitivity to window and half-life, per
//                               channel, the model-dependent ones flagged
//                               (analytics:manage: the runs are stored)
//   GET  /attribution/models    the models and their parameters
//   POST /attribution/spend?org_id=&source=&create_campaigns=   a CSV export
//                               of ad spend (Google Ads, Meta Ads Manager or
//                               the generic layout) (analytics:manage)
// The rule-based models run set-based in SQL (private.run_rule_attribution);
// the data-driven ones aggregate their paths in SQL
// (private.start_path_attribution) and are solved here, exactly (models/).
// Reads are under the caller's RLS (analytics:read).
import { z } from "zod";
import {
  authenticate,
  type Principal,
  requirePermission,
  withPrincipal,
} from "../_shared/auth.ts";
import { readFields, readLimitedText } from "../_shared/body.ts";
import { sql } from "../_shared/db.ts";
import { HttpError, toErrorResponse } from "../_shared/errors.ts";
import { Instant } from "../_shared/instant.ts";
import { jsonResponse, preflight } from "../_shared/http.ts";
import { admit, rateLimitHeaders } from "../_shared/rate_limit.ts";
import { MODELS, RULE_MODELS } from "./catalogue.ts";
import { compareModels } from "./compare.ts";
import { computePathModel } from "./path_models.ts";
import { parseSpendCsv } from "./spend_csv.ts";

const db = () => sql({ statementTimeoutMs: 120_000 });
const MAX_CSV_BYTES = 10 * 1024 * 1024;

const Compute = z.object({
  org_id: z.guid(),
  model: z.enum(MODELS.map((m) => m.name) as [string, ...string[]]),
  from: Instant,
  to: Instant,
  window_days: z.number().int().min(1).max(365).optional(),
  options: z.object({
    half_life_days: z.number().positive().max(365).optional(),
    first_share: z.number().min(0).max(1).optional(),
    last_share: z.number().min(0).max(1).optional(),
    order: z.union([z.literal(1), z.literal(2), z.literal(3)]).optional(),
    min_users: z.number().int().min(1).max(1_000_000).optional(),
    bootstrap_replicates: z.number().int().min(0).max(1000).optional(),
    seed: z.number().int().min(0).max(2 ** 31 - 1).optional(),
  }).strict().default({}),
}).refine((v) => Date.parse(v.from) < Date.parse(v.to), {
  path: ["from"],
  message: "from must be before to",
}).refine(
  (v) => Date.parse(v.to) - Date.parse(v.from) <= 366 * 86_400_000,
  { path: ["to"], message: "a period is at most 366 days" },
);

/** Authenticates for the organization, counts the call, checks permission. */
async function caller(
  req: Request,
  orgId: string,
  permission: string,
): Promise<{ principal: Principal; headers: Record<string, string> }> {
  const principal = await authenticate(req, db(), { orgId });
  if (principal.kind === "user" && principal.permissions.length === 0) {
    throw new HttpError(
      403,
      "forbidden",
      "You are not a member of this organization",
      [{ field: "org_id", rule: "member", message: "not a member" }],
    );
  }
  const headers = rateLimitHeaders(
    await admit(db(), principal, "attribution", {
      meter: principal.kind === "api_key" ? "api_calls" : null,
    }),
  );
  requirePermission(principal, permission);
  return { principal, headers };
}

const actorId = (p: Principal) => p.kind === "user" ? p.actorId : null;

async function compute(req: Request): Promise<Response> {
  const body = Compute.safeParse(await readFields(req, 16 * 1024));
  if (!body.success) throw body.error;
  const q = body.data;
  const { principal, headers } = await caller(
    req,
    q.org_id,
    "analytics:manage",
  );
  let run;
  if (RULE_MODELS.has(q.model)) {
    [run] = await db()`
      select * from private.run_rule_attribution(${q.org_id}::uuid, ${q.model}, ${q.from}::timestamptz,
        ${q.to}::timestamptz, ${q.window_days ?? null}::int, ${
      db().json(q.options as never)
    }::jsonb,
        ${actorId(principal)}::uuid)`;
  } else {
    run = await computePathModel(db(), {
      orgId: q.org_id,
      model: q.model as "markov" | "shapley",
      from: q.from,
      to: q.to,
      windowDays: q.window_days ?? null,
      options: q.options,
      createdBy: actorId(principal),
    });
  }
  const credit = await creditOf(principal, q.org_id, run.id, "channel");
  return jsonResponse({ run, credit }, 201, headers);
}

const CompareBody = z.object({
  org_id: z.guid(),
  from: Instant,
  to: Instant,
  window_days: z.number().int().min(2).max(365).optional(),
  half_life_days: z.number().positive().max(365).default(7),
}).refine((v) => Date.parse(v.from) < Date.parse(v.to), {
  path: ["from"],
  message: "from must be before to",
}).refine(
  (v) => Date.parse(v.to) - Date.parse(v.from) <= 366 * 86_400_000,
  { path: ["to"], message: "a period is at most 366 days" },
);

async function compare(req: Request): Promise<Response> {
  const body = CompareBody.safeParse(await readFields(req, 4 * 1024));
  if (!body.success) throw body.error;
  const q = body.data;
  const { principal, headers } = await caller(
    req,
    q.org_id,
    "analytics:manage",
  );
  const [{ window_days }] = await db()`
    select window_days from private.attribution_settings_of(${q.org_id}::uuid)`;
  const result = await compareModels(db(), {
    orgId: q.org_id,
    from: q.from,
    to: q.to,
    windowDays: q.window_days ?? window_days,
    halfLifeDays: q.half_life_days,
    createdBy: actorId(principal),
  });
  return jsonResponse(result, 201, headers);
}

const BY = {
  channel: "channel",
  campaign: "channel, campaign_id, utm_campaign",
  day: "day, channel",
} as const;

/** A run's credit grouped by channel, campaign or day, under RLS. */
function creditOf(
  principal: Principal,
  orgId: string,
  runId: string,
  by: keyof typeof BY,
) {
  return withPrincipal(
    db(),
    principal,
    (tx) =>
      tx`
      select ${
        tx.unsafe(BY[by])
      }, sum(conversions) as conversions, sum(value) as value,
             max(share) as share, max(share_lo) as share_lo, max(share_hi) as share_hi
      from public.attribution_results
      where org_id = ${orgId}::uuid and run_id = ${runId}::uuid
      group by ${tx.unsafe(BY[by])}
      order by ${tx.unsafe(by === "day" ? "day, value desc" : "value desc")}`,
  );
}

const RunQuery = z.object({ org_id: z.guid() });
const ReportQuery = z.object({
  org_id: z.guid(),
  run_id: z.guid(),
  by: z.enum(["channel", "campaign", "day"]).default("channel"),
});

/** The run, read under the caller's RLS, or a 404 naming it. */
async function runOrNotFound(
  principal: Principal,
  orgId: string,
  runId: string,
) {
  const [run] = await withPrincipal(
    db(),
    principal,
    (tx) =>
      tx`select * from public.attribution_runs
         where org_id = ${orgId}::uuid and id = ${runId}::uuid`,
  );
  if (!run) {
    throw new HttpError(404, "not_found", "No such attribution run", [
      { field: "run_id", rule: "exists", message: runId },
    ]);
  }
  return run;
}

async function readRun(req: Request, runId: string): Promise<Response> {
  const q = RunQuery.safeParse(
    Object.fromEntries(new URL(req.url).searchParams),
  );
  if (!q.success) throw q.error;
  const { principal, headers } = await caller(
    req,
    q.data.org_id,
    "analytics:read",
  );
  const run = await runOrNotFound(principal, q.data.org_id, runId);
  const credit = await creditOf(principal, q.data.org_id, runId, "channel");
  return jsonResponse({ run, credit }, 200, headers);
}

async function report(req: Request): Promise<Response> {
  const q = ReportQuery.safeParse(
    Object.fromEntries(new URL(req.url).searchParams),
  );
  if (!q.success) throw q.error;
  const { principal, headers } = await caller(
    req,
    q.data.org_id,
    "analytics:read",
  );
  await runOrNotFound(principal, q.data.org_id, q.data.run_id);
  const rows = await creditOf(
    principal,
    q.data.org_id,
    q.data.run_id,
    q.data.by,
  );
  return jsonResponse(
    { run_id: q.data.run_id, by: q.data.by, rows },
    200,
    headers,
  );
}

const SpendQuery = z.object({
  org_id: z.guid(),
  source: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,49}$/).default("csv"),
  create_campaigns: z.enum(["true", "false"]).default("false"),
});

async function spend(req: Request): Promise<Response> {
  const q = SpendQuery.safeParse(
    Object.fromEntries(new URL(req.url).searchParams),
  );
  if (!q.success) throw q.error;
  const { principal, headers } = await caller(
    req,
    q.data.org_id,
    "analytics:manage",
  );
  const parsed = parseSpendCsv(await readLimitedText(req, MAX_CSV_BYTES));
  let stored = 0;
  let created = 0;
  let storeErrors: unknown[] = [];
  if (parsed.rows.length > 0) {
    const rows = parsed.rows.map((r) => ({
      ...r,
      channel: r.channel ?? parsed.defaultChannel,
    }));
    const [{ result }] = await withPrincipal(
      db(),
      principal,
      (tx) =>
        tx`select public.upsert_ad_spend(${q.data.org_id}::uuid, ${q.data.source},
             ${tx.json(rows as never)}::jsonb, ${
          q.data.create_campaigns === "true"
        }) as result`,
    );
    stored = result.stored;
    created = result.created_campaigns;
    storeErrors = result.errors;
  }
  // One shape for both: {line, field, rule, message}, field the CSV column.
  const errors = [
    ...parsed.errors.map(({ column, ...e }) => ({ ...e, field: column })),
    ...storeErrors,
  ];
  return jsonResponse(
    {
      layout: parsed.layout,
      rows_accepted: parsed.rows.length,
      rows_rejected: new Set(
        parsed.errors.filter((e) => e.column !== "(header)").map((e) => e.line),
      ).size,
      stored,
      created_campaigns: created,
      errors,
    },
    errors.length > 0 && stored === 0 ? 422 : 200,
    headers,
  );
}

Deno.serve(async (req) => {
  const cors = preflight(req);
  if (cors) return cors;
  try {
    const path = new URL(req.url).pathname.replace(/^\/attribution/, "");
    if (path === "/models" && req.method === "GET") {
      return jsonResponse({ models: MODELS });
    }
    if (path === "/compute" && req.method === "POST") return await compute(req);
    if (path === "/compare" && req.method === "POST") return await compare(req);
    if (path === "/report" && req.method === "GET") return await report(req);
    if (path === "/spend" && req.method === "POST") return await spend(req);
    const run = path.match(/^\/runs\/([0-9a-f-]{36})$/);
    if (run && req.method === "GET") return await readRun(req, run[1]);
    throw new HttpError(
      404,
      "not_found",
      `No route ${req.method} /attribution${path}`,
    );
  } catch (err) {
    return toErrorResponse(err);
  }
});

// A data-driven run end to end: SQL stores the run and its distinct paths
// (private.start_path_attribution), the model is solved here on them, and its
// credit with bootstrap intervals is stored (private.finish_path_attribution).
// The paths are read back from the run (in path order, so a seed draws the
// same replicates every time), so what was modelled is exactly what
// analytics.conversion_paths shows. One transaction: a run whose model fails
// leaves nothing behind.
import type postgres from "postgres";
import { bootstrap } from "./models/bootstrap.ts";
import {
  markovShares,
  markovWithCounts,
  prepareMarkov,
} from "./models/markov.ts";
import {
  prepareShapley,
  shapleyShares,
  shapleyWithCounts,
} from "./models/shapley.ts";
import type { ModelResult, PathRow, ResamplableModel } from "./models/types.ts";

export type PathModelRequest = {
  orgId: string;
  model: "markov" | "shapley";
  from: string;
  to: string;
  windowDays: number | null;
  options: {
    order?: 1 | 2 | 3;
    min_users?: number;
    bootstrap_replicates?: number;
    seed?: number;
  };
  createdBy: string | null;
};

export function computePathModel(
  sql: postgres.Sql,
  r: PathModelRequest,
) {
  return sql.begin((tx) => computeIn(tx, r));
}

async function computeIn(sql: postgres.TransactionSql, r: PathModelRequest) {
  const started = performance.now();
  const params = r.model === "markov"
    ? { order: r.options.order ?? 1 }
    : { min_users: r.options.min_users ?? 50 };
  // 100 replicates on 100k distinct paths over 12 channels (~6 touches
  // each), the model's part of a run, point estimate included: ~0.4 s
  // (Markov k = 1, Shapley), ~0.5 s (k = 2), ~0.9 s (k = 3), against a 2 s
  // CPU budget per request; most of it the Poisson draws (~0.2 s) and, at
  // k = 3, the sweeps (~5 ms a replicate).
  const replicates = r.options.bootstrap_replicates ?? 100;
  const seed = r.options.seed ?? 1;
  const [run] = await sql`
    select * from private.start_path_attribution(${r.orgId}::uuid, ${r.model}, ${r.from}::timestamptz,
      ${r.to}::timestamptz, ${r.windowDays}::int,
      ${
    sql.json({ ...params, bootstrap_replicates: replicates, seed })
  }::jsonb, ${r.createdBy}::uuid)`;
  const rows = await sql<
    {
      path: string[];
      conversions: number;
      non_conversions: number;
      value: string;
    }[]
  >`
    select path, conversions, non_conversions, value from public.attribution_run_paths
    where org_id = ${r.orgId}::uuid and run_id = ${run.id}::uuid
    order by path`;
  const paths: PathRow[] = rows.map((p) => ({
    path: p.path,
    conversions: p.conversions,
    nonConversions: p.non_conversions,
    value: Number(p.value),
  }));
  // The paths are parsed once (prepare*); the point estimate and every
  // bootstrap replicate solve the prepared model on their own counts.
  const modelStarted = performance.now();
  let result: ModelResult;
  let forBootstrap: ResamplableModel;
  if (r.model === "markov") {
    const prepared = prepareMarkov(
      paths,
      (r.options.order ?? 1) as 1 | 2 | 3,
    );
    result = markovWithCounts(prepared);
    forBootstrap = markovShares(prepared);
  } else {
    const opts = { minUsers: r.options.min_users ?? 50 };
    const prepared = prepareShapley(paths);
    result = shapleyWithCounts(prepared, undefined, opts);
    forBootstrap = shapleyShares(prepared, opts);
  }
  const modelMs = performance.now() - modelStarted;
  const intervals = replicates > 0 && paths.length > 0
    ? bootstrap(forBootstrap, { replicates, seed })
    : null;
  const credits = result.credits.map((c) => ({
    channel: c.channel,
    conversions: c.conversions,
    value: c.value,
    share: c.share,
    lo: intervals?.get(c.channel)?.lo ?? null,
    hi: intervals?.get(c.channel)?.hi ?? null,
  }));
  const [finished] = await sql`
    select * from private.finish_path_attribution(${r.orgId}::uuid, ${run.id}::uuid, ${
    sql.json(credits as never)
  }::jsonb,
      ${
    sql.json({
      ...result.diagnostics,
      model_ms: Math.round(modelMs),
      bootstrap_replicates: replicates,
      seed,
    } as never)
  }::jsonb, ${Math.round(performance.now() - started)}::int)`;
  return finished;
}

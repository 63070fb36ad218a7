// A data-driven run end to end: SQL stores the run and its distinct paths
// (private.start_path_attribution), the model is solved here on them, and its
// credit with bootstrap intervals is stored (private.finish_path_attribution).
// The paths are read back from the run, so what was modelled is exactly what
// analytics.conversion_paths shows.
import type postgres from "postgres";
import { bootstrap } from "./models/bootstrap.ts";
import { markov } from "./models/markov.ts";
import { shapley } from "./models/shapley.ts";
import type { ModelResult, PathRow } from "./models/types.ts";

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

export async function computePathModel(
  sql: postgres.Sql,
  r: PathModelRequest,
) {
  const started = performance.now();
  const params = r.model === "markov"
    ? { order: r.options.order ?? 1 }
    : { min_users: r.options.min_users ?? 50 };
  const replicates = r.options.bootstrap_replicates ?? 100;
  const seed = r.options.seed ?? 1;
  const [run] = await sql`
    select * from private.start_path_attribution(${r.orgId}::uuid, ${r.model}, ${r.from}::timestamptz,
      ${r.to}::timestamptz, ${r.windowDays}::int,
      ${
    JSON.stringify({ ...params, bootstrap_replicates: replicates, seed })
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
    where org_id = ${r.orgId}::uuid and run_id = ${run.id}::uuid`;
  const paths: PathRow[] = rows.map((p) => ({
    path: p.path,
    conversions: p.conversions,
    nonConversions: p.non_conversions,
    value: Number(p.value),
  }));
  const solve = (ps: PathRow[]): ModelResult =>
    r.model === "markov"
      ? markov(ps, { order: (r.options.order ?? 1) as 1 | 2 | 3 })
      : shapley(ps, { minUsers: r.options.min_users ?? 50 });
  const modelStarted = performance.now();
  const result = solve(paths);
  const modelMs = performance.now() - modelStarted;
  const intervals = replicates > 0 && paths.length > 0
    ? bootstrap(paths, solve, { replicates, seed })
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
    JSON.stringify(credits)
  }::jsonb,
      ${
    JSON.stringify({
      ...result.diagnostics,
      model_ms: Math.round(modelMs),
      bootstrap_replicates: replicates,
      seed,
    })
  }::jsonb, ${Math.round(performance.now() - started)}::int)`;
  return finished;
}

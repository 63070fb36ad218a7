// The model comparison: how much a channel's credit depends on the model.
// Runs the eight models over one period (stored like any run), then the
// sensitivity variants: time decay at half and double the half-life, linear
// at half and double the window. Per channel: its share under each model,
// the range across models, and the spread under each sensitivity; channels
// whose share moves most are flagged, as the ones an incrementality test
// should settle (no model can). The data-driven runs skip the bootstrap here:
// the comparison is about the models, not sampling noise.
import type postgres from "postgres";
import { MODELS, RULE_MODELS } from "./catalogue.ts";
import { computePathModel } from "./path_models.ts";

/** A channel is flagged when its share moves this much across models. */
export const FLAG_RANGE = 0.1;

export type CompareRequest = {
  orgId: string;
  from: string;
  to: string;
  windowDays: number;
  halfLifeDays: number;
  createdBy: string | null;
};

type Run = { id: string; model: string };

async function ruleRun(
  sql: postgres.Sql,
  r: CompareRequest,
  model: string,
  windowDays: number,
  options: Record<string, number> = {},
): Promise<Run> {
  const [run] = await sql`
    select id, model from private.run_rule_attribution(${r.orgId}::uuid, ${model}, ${r.from}::timestamptz,
      ${r.to}::timestamptz, ${windowDays}::int, ${
    sql.json(options as never)
  }::jsonb, ${r.createdBy}::uuid)`;
  return run as Run;
}

async function shares(
  sql: postgres.Sql,
  orgId: string,
  runId: string,
): Promise<Map<string, number>> {
  const rows = await sql<{ channel: string; share: number }[]>`
    select channel, (sum(conversions) / nullif(sum(sum(conversions)) over (), 0))::float8 as share
    from public.attribution_results
    where org_id = ${orgId}::uuid and run_id = ${runId}::uuid and channel <> '(none)'
    group by channel`;
  return new Map(rows.map((row) => [row.channel, row.share ?? 0]));
}

export async function compareModels(sql: postgres.Sql, r: CompareRequest) {
  const runs: Record<string, Run> = {};
  for (const m of MODELS) {
    runs[m.name] = RULE_MODELS.has(m.name)
      ? await ruleRun(sql, r, m.name, r.windowDays, {
        half_life_days: r.halfLifeDays,
      })
      : await computePathModel(sql, {
        orgId: r.orgId,
        model: m.name as "markov" | "shapley",
        from: r.from,
        to: r.to,
        windowDays: r.windowDays,
        options: { bootstrap_replicates: 0 },
        createdBy: r.createdBy,
      }) as Run;
  }
  const halfWindow = Math.max(1, Math.round(r.windowDays / 2));
  const variants: Record<string, Run> = {
    time_decay_half_life_short: await ruleRun(
      sql,
      r,
      "time_decay",
      r.windowDays,
      { half_life_days: r.halfLifeDays / 2 },
    ),
    time_decay_half_life_long: await ruleRun(
      sql,
      r,
      "time_decay",
      r.windowDays,
      { half_life_days: r.halfLifeDays * 2 },
    ),
    linear_window_short: await ruleRun(sql, r, "linear", halfWindow),
    linear_window_long: await ruleRun(
      sql,
      r,
      "linear",
      Math.min(365, r.windowDays * 2),
    ),
  };
  const byModel: Record<string, Map<string, number>> = {};
  for (const [name, run] of Object.entries({ ...runs, ...variants })) {
    byModel[name] = await shares(sql, r.orgId, run.id);
  }
  const channels = [
    ...new Set(Object.values(byModel).flatMap((m) => [...m.keys()])),
  ].sort();
  const share = (name: string, channel: string) =>
    byModel[name].get(channel) ?? 0;
  const spread = (a: number, b: number) => Math.abs(a - b);
  const rows = channels.map((channel) => {
    const perModel = Object.fromEntries(
      MODELS.map((m) => [m.name, share(m.name, channel)]),
    );
    const values = Object.values(perModel);
    const min = Math.min(...values);
    const max = Math.max(...values);
    return {
      channel,
      shares: perModel,
      min,
      max,
      range: max - min,
      half_life_sensitivity: spread(
        share("time_decay_half_life_short", channel),
        share("time_decay_half_life_long", channel),
      ),
      window_sensitivity: spread(
        share("linear_window_short", channel),
        share("linear_window_long", channel),
      ),
      flagged: max - min >= FLAG_RANGE,
    };
  }).sort((a, b) => b.range - a.range);
  return {
    period: { from: r.from, to: r.to },
    window_days: r.windowDays,
    half_life_days: r.halfLifeDays,
    runs: Object.fromEntries(
      Object.entries({ ...runs, ...variants }).map(([k, v]) => [k, v.id]),
    ),
    flag_range: FLAG_RANGE,
    channels: rows,
  };
}

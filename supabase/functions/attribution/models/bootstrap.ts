// Bootstrap intervals for any model's channel shares, so a report can say
// "display: 18% (15–21%)" and a reader can tell a real difference between
// channels from noise in a few hundred journeys.
//
// Rows are aggregated (one per distinct path with counts), so we resample by
// the Poisson bootstrap (Hanley & MacGibbon 2006; Chamandy et al. 2012 at
// Google): every journey appears Poisson(1) times in a replicate, and a sum of
// n Poisson(1) draws is one Poisson(n) draw, so each row's conversions and
// non-conversions are redrawn as Poisson(count) in O(1) per row, without
// expanding rows into journeys. A row's value rides on its conversions: it is
// scaled by drawn / observed conversions (a row without conversions has no
// value to carry). Unlike the multinomial bootstrap the replicate's journey
// total varies a little (by about its square root), which is immaterial for
// shares and lets rows be drawn independently.
//
// The interval is the percentile interval of each channel's share over the
// replicates, with linear interpolation between order statistics (R's type 7,
// NumPy's default). A channel missing from a replicate's credits (its
// journeys all drew zero, or its coalition fell below minUsers) has share 0
// there. Draws come from a seeded generator in row order, so the same seed
// gives the same intervals.
import { poisson, type Random, seededRandom } from "./random.ts";
import type { ModelResult, PathRow } from "./types.ts";

export type BootstrapOptions = {
  replicates: number;
  seed: number;
  /** Coverage of the interval; 0.95 unless given. */
  level?: number;
};

/** A percentile interval of a channel's share. */
export type ShareInterval = { lo: number; hi: number };

/**
 * The percentile interval {lo, hi} of each channel's share over `replicates`
 * Poisson-bootstrap replicates of `paths`, keyed by channel (in name order).
 * The point estimate is the caller's: model(paths).
 */
export function bootstrap(
  paths: PathRow[],
  model: (paths: PathRow[]) => ModelResult,
  opts: BootstrapOptions,
): Map<string, ShareInterval> {
  const { replicates, seed, level = 0.95 } = opts;
  if (!Number.isInteger(replicates) || replicates < 1) {
    throw new RangeError(
      `replicates must be a positive integer, got ${replicates}`,
    );
  }
  if (!(level > 0 && level < 1)) {
    throw new RangeError(`level must be between 0 and 1, got ${level}`);
  }

  const random = seededRandom(seed);
  // A channel first credited in replicate i had share 0 in the ones before:
  // the zero-filled array says so.
  const sharesByChannel = new Map<string, Float64Array>();
  for (let replicate = 0; replicate < replicates; replicate++) {
    for (const credit of model(resample(paths, random)).credits) {
      let shares = sharesByChannel.get(credit.channel);
      if (!shares) {
        shares = new Float64Array(replicates);
        sharesByChannel.set(credit.channel, shares);
      }
      shares[replicate] = credit.share;
    }
  }

  const tail = (1 - level) / 2;
  const intervals = new Map<string, ShareInterval>();
  for (const channel of [...sharesByChannel.keys()].sort(byName)) {
    const shares = sharesByChannel.get(channel)!.sort();
    intervals.set(channel, {
      lo: quantile(shares, tail),
      hi: quantile(shares, 1 - tail),
    });
  }
  return intervals;
}

/** One Poisson-bootstrap replicate; rows that draw no journeys are left out. */
export function resample(paths: PathRow[], random: Random): PathRow[] {
  const replicate: PathRow[] = [];
  for (const row of paths) {
    const conversions = poisson(random, row.conversions);
    const nonConversions = poisson(random, row.nonConversions);
    if (conversions + nonConversions === 0) continue;
    const value = row.conversions > 0
      ? row.value * (conversions / row.conversions)
      : 0;
    replicate.push({ path: row.path, conversions, nonConversions, value });
  }
  return replicate;
}

/** Quantile of sorted values, interpolating linearly between order statistics. */
function quantile(sorted: Float64Array, probability: number): number {
  const position = (sorted.length - 1) * probability;
  const below = Math.floor(position);
  const above = Math.min(below + 1, sorted.length - 1);
  return sorted[below] + (sorted[above] - sorted[below]) * (position - below);
}

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// The shapes every data-driven model shares. Paths are aggregated in SQL
// (private.attribution_paths): one row per distinct channel sequence, with
// how many journeys along it converted, how many did not, and the value the
// converting ones earned (in the organization's base currency).

export type PathRow = {
  /** Channels in time order, as touched (repeats not yet collapsed). */
  path: string[];
  conversions: number;
  nonConversions: number;
  value: number;
};

export type ChannelCredit = {
  channel: string;
  /** Attributed conversions (fractional). */
  conversions: number;
  /** Attributed value; over all channels it sums to the paths' value. */
  value: number;
  /** conversions / total conversions. */
  share: number;
  /** The 95% bootstrap interval of `share`, when computed. */
  lo?: number;
  hi?: number;
};

export type ModelResult = {
  credits: ChannelCredit[];
  /** What the model saw and decided: states, removal effects, what was dropped. */
  diagnostics: Record<string, unknown>;
};

/**
 * Path rows' counts as columns, row i of each the counts of paths[i]. A model
 * prepared once on its paths (the channel sequences parsed, states and
 * coalitions numbered) is solved again on other columns of the same rows:
 * the bootstrap's redrawn counts.
 */
export type PathCounts = {
  conversions: Float64Array;
  nonConversions: Float64Array;
  value: Float64Array;
};

/**
 * A model prepared on its paths, ready to be solved again on redrawn counts
 * (bootstrap.ts). Only channel shares are asked for, so a replicate builds no
 * credit objects.
 */
export type ResamplableModel = {
  /** Every channel the prepared paths touch; shares are written in this order. */
  channels: readonly string[];
  /** The observed counts, the ones the bootstrap redraws from. */
  counts: PathCounts;
  /**
   * Writes each channel's share under `counts` into `out` (indexed like
   * `channels`), NaN for a channel the model would not credit at all (not
   * even with 0): its journeys all drew zero, or its coalitions were dropped.
   */
  shares(counts: PathCounts, out: Float64Array): void;
};

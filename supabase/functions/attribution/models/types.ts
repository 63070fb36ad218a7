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

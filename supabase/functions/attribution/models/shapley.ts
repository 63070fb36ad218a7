// Shapley-value attribution as Google Ads Data Hub computes it: the
// simplified Shapley value of Zhao et al. 2018 ("Shapley Value Methods for
// Attribution Modeling in Online Advertising"). A journey counts as the SET of
// channels it touched (order and repeats ignored); the worth R(T) of a
// coalition T is the conversions (and, separately, the value) of journeys
// whose channel set is exactly T, and channel j earns
//
//   φ_j = Σ_{T ∋ j} R(T) / |T|
//
// which is exactly the Shapley value of the game in which a set S of channels
// is worth what every journey within S earned, v(S) = Σ_{T ⊆ S} R(T),
// computed in one pass instead of over 2^n orderings. Each coalition's worth
// is shared out among its members, so credits add up.
//
// Like ADH we drop coalitions seen on fewer than `minUsers` journeys (ADH
// does it for privacy; it also keeps a handful of odd journeys from deciding
// a rare channel's worth). Dropped coalitions take their conversions and
// value with them, so the credits add up to the KEPT totals; diagnostics list
// what was dropped so a report can say how much went unattributed.
import { byName, countColumns, settleRemainderOnLargest } from "./credits.ts";
import type {
  ChannelCredit,
  ModelResult,
  PathCounts,
  PathRow,
  ResamplableModel,
} from "./types.ts";

export type ShapleyOptions = {
  /** Coalitions on fewer journeys (conversions + non-conversions) are dropped. */
  minUsers: number;
};

/** Bit 31 would make the mask negative; 31 channels cover almost every org. */
const MASKABLE_CHANNELS = 31;

type Amounts = { journeys: number; conversions: number; value: number };

/** ADH's simplified Shapley value over channel sets, with minimum support. */
export function shapley(paths: PathRow[], opts: ShapleyOptions): ModelResult {
  checkMinUsers(opts.minUsers);
  return shapleyWithCounts(prepareShapley(paths), undefined, opts);
}

// ---------------------------------------------------------------------------
// PREPARE: EACH ROW'S COALITION, WHATEVER ITS COUNTS

/**
 * The channel set of every path row, numbered. shapleyWithCounts sums a set
 * of counts per coalition and shares them out.
 */
export type PreparedShapley = {
  /** Path rows prepared; counts columns have this length. */
  readonly rows: number;
  /** The rows' observed counts, checked. */
  readonly counts: PathCounts;
  /** Channel names by id, in order of first appearance. */
  readonly channels: readonly string[];
  /** Coalition id of each row, -1 for a path without touches. */
  readonly coalitionOf: Int32Array;
  /** Channel ids of each coalition, ascending. */
  readonly members: readonly Int32Array[];
};

/** Groups the rows by channel set once, for any counts of these rows. */
export function prepareShapley(paths: readonly PathRow[]): PreparedShapley {
  const counts = countColumns(paths);
  const channelIds = new Map<string, number>();
  const channels: string[] = [];
  // A set of channels among the first 31 is keyed by its bitmask (a small
  // integer: cheap to build and to hash); larger ids fall back to a string.
  const coalitionIds = new Map<number | string, number>();
  const members: Int32Array[] = [];
  const coalitionOf = new Int32Array(paths.length);
  const touched: number[] = [];
  for (let row = 0; row < paths.length; row++) {
    let mask = 0;
    let maskable = true;
    touched.length = 0;
    for (const name of paths[row].path) {
      let channel = channelIds.get(name);
      if (channel === undefined) {
        channel = channels.length;
        channelIds.set(name, channel);
        channels.push(name);
      }
      if (channel < MASKABLE_CHANNELS) {
        if (mask & (1 << channel)) continue;
        mask |= 1 << channel;
      } else {
        if (touched.includes(channel)) continue;
        maskable = false;
      }
      touched.push(channel);
    }
    if (touched.length === 0) {
      coalitionOf[row] = -1;
      continue;
    }
    const key = maskable
      ? mask
      : touched.slice().sort((a, b) => a - b).join(",");
    let coalition = coalitionIds.get(key);
    if (coalition === undefined) {
      coalition = members.length;
      coalitionIds.set(key, coalition);
      members.push(Int32Array.from(touched).sort());
    }
    coalitionOf[row] = coalition;
  }
  return { rows: paths.length, counts, channels, coalitionOf, members };
}

// ---------------------------------------------------------------------------
// SUM PER COALITION AND SHARE OUT

type Sums = {
  /** Per coalition; a coalition without journeys is not seen at all. */
  journeys: Float64Array;
  conversions: Float64Array;
  value: Float64Array | null;
  emptyPaths: { rows: number } & Amounts;
};

/** Sums counts per coalition (value only when `withValue`). */
function sumByCoalition(
  prepared: PreparedShapley,
  counts: PathCounts,
  into: Sums,
) {
  const { coalitionOf } = prepared;
  const { conversions, nonConversions, value } = counts;
  if (
    conversions.length !== prepared.rows ||
    nonConversions.length !== prepared.rows || value.length !== prepared.rows
  ) {
    throw new RangeError(`counts must have ${prepared.rows} rows`);
  }
  const journeysOf = into.journeys.fill(0);
  const conversionsOf = into.conversions.fill(0);
  const valueOf = into.value?.fill(0) ?? null;
  const emptyPaths = into.emptyPaths;
  emptyPaths.rows = emptyPaths.journeys = 0;
  emptyPaths.conversions = emptyPaths.value = 0;
  for (let row = 0; row < prepared.rows; row++) {
    const converted = conversions[row];
    const journeys = converted + nonConversions[row];
    if (journeys === 0) continue;
    const coalition = coalitionOf[row];
    if (coalition < 0) {
      emptyPaths.rows++;
      emptyPaths.journeys += journeys;
      emptyPaths.conversions += converted;
      emptyPaths.value += value[row];
      continue;
    }
    journeysOf[coalition] += journeys;
    conversionsOf[coalition] += converted;
    if (valueOf) valueOf[coalition] += value[row];
  }
}

function sums(prepared: PreparedShapley, withValue: boolean): Sums {
  const coalitions = prepared.members.length;
  return {
    journeys: new Float64Array(coalitions),
    conversions: new Float64Array(coalitions),
    value: withValue ? new Float64Array(coalitions) : null,
    emptyPaths: { rows: 0, journeys: 0, conversions: 0, value: 0 },
  };
}

type Shared = {
  /** Coalition ids seen (with journeys), kept and dropped, ascending. */
  kept: number[];
  dropped: number[];
  keptTotals: Amounts;
  /** By channel id. */
  conversions: number[];
  value: number[] | null;
  /** Channels in a kept coalition, ascending: the ones credited. */
  creditedChannels: number[];
};

function shareOut(
  prepared: PreparedShapley,
  summed: Sums,
  minUsers: number,
): Shared {
  const { members, channels } = prepared;
  const kept: number[] = [];
  const dropped: number[] = [];
  for (let coalition = 0; coalition < members.length; coalition++) {
    const journeys = summed.journeys[coalition];
    if (journeys === 0) continue;
    (journeys >= minUsers ? kept : dropped).push(coalition);
  }
  const keptTotals = { journeys: 0, conversions: 0, value: 0 };
  for (const coalition of kept) {
    keptTotals.journeys += summed.journeys[coalition];
    keptTotals.conversions += summed.conversions[coalition];
    if (summed.value) keptTotals.value += summed.value[coalition];
  }

  const conversions = new Array<number>(channels.length).fill(0);
  const value = summed.value
    ? new Array<number>(channels.length).fill(0)
    : null;
  const credited = new Uint8Array(channels.length);
  for (const coalition of kept) {
    const coalitionMembers = members[coalition];
    const size = coalitionMembers.length;
    const converted = summed.conversions[coalition] / size;
    const earned = summed.value ? summed.value[coalition] / size : 0;
    for (const channel of coalitionMembers) {
      conversions[channel] += converted;
      if (value) value[channel] += earned;
      credited[channel] = 1;
    }
  }
  const creditedChannels: number[] = [];
  for (let channel = 0; channel < channels.length; channel++) {
    if (credited[channel]) creditedChannels.push(channel);
  }
  if (creditedChannels.length > 0) {
    settleRemainderOnLargest(
      conversions,
      keptTotals.conversions,
      creditedChannels,
    );
    if (value) {
      settleRemainderOnLargest(value, keptTotals.value, creditedChannels);
    }
  }
  return { kept, dropped, keptTotals, conversions, value, creditedChannels };
}

/**
 * The prepared coalitions with `counts` (the observed ones unless given):
 * shapley(paths, opts) is shapleyWithCounts(prepareShapley(paths),
 * undefined, opts).
 */
export function shapleyWithCounts(
  prepared: PreparedShapley,
  counts: PathCounts = prepared.counts,
  opts: ShapleyOptions,
): ModelResult {
  const { minUsers } = opts;
  checkMinUsers(minUsers);
  const summed = sums(prepared, true);
  sumByCoalition(prepared, counts, summed);
  const { kept, dropped, keptTotals, conversions, value, creditedChannels } =
    shareOut(prepared, summed, minUsers);
  const { channels, members } = prepared;
  const amountsOf = (coalitions: number[]): Amounts => {
    const totals = { journeys: 0, conversions: 0, value: 0 };
    for (const coalition of coalitions) {
      totals.journeys += summed.journeys[coalition];
      totals.conversions += summed.conversions[coalition];
      totals.value += summed.value![coalition];
    }
    return totals;
  };
  const namesOf = (coalition: number) =>
    Array.from(members[coalition], (channel) => channels[channel]).sort(
      byName,
    );

  const credits: ChannelCredit[] = creditedChannels
    .map((channel) => ({
      channel: channels[channel],
      conversions: conversions[channel],
      value: value![channel],
      share: keptTotals.conversions > 0
        ? conversions[channel] / keptTotals.conversions
        : 0,
    }))
    .sort((a, b) => byName(a.channel, b.channel));

  const seen = kept.length + dropped.length;
  return {
    credits,
    diagnostics: {
      model: "shapley",
      minUsers,
      coalitions: seen,
      kept: { coalitions: kept.length, ...keptTotals },
      dropped: {
        coalitions: dropped.length,
        sets: dropped.map(namesOf).sort(bySetNames),
        ...amountsOf(dropped),
      },
      emptyPaths: { ...summed.emptyPaths },
      ...(kept.length === 0 && seen > 0
        ? {
          note:
            `every channel set was seen on fewer than ${minUsers} journeys; ` +
            "nothing is attributed",
        }
        : {}),
    },
  };
}

/**
 * The prepared coalitions as the bootstrap re-solves them: shares only
 * (value is not summed), buffers reused. A share is exactly the one
 * shapleyWithCounts gives for the same counts.
 */
export function shapleyShares(
  prepared: PreparedShapley,
  opts: ShapleyOptions,
): ResamplableModel {
  const { minUsers } = opts;
  checkMinUsers(minUsers);
  const summed = sums(prepared, false);
  return {
    channels: prepared.channels,
    counts: prepared.counts,
    shares(counts, out) {
      sumByCoalition(prepared, counts, summed);
      const { keptTotals, conversions, creditedChannels } = shareOut(
        prepared,
        summed,
        minUsers,
      );
      out.fill(Number.NaN);
      for (const channel of creditedChannels) {
        out[channel] = keptTotals.conversions > 0
          ? conversions[channel] / keptTotals.conversions
          : 0;
      }
    },
  };
}

function checkMinUsers(minUsers: number) {
  if (!(minUsers >= 0) || !Number.isFinite(minUsers)) {
    throw new RangeError(`minUsers must be finite and >= 0, got ${minUsers}`);
  }
}

function bySetNames(a: string[], b: string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const order = byName(a[i], b[i]);
    if (order !== 0) return order;
  }
  return a.length - b.length;
}

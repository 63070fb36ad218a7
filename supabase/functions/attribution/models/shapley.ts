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
import {
  byName,
  checkPathCounts,
  settleRemainderOnLargest,
} from "./credits.ts";
import type { ChannelCredit, ModelResult, PathRow } from "./types.ts";

export type ShapleyOptions = {
  /** Coalitions on fewer journeys (conversions + non-conversions) are dropped. */
  minUsers: number;
};

type Coalition = {
  /** Channel ids, ascending. */
  members: number[];
  journeys: number;
  conversions: number;
  value: number;
};

/** Bit 31 would make the mask negative; 31 channels cover almost every org. */
const MASKABLE_CHANNELS = 31;

type Amounts = { journeys: number; conversions: number; value: number };

/** ADH's simplified Shapley value over channel sets, with minimum support. */
export function shapley(paths: PathRow[], opts: ShapleyOptions): ModelResult {
  const { minUsers } = opts;
  if (!(minUsers >= 0) || !Number.isFinite(minUsers)) {
    throw new RangeError(`minUsers must be finite and >= 0, got ${minUsers}`);
  }

  // COALITIONS
  const channelIds = new Map<string, number>();
  const channels: string[] = [];
  // A set of channels among the first 31 is keyed by its bitmask (a small
  // integer: cheap to build and to hash); larger ids fall back to a string.
  const coalitions = new Map<number | string, Coalition>();
  const emptyPaths = { rows: 0, journeys: 0, conversions: 0, value: 0 };
  const members: number[] = [];
  for (let row = 0; row < paths.length; row++) {
    const { path, conversions, nonConversions, value } = paths[row];
    checkPathCounts(row, conversions, nonConversions, value);
    const journeys = conversions + nonConversions;
    if (journeys === 0) continue;
    let mask = 0;
    let maskable = true;
    members.length = 0;
    for (const name of path) {
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
        if (members.includes(channel)) continue;
        maskable = false;
      }
      members.push(channel);
    }
    if (members.length === 0) {
      emptyPaths.rows++;
      emptyPaths.journeys += journeys;
      emptyPaths.conversions += conversions;
      emptyPaths.value += value;
      continue;
    }
    const key = maskable
      ? mask
      : members.slice().sort((a, b) => a - b).join(",");
    const coalition = coalitions.get(key);
    if (coalition) {
      coalition.journeys += journeys;
      coalition.conversions += conversions;
      coalition.value += value;
    } else {
      const sorted = members.slice().sort((a, b) => a - b);
      coalitions.set(key, { members: sorted, journeys, conversions, value });
    }
  }

  // MINIMUM SUPPORT
  const kept: Coalition[] = [];
  const dropped: Coalition[] = [];
  for (const coalition of coalitions.values()) {
    (coalition.journeys >= minUsers ? kept : dropped).push(coalition);
  }
  const keptTotals = sumAmounts(kept);
  const droppedTotals = sumAmounts(dropped);
  const namesOf = (coalition: Coalition) =>
    coalition.members.map((channel) => channels[channel]).sort(byName);

  // SHARE OUT EACH COALITION'S WORTH
  const conversions = new Array<number>(channels.length).fill(0);
  const value = new Array<number>(channels.length).fill(0);
  const credited = new Uint8Array(channels.length);
  for (const coalition of kept) {
    const size = coalition.members.length;
    for (const channel of coalition.members) {
      conversions[channel] += coalition.conversions / size;
      value[channel] += coalition.value / size;
      credited[channel] = 1;
    }
  }
  const creditedChannels = channels.map((_, channel) => channel).filter((c) =>
    credited[c]
  );
  if (creditedChannels.length > 0) {
    settleRemainderOnLargest(
      conversions,
      keptTotals.conversions,
      creditedChannels,
    );
    settleRemainderOnLargest(value, keptTotals.value, creditedChannels);
  }
  const credits: ChannelCredit[] = creditedChannels
    .map((channel) => ({
      channel: channels[channel],
      conversions: conversions[channel],
      value: value[channel],
      share: keptTotals.conversions > 0
        ? conversions[channel] / keptTotals.conversions
        : 0,
    }))
    .sort((a, b) => byName(a.channel, b.channel));

  return {
    credits,
    diagnostics: {
      model: "shapley",
      minUsers,
      coalitions: coalitions.size,
      kept: { coalitions: kept.length, ...keptTotals },
      dropped: {
        coalitions: dropped.length,
        sets: dropped.map(namesOf).sort(bySetNames),
        ...droppedTotals,
      },
      emptyPaths,
      ...(kept.length === 0 && coalitions.size > 0
        ? {
          note:
            `every channel set was seen on fewer than ${minUsers} journeys; ` +
            "nothing is attributed",
        }
        : {}),
    },
  };
}

function sumAmounts(coalitions: Coalition[]): Amounts {
  const totals = { journeys: 0, conversions: 0, value: 0 };
  for (const coalition of coalitions) {
    totals.journeys += coalition.journeys;
    totals.conversions += coalition.conversions;
    totals.value += coalition.value;
  }
  return totals;
}

function bySetNames(a: string[], b: string[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const order = byName(a[i], b[i]);
    if (order !== 0) return order;
  }
  return a.length - b.length;
}

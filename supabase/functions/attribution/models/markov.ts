// Markov-chain attribution by removal effect (Anderl et al. 2016, the model
// the ChannelAttribution package made popular). Journeys, converting and not,
// become an absorbing chain from (start) through channel states to
// (conversion) or (null); a channel is worth what the conversion probability
// loses when it is removed. Unlike position rules it credits a channel for
// what it adds to conversion rates, not for merely being on the path.
//
// States follow ChannelAttribution: consecutive repeats of a channel are
// collapsed ([A, A, B] is [A, B]), then a chain of order k has one state per
// window of k consecutive channels, and a journey shorter than k is a single
// state of all its channels. (ChannelAttribution collapses repeated *states*
// rather than channels, which is the same at k = 1; collapsing channels first
// means [A, A, B] and [A, B] also agree at k = 2 and 3, which is what a
// reader of "repeats collapse" expects.) Transitions are weighted by the
// journeys along them; the last state sends conversions to (conversion) and
// non-conversions to (null). Removing channel c sends every transition into a
// state containing c to (null).
//
// The chain is solved exactly rather than simulated (ChannelAttribution
// simulates), so the same data always gives the same credits. With x(s) the
// probability of converting from state s, x = Qx + b where Q holds
// transient-to-transient probabilities and b the one-step conversion
// probabilities; every state lies on an observed journey that ends, so I - Q
// is a non-singular M-matrix. One solve gives P = x(start), and one more per
// channel gives P without it: 13 solves for 12 channels. Small chains (k = 1,
// and k = 2 over a dozen channels) are solved directly by ml-matrix's LU. A
// third-order chain over 12 channels has ~1,600 states but only ~11 successors
// each, so 13 dense LUs (1,600³ / 3 flops each) would take seconds while a
// sparse Gauss-Seidel sweep costs one pass over ~20k transitions. Sweeps visit
// states in DFS post-order from (start), successors first, so on the acyclic
// parts of the chain (most of it) one sweep is already exact; it stops when no
// probability moves by more than 1e-13, which is deterministic, and reports
// the sweeps it took. Gauss-Seidel converges for non-singular M-matrices:
// from x = 0 (the first solve) it rises monotonically to the solution, and
// from the full chain's solution (each removal's start, an upper bound) it
// falls. Removal effects agree with LU's to ~1e-12; the tests check both
// solvers against each other and P against the observed conversion rate,
// which an exactly solved chain must reproduce.
//
// Journeys with no touches have nothing to credit: they are left out of the
// chain and the totals, and reported in diagnostics.emptyPaths.
import {
  byName,
  checkPathCounts,
  settleRemainderOnLargest,
} from "./credits.ts";
import { LuDecomposition, Matrix } from "ml-matrix";
import type { ChannelCredit, ModelResult, PathRow } from "./types.ts";

export type MarkovOrder = 1 | 2 | 3;
export type MarkovSolver = "auto" | "lu" | "gauss-seidel";

export type MarkovOptions = {
  order: MarkovOrder;
  /**
   * "auto" (the default) uses LU up to LU_MAX_STATES states and Gauss-Seidel
   * beyond. Forcing one lets the tests check that the two agree.
   */
  solver?: MarkovSolver;
};

/** Dense LU of n states costs n³/3 flops; past this, sparse sweeps win. */
const LU_MAX_STATES = 200;
const GAUSS_SEIDEL_TOLERANCE = 1e-13;
/** Only a pathological chain (near-certain loops) would need this many. */
const GAUSS_SEIDEL_MAX_SWEEPS = 1_000_000;
/** Removal effects this small are solver noise, not a channel's worth. */
const NEGLIGIBLE_REMOVAL_EFFECT = 1e-12;
/** Window keys are base-2^17 numbers of (channel id + 1): three digits fit in 2^53. */
const WINDOW_KEY_BASE = 2 ** 17;

/** Removal-effect attribution on a Markov chain of order 1, 2 or 3. */
export function markov(paths: PathRow[], opts: MarkovOptions): ModelResult {
  const { order } = opts;
  if (order !== 1 && order !== 2 && order !== 3) {
    throw new RangeError(`order must be 1, 2 or 3, got ${order}`);
  }
  const chain = buildChain(paths, order);
  const method = chooseSolver(opts.solver ?? "auto", chain.stateCount);
  const channelCount = chain.channels.length;

  const base = solveConversionProbability(chain, null, method, null);
  const conversionProbability = base.probability;
  const removalEffects = new Array<number>(channelCount).fill(0);
  const sweeps = [base.sweeps];
  if (conversionProbability > 0) {
    for (let channel = 0; channel < channelCount; channel++) {
      const removed = statesContaining(chain, channel);
      const without = solveConversionProbability(
        chain,
        removed,
        method,
        base.solution,
      );
      sweeps.push(without.sweeps);
      const effect = 1 - without.probability / conversionProbability;
      removalEffects[channel] = effect < NEGLIGIBLE_REMOVAL_EFFECT
        ? 0
        : Math.min(effect, 1);
    }
  }

  const credits = creditsInProportion(
    chain.channels,
    removalEffects,
    chain.totals,
  );
  return {
    credits,
    diagnostics: {
      model: "markov",
      order,
      // Channel states; (start), (conversion) and (null) are not counted
      // here, but transitions from and into them are.
      states: chain.stateCount - 1,
      transitions: chain.transitionCount,
      conversionProbability,
      removalEffects: Object.fromEntries(
        chain.channels.map((name, channel) => [name, removalEffects[channel]]),
      ),
      solver: {
        method,
        solves: sweeps.length,
        ...(method === "gauss-seidel"
          ? {
            tolerance: GAUSS_SEIDEL_TOLERANCE,
            sweeps: sweeps.reduce((sum, n) => sum + n, 0),
            maxSweepsPerSolve: Math.max(...sweeps),
          }
          : {}),
      },
      journeys: chain.totals.journeys,
      conversions: chain.totals.conversions,
      value: chain.totals.value,
      emptyPaths: chain.emptyPaths,
    },
  };
}

// ---------------------------------------------------------------------------
// BUILD THE CHAIN

type Totals = { journeys: number; conversions: number; value: number };

type Chain = {
  /** Channel names by id, in order of first appearance. */
  channels: string[];
  /** Transient states; id 0 is (start). */
  stateCount: number;
  /** order channel ids per state, -1 padded (and all -1 for start). */
  stateChannels: Int32Array;
  order: number;
  /** CSR rows of transient-to-transient transition probabilities. */
  rowStart: Int32Array;
  target: Int32Array;
  probability: Float64Array;
  /** One-step probability of (conversion) from each state. */
  toConversion: Float64Array;
  /** Distinct transitions with weight, (start) and absorbing ones included. */
  transitionCount: number;
  totals: Totals;
  /** Journeys with no touches: nothing to credit, so left out and reported. */
  emptyPaths: { rows: number } & Totals;
};

function buildChain(paths: PathRow[], order: number): Chain {
  const channelIds = new Map<string, number>();
  const channels: string[] = [];
  const stateIds = new Map<number, number>();
  const stateChannels: number[] = new Array(order).fill(-1);
  const outWeight: number[] = [0];
  const conversionWeight: number[] = [0];
  const nullWeight: number[] = [0];
  // Transitions are found by (state, next channel) in small per-state maps
  // with integer keys; the window-key lookup runs only when a transition is
  // first seen. This is most of the model's running time on 100k journeys.
  const edgeFrom: number[] = [];
  const edgeTo: number[] = [];
  const edgeWeight: number[] = [];
  const edgesFromStart = new Map<number, number>();
  const edgesByNextChannel: Map<number, number>[] = [new Map()];
  const totals: Totals = { journeys: 0, conversions: 0, value: 0 };
  const emptyPaths = { rows: 0, journeys: 0, conversions: 0, value: 0 };
  let collapsed = new Int32Array(64);
  let collapsedLength = 0;

  const windowKey = (first: number, length: number) => {
    let key = 0;
    for (let i = first + length - 1; i >= first; i--) {
      key = key * WINDOW_KEY_BASE + collapsed[i] + 1;
    }
    return key;
  };
  const stateFor = (first: number, length: number) => {
    const key = windowKey(first, length);
    let state = stateIds.get(key);
    if (state === undefined) {
      state = outWeight.length;
      stateIds.set(key, state);
      for (let i = 0; i < order; i++) {
        stateChannels.push(i < length ? collapsed[first + i] : -1);
      }
      outWeight.push(0);
      conversionWeight.push(0);
      nullWeight.push(0);
      edgesByNextChannel.push(new Map());
    }
    return state;
  };
  const newEdge = (from: number, to: number) => {
    edgeFrom.push(from);
    edgeTo.push(to);
    edgeWeight.push(0);
    return edgeFrom.length - 1;
  };

  for (let row = 0; row < paths.length; row++) {
    const { path, conversions, nonConversions, value } = paths[row];
    checkPathCounts(row, conversions, nonConversions, value);
    const journeys = conversions + nonConversions;
    if (journeys === 0) continue;

    if (collapsed.length < path.length) {
      collapsed = new Int32Array(path.length * 2);
    }
    collapsedLength = 0;
    for (const name of path) {
      let channel = channelIds.get(name);
      if (channel === undefined) {
        channel = channels.length;
        if (channel + 1 >= WINDOW_KEY_BASE) {
          throw new RangeError(`more than ${WINDOW_KEY_BASE - 2} channels`);
        }
        channelIds.set(name, channel);
        channels.push(name);
      }
      if (collapsedLength === 0 || collapsed[collapsedLength - 1] !== channel) {
        collapsed[collapsedLength++] = channel;
      }
    }
    if (collapsedLength === 0) {
      emptyPaths.rows++;
      emptyPaths.journeys += journeys;
      emptyPaths.conversions += conversions;
      emptyPaths.value += value;
      continue;
    }
    totals.journeys += journeys;
    totals.conversions += conversions;
    totals.value += value;

    const firstLength = Math.min(order, collapsedLength);
    const firstKey = windowKey(0, firstLength);
    let edge = edgesFromStart.get(firstKey);
    if (edge === undefined) {
      edge = newEdge(0, stateFor(0, firstLength));
      edgesFromStart.set(firstKey, edge);
    }
    edgeWeight[edge] += journeys;
    outWeight[0] += journeys;
    let previous = edgeTo[edge];
    // A full window moves on by one channel, so (state, next channel)
    // determines the next state.
    for (let next = firstLength; next < collapsedLength; next++) {
      const byNextChannel = edgesByNextChannel[previous];
      edge = byNextChannel.get(collapsed[next]);
      if (edge === undefined) {
        edge = newEdge(previous, stateFor(next - order + 1, order));
        byNextChannel.set(collapsed[next], edge);
      }
      edgeWeight[edge] += journeys;
      outWeight[previous] += journeys;
      previous = edgeTo[edge];
    }
    conversionWeight[previous] += conversions;
    nullWeight[previous] += nonConversions;
    outWeight[previous] += journeys;
  }

  // Compress to CSR rows of probabilities, in the order edges were first seen.
  const stateCount = outWeight.length;
  const edgeCount = edgeFrom.length;
  const rowStart = new Int32Array(stateCount + 1);
  for (let e = 0; e < edgeCount; e++) rowStart[edgeFrom[e] + 1]++;
  for (let s = 0; s < stateCount; s++) rowStart[s + 1] += rowStart[s];
  const fill = rowStart.slice(0, stateCount);
  const target = new Int32Array(edgeCount);
  const probability = new Float64Array(edgeCount);
  for (let e = 0; e < edgeCount; e++) {
    const at = fill[edgeFrom[e]]++;
    target[at] = edgeTo[e];
    probability[at] = edgeWeight[e] / outWeight[edgeFrom[e]];
  }
  const toConversion = new Float64Array(stateCount);
  let absorbingTransitions = 0;
  for (let s = 0; s < stateCount; s++) {
    if (outWeight[s] > 0) toConversion[s] = conversionWeight[s] / outWeight[s];
    if (conversionWeight[s] > 0) absorbingTransitions++;
    if (nullWeight[s] > 0) absorbingTransitions++;
  }

  return {
    channels,
    stateCount,
    stateChannels: Int32Array.from(stateChannels),
    order,
    rowStart,
    target,
    probability,
    toConversion,
    transitionCount: edgeCount + absorbingTransitions,
    totals,
    emptyPaths,
  };
}

function statesContaining(chain: Chain, channel: number): Uint8Array {
  const removed = new Uint8Array(chain.stateCount);
  const { stateChannels, order } = chain;
  for (let s = 1; s < chain.stateCount; s++) {
    for (let i = 0; i < order; i++) {
      if (stateChannels[s * order + i] === channel) {
        removed[s] = 1;
        break;
      }
    }
  }
  return removed;
}

// ---------------------------------------------------------------------------
// SOLVE FOR P(conversion | start)

type Solution = { probability: number; sweeps: number; solution: Float64Array };

function chooseSolver(
  requested: MarkovSolver,
  stateCount: number,
): "lu" | "gauss-seidel" {
  if (requested === "auto") {
    return stateCount <= LU_MAX_STATES ? "lu" : "gauss-seidel";
  }
  if (requested === "lu" || requested === "gauss-seidel") return requested;
  throw new RangeError(`unknown solver ${requested}`);
}

/** Conversion probability from (start), with `removed` states sent to (null). */
function solveConversionProbability(
  chain: Chain,
  removed: Uint8Array | null,
  method: "lu" | "gauss-seidel",
  warmStart: Float64Array | null,
): Solution {
  return method === "lu"
    ? solveByLu(chain, removed)
    : solveByGaussSeidel(chain, removed, warmStart);
}

function solveByLu(chain: Chain, removed: Uint8Array | null): Solution {
  const { stateCount, rowStart, target, probability, toConversion } = chain;
  // Removed states are absorbing at 0, so they leave the system entirely.
  const local = new Int32Array(stateCount).fill(-1);
  let size = 0;
  for (let s = 0; s < stateCount; s++) if (!removed?.[s]) local[s] = size++;
  const lhs = Matrix.eye(size, size);
  const rhs = Matrix.zeros(size, 1);
  for (let s = 0; s < stateCount; s++) {
    const i = local[s];
    if (i < 0) continue;
    rhs.set(i, 0, toConversion[s]);
    for (let e = rowStart[s]; e < rowStart[s + 1]; e++) {
      const j = local[target[e]];
      if (j >= 0) lhs.set(i, j, lhs.get(i, j) - probability[e]);
    }
  }
  const x = new LuDecomposition(lhs).solve(rhs);
  const solution = new Float64Array(stateCount);
  for (let s = 0; s < stateCount; s++) {
    if (local[s] >= 0) solution[s] = x.get(local[s], 0);
  }
  return { probability: solution[0], sweeps: 0, solution };
}

function solveByGaussSeidel(
  chain: Chain,
  removed: Uint8Array | null,
  warmStart: Float64Array | null,
): Solution {
  const { rowStart, target, probability, toConversion } = chain;
  const visitOrder = successorsFirst(chain);
  // Starting from the full chain's solution (an upper bound) only the part
  // of the chain that the removal changed has far to move.
  const x = warmStart ? warmStart.slice() : new Float64Array(chain.stateCount);
  if (removed) {
    for (let s = 0; s < x.length; s++) if (removed[s]) x[s] = 0;
  }
  for (let sweep = 1; sweep <= GAUSS_SEIDEL_MAX_SWEEPS; sweep++) {
    let largestChange = 0;
    for (let i = 0; i < visitOrder.length; i++) {
      const s = visitOrder[i];
      if (removed?.[s]) continue;
      let next = toConversion[s];
      for (let e = rowStart[s]; e < rowStart[s + 1]; e++) {
        next += probability[e] * x[target[e]];
      }
      const change = Math.abs(next - x[s]);
      if (change > largestChange) largestChange = change;
      x[s] = next;
    }
    if (largestChange <= GAUSS_SEIDEL_TOLERANCE) {
      return { probability: x[0], sweeps: sweep, solution: x };
    }
  }
  throw new Error(
    `Gauss-Seidel did not converge in ${GAUSS_SEIDEL_MAX_SWEEPS} sweeps`,
  );
}

/**
 * DFS post-order from (start): each state after the states it leads to,
 * except where a loop makes that impossible. O(states + transitions).
 */
function successorsFirst(chain: Chain): Int32Array {
  const { stateCount, rowStart, target } = chain;
  const order = new Int32Array(stateCount);
  const visited = new Uint8Array(stateCount);
  const stack = new Int32Array(stateCount);
  const nextEdge = new Int32Array(stateCount);
  let written = 0;
  let depth = 0;
  stack[depth++] = 0;
  visited[0] = 1;
  nextEdge[0] = rowStart[0];
  while (depth > 0) {
    const s = stack[depth - 1];
    if (nextEdge[s] < rowStart[s + 1]) {
      const t = target[nextEdge[s]++];
      if (!visited[t]) {
        visited[t] = 1;
        nextEdge[t] = rowStart[t];
        stack[depth++] = t;
      }
    } else {
      order[written++] = s;
      depth--;
    }
  }
  // Every state is on a journey from (start), so all were reached.
  return order.subarray(0, written);
}

// ---------------------------------------------------------------------------
// DISTRIBUTE

/**
 * Splits the totals in proportion to `weights`. Floating-point leftovers go
 * to the largest credit so the credits add up to the totals exactly (to the
 * last bit or so), which is what a reader reconciling reports checks first.
 */
function creditsInProportion(
  channels: string[],
  weights: number[],
  totals: Totals,
): ChannelCredit[] {
  const weightSum = weights.reduce((sum, w) => sum + w, 0);
  const conversions = weights.map((w) =>
    weightSum > 0 ? totals.conversions * w / weightSum : 0
  );
  const value = weights.map((w) =>
    weightSum > 0 ? totals.value * w / weightSum : 0
  );
  if (weightSum > 0) {
    settleRemainderOnLargest(conversions, totals.conversions);
    settleRemainderOnLargest(value, totals.value);
  }
  return channels
    .map((channel, i) => ({
      channel,
      conversions: conversions[i],
      value: value[i],
      share: totals.conversions > 0 ? conversions[i] / totals.conversions : 0,
    }))
    .sort(byChannelName);
}

function byChannelName(a: ChannelCredit, b: ChannelCredit): number {
  return byName(a.channel, b.channel);
}

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
//
// The bootstrap (bootstrap.ts) re-solves the chain on redrawn counts a
// hundred times, so what does not depend on counts is done once:
// prepareMarkov parses the paths into states, transitions (CSR) and a trie
// of the rows' channel sequences, and works out which states each removal
// sends to (null) and which can reach those. markovWithCounts weighs that
// structure with a set of counts (one pass over the rows and one up the
// trie, ~1 ms for 100k paths) and solves it; markov(paths) is the two in a
// row. markovShares is the bootstrap's view: shares only, buffers reused,
// small chains solved by plain elimination, larger ones by Gauss-Seidel
// started from the observed counts' solution, solved to 1e-10 and
// extrapolated along the way (sweepUntilConverged), which takes a
// third-order replicate from ~430 sweeps to ~165.
import { byName, countColumns, settleRemainderOnLargest } from "./credits.ts";
import { LuDecomposition, Matrix } from "ml-matrix";
import type {
  ChannelCredit,
  ModelResult,
  PathCounts,
  PathRow,
  ResamplableModel,
} from "./types.ts";

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
/**
 * Up to this many states a bootstrap replicate is solved by plain
 * elimination (solveByElimination, n³/3 flops a solve); past it by
 * Gauss-Seidel started from the observed counts' solution, which a
 * replicate's differs from by its sampling noise. On 100k paths over 12
 * channels k = 1's 13 states take ~0.05 ms a replicate by elimination, and
 * k = 2's 144 states ~0.5 ms by sweeps against ~7 by elimination.
 */
const REPLICATE_ELIMINATION_MAX_STATES = 30;
const GAUSS_SEIDEL_TOLERANCE = 1e-13;
/**
 * A replicate's shares only place an interval's ends, which move by 1e-3 or
 * so from one replicate to the next; solving them to 1e-10 rather than 1e-13
 * saves ~30% of the sweeps.
 */
const REPLICATE_GAUSS_SEIDEL_TOLERANCE = 1e-10;
/**
 * Sweeps shrinking the error more slowly than this are not extrapolated: a
 * jump of λ / (1 - λ) steps is at most 4 here, and a misjudged one costs a
 * few sweeps at most.
 */
const EXTRAPOLATE_BELOW = 0.8;
/** Only a pathological chain (near-certain loops) would need this many. */
const GAUSS_SEIDEL_MAX_SWEEPS = 1_000_000;
/** Removal effects this small are solver noise, not a channel's worth. */
const NEGLIGIBLE_REMOVAL_EFFECT = 1e-12;
/** The same for a replicate, solved to REPLICATE_GAUSS_SEIDEL_TOLERANCE. */
const REPLICATE_NEGLIGIBLE_REMOVAL_EFFECT = 1e-8;
/** Window keys are base-2^17 numbers of (channel id + 1): three digits fit in 2^53. */
const WINDOW_KEY_BASE = 2 ** 17;

/** Removal-effect attribution on a Markov chain of order 1, 2 or 3. */
export function markov(paths: PathRow[], opts: MarkovOptions): ModelResult {
  return markovWithCounts(prepareMarkov(paths, opts.order), undefined, {
    solver: opts.solver,
  });
}

// ---------------------------------------------------------------------------
// PREPARE: WHAT DOES NOT DEPEND ON THE COUNTS

/** What removing one channel does to the chain, worked out once. */
type Removal = {
  /** States containing the channel: sent to (null), their probability 0. */
  removed: Int32Array;
  removedMask: Uint8Array;
  /** States that can reach a removed one, successors first: the ones to solve. */
  affected: Int32Array;
  /** The rest keep the full chain's solution. */
  unaffected: Int32Array;
};

/**
 * The chain's structure over every path row, whatever its counts: states,
 * transitions, the transitions each row walks, and what each removal
 * touches. markovWithCounts weighs it with a set of counts and solves it.
 */
export type PreparedMarkov = {
  readonly order: MarkovOrder;
  /** Path rows prepared; counts columns have this length. */
  readonly rows: number;
  /** The rows' observed counts, checked. */
  readonly counts: PathCounts;
  /** Channel names by id, in order of first appearance. */
  readonly channels: readonly string[];
  /** Transient states; id 0 is (start). */
  readonly stateCount: number;
  /** `order` channel ids per state, -1 padded (all -1 for start). */
  readonly stateChannels: Int32Array;
  /** CSR: the transitions out of state s are rowStart[s] to rowStart[s + 1] - 1. */
  readonly rowStart: Int32Array;
  readonly target: Int32Array;
  /**
   * The trie of rows' channel sequences (see prepareMarkov): each node's
   * parent (nodeCount for depth 1), the transition every row through it
   * walks, and the one a row ending there walks if it is shorter than the
   * order; target.length where there is none.
   */
  readonly nodeParent: Int32Array;
  readonly nodeTransition: Int32Array;
  readonly shortTransition: Int32Array;
  /** The trie node row r ends at, -1 for a path without touches. */
  readonly endNode: Int32Array;
  /** The state row r ends in, -1 for a path without touches. */
  readonly lastState: Int32Array;
  /** DFS post-order from (start): successors first, except around loops. */
  readonly visitOrder: Int32Array;
  /** By channel id. */
  readonly removals: readonly Removal[];
};

/**
 * Parses the paths into the chain's states and transitions once. Rows of
 * every count are included (a row with no journeys just weighs nothing), so
 * the same preparation serves any counts for these rows.
 */
export function prepareMarkov(
  paths: readonly PathRow[],
  order: MarkovOrder,
): PreparedMarkov {
  if (order !== 1 && order !== 2 && order !== 3) {
    throw new RangeError(`order must be 1, 2 or 3, got ${order}`);
  }
  const counts = countColumns(paths);
  const channelIds = new Map<string, number>();
  const channels: string[] = [];
  // Channel ids with repeats collapsed, row after row.
  const sequenceStart = new Int32Array(paths.length + 1);
  let sequence = new Int32Array(Math.max(64, paths.length * 4));
  let written = 0;
  for (let row = 0; row < paths.length; row++) {
    const path = paths[row].path;
    sequenceStart[row] = written;
    if (sequence.length < written + path.length) {
      const grown = new Int32Array((written + path.length) * 2);
      grown.set(sequence);
      sequence = grown;
    }
    const first = written;
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
      if (written === first || sequence[written - 1] !== channel) {
        sequence[written++] = channel;
      }
    }
  }
  sequenceStart[paths.length] = written;
  const stateIds = new Map<number, number>();
  const stateChannels: number[] = new Array(order).fill(-1);
  // Transitions are found by (state, next channel) in small per-state maps
  // with integer keys, and only when a trie node (below) is first made; the
  // window-key lookup runs only when a transition is first seen.
  const edgeFrom: number[] = [];
  const edgeTo: number[] = [];
  const edgesFromStart = new Map<number, number>();
  const edgesByNextChannel: Map<number, number>[] = [new Map()];
  // Rows are walked along a trie of their (collapsed) channel sequences: a
  // node per distinct prefix, keyed by (parent node, channel). A prefix at
  // least `order` long ends in a transition that every row through the node
  // walks, so a row's journeys are added at its last node once and summed up
  // the trie (weigh), rather than along every transition of every row. A row
  // shorter than the order is one state reached from (start), a transition
  // only rows ending at that node walk. 100k paths of ~6 touches over 12
  // channels make ~160k nodes.
  // No row adds more nodes than it has touches, so `written` bounds them.
  const trie = new NodeTable(written);
  const nodeParent = new Int32Array(written);
  const nodeTransition = new Int32Array(written);
  const nodeState = new Int32Array(written);
  const shortTransition = new Int32Array(written);
  let nodeCount = 0;
  const endNode = new Int32Array(paths.length);
  const lastState = new Int32Array(paths.length);

  /** Where the row being walked starts in `sequence`. */
  let base = 0;
  const windowKey = (first: number, length: number) => {
    let key = 0;
    for (let i = base + first + length - 1; i >= base + first; i--) {
      key = key * WINDOW_KEY_BASE + sequence[i] + 1;
    }
    return key;
  };
  const stateFor = (first: number, length: number) => {
    const key = windowKey(first, length);
    let state = stateIds.get(key);
    if (state === undefined) {
      state = edgesByNextChannel.length;
      stateIds.set(key, state);
      for (let i = 0; i < order; i++) {
        stateChannels.push(i < length ? sequence[base + first + i] : -1);
      }
      edgesByNextChannel.push(new Map());
    }
    return state;
  };
  const edgeFromStart = (length: number) => {
    const key = windowKey(0, length);
    let edge = edgesFromStart.get(key);
    if (edge === undefined) {
      edge = newEdge(0, stateFor(0, length));
      edgesFromStart.set(key, edge);
    }
    return edge;
  };
  const newEdge = (from: number, to: number) => {
    edgeFrom.push(from);
    edgeTo.push(to);
    return edgeFrom.length - 1;
  };

  for (let row = 0; row < paths.length; row++) {
    base = sequenceStart[row];
    const collapsedLength = sequenceStart[row + 1] - base;
    if (collapsedLength === 0) {
      endNode[row] = -1;
      lastState[row] = -1;
      continue;
    }

    let node = -1;
    for (let depth = 1; depth <= collapsedLength; depth++) {
      const channel = sequence[base + depth - 1];
      let child = trie.get(node, channel);
      if (child < 0) {
        child = nodeCount++;
        trie.set(node, channel, child);
        nodeParent[child] = node;
        shortTransition[child] = -1;
        if (depth < order) {
          nodeTransition[child] = -1;
          nodeState[child] = -1;
        } else {
          // A full window moves on by one channel, so (state, next channel)
          // determines the next state.
          let edge: number;
          if (depth === order) {
            edge = edgeFromStart(order);
          } else {
            const byNextChannel = edgesByNextChannel[nodeState[node]];
            const found = byNextChannel.get(channel);
            edge = found ?? newEdge(
              nodeState[node],
              stateFor(depth - order, order),
            );
            if (found === undefined) byNextChannel.set(channel, edge);
          }
          nodeTransition[child] = edge;
          nodeState[child] = edgeTo[edge];
        }
      }
      node = child;
    }
    endNode[row] = node;
    if (nodeState[node] >= 0) {
      lastState[row] = nodeState[node];
    } else {
      if (shortTransition[node] < 0) {
        shortTransition[node] = edgeFromStart(collapsedLength);
      }
      lastState[row] = edgeTo[shortTransition[node]];
    }
  }

  // CSR rows, in the order transitions were first seen reading the rows in
  // order; the trie's transitions are renumbered to CSR positions, "none"
  // to the spare slot at edgeCount.
  const stateCount = edgesByNextChannel.length;
  const edgeCount = edgeFrom.length;
  const rowStart = new Int32Array(stateCount + 1);
  for (let e = 0; e < edgeCount; e++) rowStart[edgeFrom[e] + 1]++;
  for (let s = 0; s < stateCount; s++) rowStart[s + 1] += rowStart[s];
  const fill = rowStart.slice(0, stateCount);
  const target = new Int32Array(edgeCount);
  const position = new Int32Array(edgeCount);
  for (let e = 0; e < edgeCount; e++) {
    const at = fill[edgeFrom[e]]++;
    target[at] = edgeTo[e];
    position[e] = at;
  }
  // Depth-1 nodes' parent becomes the spare slot at nodeCount.
  const parents = nodeParent.slice(0, nodeCount);
  const transitions = nodeTransition.slice(0, nodeCount);
  const shortTransitions = shortTransition.slice(0, nodeCount);
  for (let node = 0; node < nodeCount; node++) {
    if (parents[node] < 0) parents[node] = nodeCount;
    const edge = transitions[node];
    transitions[node] = edge < 0 ? edgeCount : position[edge];
    const short = shortTransitions[node];
    shortTransitions[node] = short < 0 ? edgeCount : position[short];
  }

  const stateChannelIds = Int32Array.from(stateChannels);
  const visitOrder = successorsFirst(stateCount, rowStart, target);
  return {
    order,
    rows: paths.length,
    counts,
    channels,
    stateCount,
    stateChannels: stateChannelIds,
    rowStart,
    target,
    nodeParent: parents,
    nodeTransition: transitions,
    shortTransition: shortTransitions,
    endNode,
    lastState,
    visitOrder,
    removals: channels.map((_, channel) =>
      removalOf(
        channel,
        stateChannelIds,
        order,
        rowStart,
        target,
        visitOrder,
      )
    ),
  };
}

/**
 * The trie's children: (parent node, channel) → node, open addressing in
 * typed arrays (a Map of 160k entries costs several times as much to fill
 * and probe). Parent -1 is the root.
 */
class NodeTable {
  #parent: Int32Array;
  #channel: Int32Array;
  #node: Int32Array;
  #bits: number;
  #size = 0;

  constructor(expected: number) {
    this.#bits = Math.max(10, Math.ceil(Math.log2(Math.max(expected, 1))));
    this.#parent = new Int32Array(1 << this.#bits);
    this.#channel = new Int32Array(1 << this.#bits);
    this.#node = new Int32Array(1 << this.#bits).fill(-1);
  }

  #slot(parent: number, channel: number): number {
    const mask = (1 << this.#bits) - 1;
    let slot = Math.imul(
      (parent + 1) ^ Math.imul(channel, 0x85ebca77),
      0x9e3779b1,
    ) >>> (32 - this.#bits);
    while (
      this.#node[slot] >= 0 &&
      (this.#parent[slot] !== parent || this.#channel[slot] !== channel)
    ) {
      slot = (slot + 1) & mask;
    }
    return slot;
  }

  /** The child of `parent` along `channel`, -1 if there is none yet. */
  get(parent: number, channel: number): number {
    return this.#node[this.#slot(parent, channel)];
  }

  set(parent: number, channel: number, node: number) {
    // At most half full, so probes stay short.
    if (2 * (this.#size + 1) > 1 << this.#bits) this.#grow();
    const slot = this.#slot(parent, channel);
    this.#parent[slot] = parent;
    this.#channel[slot] = channel;
    this.#node[slot] = node;
    this.#size++;
  }

  #grow() {
    const parents = this.#parent;
    const channels = this.#channel;
    const nodes = this.#node;
    this.#bits++;
    this.#parent = new Int32Array(1 << this.#bits);
    this.#channel = new Int32Array(1 << this.#bits);
    this.#node = new Int32Array(1 << this.#bits).fill(-1);
    for (let slot = 0; slot < nodes.length; slot++) {
      if (nodes[slot] < 0) continue;
      const to = this.#slot(parents[slot], channels[slot]);
      this.#parent[to] = parents[slot];
      this.#channel[to] = channels[slot];
      this.#node[to] = nodes[slot];
    }
  }
}

/**
 * DFS post-order from (start): each state after the states it leads to,
 * except where a loop makes that impossible. O(states + transitions).
 */
function successorsFirst(
  stateCount: number,
  rowStart: Int32Array,
  target: Int32Array,
): Int32Array {
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
  // Every state is on a path from (start), so all were reached.
  return order.subarray(0, written);
}

/** The states containing `channel`, and the states that can reach them. */
function removalOf(
  channel: number,
  stateChannels: Int32Array,
  order: number,
  rowStart: Int32Array,
  target: Int32Array,
  visitOrder: Int32Array,
): Removal {
  const stateCount = rowStart.length - 1;
  const removedMask = new Uint8Array(stateCount);
  for (let s = 1; s < stateCount; s++) {
    for (let i = 0; i < order; i++) {
      if (stateChannels[s * order + i] === channel) {
        removedMask[s] = 1;
        break;
      }
    }
  }
  // Successors come first in visitOrder, so one pass marks every state with
  // a transition into a removed or affected state, except around loops;
  // repeating until nothing changes settles those.
  const affectedMask = new Uint8Array(stateCount);
  for (let changed = true; changed;) {
    changed = false;
    for (let i = 0; i < visitOrder.length; i++) {
      const s = visitOrder[i];
      if (removedMask[s] || affectedMask[s]) continue;
      for (let e = rowStart[s]; e < rowStart[s + 1]; e++) {
        const t = target[e];
        if (removedMask[t] || affectedMask[t]) {
          affectedMask[s] = 1;
          changed = true;
          break;
        }
      }
    }
  }
  const removed: number[] = [];
  const affected: number[] = [];
  const unaffected: number[] = [];
  for (let s = 0; s < stateCount; s++) {
    if (removedMask[s]) removed.push(s);
    else if (!affectedMask[s]) unaffected.push(s);
  }
  for (let i = 0; i < visitOrder.length; i++) {
    if (affectedMask[visitOrder[i]]) affected.push(visitOrder[i]);
  }
  return {
    removed: Int32Array.from(removed),
    removedMask,
    affected: Int32Array.from(affected),
    unaffected: Int32Array.from(unaffected),
  };
}

// ---------------------------------------------------------------------------
// WEIGH: THE CHAIN UNDER ONE SET OF COUNTS

type Totals = { journeys: number; conversions: number; value: number };

type Weighted = {
  /** Journeys along each transition (CSR order, then a spare), and its probability. */
  weight: Float64Array;
  /** Journeys through each trie node (then a spare). */
  nodeWeight: Float64Array;
  probability: Float64Array;
  conversionWeight: Float64Array;
  nullWeight: Float64Array;
  /** One-step probability of (conversion) from each state. */
  toConversion: Float64Array;
  /** Gauss-Seidel's scratch: each state's value before the last sweep. */
  before: Float64Array;
  /** States with journeys through them; only these are in the chain. */
  active: Uint8Array;
  /** Channel states among them, (start) not counted. */
  activeStates: number;
  /** Channels of active states, ascending. */
  activeChannels: number[];
  /** Transitions with weight, (start) and absorbing ones included. */
  transitionCount: number;
  totals: Totals;
  /** Journeys with no touches: nothing to credit, so left out and reported. */
  emptyPaths: { rows: number } & Totals;
};

function weighted(prepared: PreparedMarkov): Weighted {
  const transitions = prepared.target.length;
  const states = prepared.stateCount;
  return {
    weight: new Float64Array(transitions + 1),
    nodeWeight: new Float64Array(prepared.nodeParent.length + 1),
    probability: new Float64Array(transitions),
    conversionWeight: new Float64Array(states),
    nullWeight: new Float64Array(states),
    toConversion: new Float64Array(states),
    before: new Float64Array(states),
    active: new Uint8Array(states),
    activeStates: 0,
    activeChannels: [],
    transitionCount: 0,
    totals: { journeys: 0, conversions: 0, value: 0 },
    emptyPaths: { rows: 0, journeys: 0, conversions: 0, value: 0 },
  };
}

/** Sums `counts` onto the transitions their rows walk, into `into`. */
function weigh(prepared: PreparedMarkov, counts: PathCounts, into: Weighted) {
  const {
    nodeParent,
    nodeTransition,
    shortTransition,
    endNode,
    lastState,
    rowStart,
    stateCount,
  } = prepared;
  const { conversions, nonConversions, value } = counts;
  if (
    conversions.length !== prepared.rows ||
    nonConversions.length !== prepared.rows || value.length !== prepared.rows
  ) {
    throw new RangeError(`counts must have ${prepared.rows} rows`);
  }
  const {
    weight,
    nodeWeight,
    probability,
    conversionWeight,
    nullWeight,
    toConversion,
    active,
    totals,
    emptyPaths,
  } = into;
  weight.fill(0);
  nodeWeight.fill(0);
  conversionWeight.fill(0);
  nullWeight.fill(0);
  let journeysSum = 0;
  let conversionsSum = 0;
  let valueSum = 0;
  let emptyRows = 0;
  let emptyJourneys = 0;
  let emptyConversions = 0;
  let emptyValue = 0;
  for (let row = 0; row < prepared.rows; row++) {
    const converted = conversions[row];
    const notConverted = nonConversions[row];
    const journeys = converted + notConverted;
    if (journeys === 0) continue;
    const node = endNode[row];
    if (node < 0) {
      emptyRows++;
      emptyJourneys += journeys;
      emptyConversions += converted;
      emptyValue += value[row];
      continue;
    }
    journeysSum += journeys;
    conversionsSum += converted;
    valueSum += value[row];
    nodeWeight[node] += journeys;
    weight[shortTransition[node]] += journeys;
    const last = lastState[row];
    conversionWeight[last] += converted;
    nullWeight[last] += notConverted;
  }
  totals.journeys = journeysSum;
  totals.conversions = conversionsSum;
  totals.value = valueSum;
  emptyPaths.rows = emptyRows;
  emptyPaths.journeys = emptyJourneys;
  emptyPaths.conversions = emptyConversions;
  emptyPaths.value = emptyValue;
  // Children were numbered after their parents: up the trie in one pass.
  for (let node = nodeParent.length - 1; node >= 0; node--) {
    const journeys = nodeWeight[node];
    weight[nodeTransition[node]] += journeys;
    nodeWeight[nodeParent[node]] += journeys;
  }

  let activeStates = 0;
  let transitionCount = 0;
  for (let s = 0; s < stateCount; s++) {
    let out = conversionWeight[s] + nullWeight[s];
    const end = rowStart[s + 1];
    for (let e = rowStart[s]; e < end; e++) out += weight[e];
    if (out > 0) {
      active[s] = 1;
      if (s > 0) activeStates++;
      toConversion[s] = conversionWeight[s] / out;
      for (let e = rowStart[s]; e < end; e++) {
        probability[e] = weight[e] / out;
        if (weight[e] > 0) transitionCount++;
      }
      if (conversionWeight[s] > 0) transitionCount++;
      if (nullWeight[s] > 0) transitionCount++;
    } else {
      active[s] = 0;
      toConversion[s] = 0;
      for (let e = rowStart[s]; e < end; e++) probability[e] = 0;
    }
  }
  into.activeStates = activeStates;
  into.transitionCount = transitionCount;

  const { stateChannels, order } = prepared;
  const hasChannel = new Uint8Array(prepared.channels.length);
  for (let s = 1; s < stateCount; s++) {
    if (!active[s]) continue;
    for (let i = 0; i < order; i++) {
      const channel = stateChannels[s * order + i];
      if (channel >= 0) hasChannel[channel] = 1;
    }
  }
  into.activeChannels = [];
  for (let c = 0; c < hasChannel.length; c++) {
    if (hasChannel[c]) into.activeChannels.push(c);
  }
}

// ---------------------------------------------------------------------------
// SOLVE FOR P(conversion | start), WITH AND WITHOUT EACH CHANNEL

type Solved = {
  conversionProbability: number;
  /** By channel id; 0 for channels not in the chain. */
  removalEffects: Float64Array;
  /** Gauss-Seidel sweeps per solve (0 for LU), the full chain's first. */
  sweeps: number[];
};

/**
 * Gauss-Seidel solutions of one chain: with every channel, and without each
 * (null where that was not solved).
 */
type Solutions = {
  full: Float64Array;
  without: (Float64Array | null)[];
};

function emptySolutions(prepared: PreparedMarkov): Solutions {
  return {
    full: new Float64Array(prepared.stateCount),
    without: prepared.channels.map(() => null),
  };
}

function chooseSolver(
  requested: MarkovSolver,
  stateCount: number,
  luMaxStates: number,
): "lu" | "gauss-seidel" {
  if (requested === "auto") {
    return stateCount <= luMaxStates ? "lu" : "gauss-seidel";
  }
  if (requested === "lu" || requested === "gauss-seidel") return requested;
  throw new RangeError(`unknown solver ${requested}`);
}

type Precision = {
  /** Gauss-Seidel stops when no probability moves by more than this. */
  tolerance: number;
  /** Whether sweeps may be extrapolated (see sweepUntilConverged). */
  extrapolate: boolean;
  /** Removal effects below this are taken as 0. */
  negligible: number;
};

/**
 * Solves the weighed chain with every channel and without each active one.
 * Gauss-Seidel starts from `startFrom` where given (the solutions of a
 * chain with nearly the same weights) and writes into `into` (fresh arrays
 * unless given).
 */
function solveRemovals(
  prepared: PreparedMarkov,
  chain: Weighted,
  method: Method,
  { tolerance, extrapolate, negligible }: Precision,
  startFrom: Solutions | null = null,
  into: Solutions = emptySolutions(prepared),
): Solved & { solutions: Solutions } {
  const removalEffects = new Float64Array(prepared.channels.length);
  const sweeps: number[] = [];
  let full: Float64Array;
  if (method !== "gauss-seidel") {
    full = directly(method, prepared, chain, null);
    sweeps.push(0);
  } else {
    full = into.full;
    if (startFrom) full.set(startFrom.full);
    else full.fill(0);
    sweeps.push(
      sweepUntilConverged(
        prepared,
        chain,
        prepared.visitOrder,
        full,
        tolerance,
        extrapolate,
      ),
    );
  }
  const conversionProbability = full[0];
  if (conversionProbability > 0) {
    for (const channel of chain.activeChannels) {
      const removal = prepared.removals[channel];
      let without: Float64Array;
      if (method !== "gauss-seidel") {
        without = directly(method, prepared, chain, removal.removedMask);
        sweeps.push(0);
      } else {
        // States that cannot reach the channel keep the full chain's
        // solution. The others start from the given solution without the
        // channel if there is one, else from the full chain's solution (an
        // upper bound, from which the sweeps fall monotonically).
        without = into.without[channel] ??= new Float64Array(full.length);
        const start = startFrom?.without[channel];
        if (start) {
          without.set(start);
          for (const s of removal.unaffected) without[s] = full[s];
        } else {
          without.set(full);
        }
        for (const s of removal.removed) without[s] = 0;
        sweeps.push(
          sweepUntilConverged(
            prepared,
            chain,
            removal.affected,
            without,
            tolerance,
            extrapolate,
          ),
        );
      }
      const effect = 1 - without[0] / conversionProbability;
      removalEffects[channel] = effect < negligible ? 0 : Math.min(effect, 1);
    }
  }
  return { conversionProbability, removalEffects, sweeps, solutions: into };
}

/**
 * How a chain is solved: LU (ml-matrix), plain Gaussian elimination (the
 * bootstrap's small chains) or Gauss-Seidel sweeps.
 */
type Method = "lu" | "elimination" | "gauss-seidel";

function directly(
  method: "lu" | "elimination",
  prepared: PreparedMarkov,
  chain: Weighted,
  removed: Uint8Array | null,
): Float64Array {
  return method === "lu"
    ? solveByLu(prepared, chain, removed)
    : solveByElimination(prepared, chain, removed);
}

/** Solves x = Qx + b over active states not `removed`; the rest are 0. */
function solveByLu(
  prepared: PreparedMarkov,
  chain: Weighted,
  removed: Uint8Array | null,
): Float64Array {
  const { stateCount, rowStart, target } = prepared;
  const { probability, toConversion, active } = chain;
  // Removed states are absorbing at 0, so they leave the system entirely.
  const local = new Int32Array(stateCount).fill(-1);
  let size = 0;
  for (let s = 0; s < stateCount; s++) {
    if (active[s] && !removed?.[s]) local[s] = size++;
  }
  const solution = new Float64Array(stateCount);
  if (size === 0) return solution;
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
  for (let s = 0; s < stateCount; s++) {
    if (local[s] >= 0) solution[s] = x.get(local[s], 0);
  }
  return solution;
}

/**
 * solveByLu's system solved by Gaussian elimination in one Float64Array, for
 * the bootstrap: ml-matrix builds matrix objects for every solve, which on a
 * 12-state chain costs ten times the arithmetic (and a replicate is 13
 * solves). I - Q is a non-singular M-matrix, weakly diagonally dominant by
 * rows, so elimination needs no pivoting and its growth stays below 2.
 */
function solveByElimination(
  prepared: PreparedMarkov,
  chain: Weighted,
  removed: Uint8Array | null,
): Float64Array {
  const { stateCount, rowStart, target } = prepared;
  const { probability, toConversion, active } = chain;
  const local = new Int32Array(stateCount).fill(-1);
  let n = 0;
  for (let s = 0; s < stateCount; s++) {
    if (active[s] && !removed?.[s]) local[s] = n++;
  }
  const a = new Float64Array(n * n);
  const x = new Float64Array(n);
  for (let s = 0; s < stateCount; s++) {
    const i = local[s];
    if (i < 0) continue;
    a[i * n + i] = 1;
    x[i] = toConversion[s];
    for (let e = rowStart[s]; e < rowStart[s + 1]; e++) {
      const j = local[target[e]];
      if (j >= 0) a[i * n + j] -= probability[e];
    }
  }
  for (let k = 0; k < n; k++) {
    const pivot = a[k * n + k];
    for (let r = k + 1; r < n; r++) {
      const factor = a[r * n + k] / pivot;
      if (factor === 0) continue;
      for (let c = k + 1; c < n; c++) a[r * n + c] -= factor * a[k * n + c];
      x[r] -= factor * x[k];
    }
  }
  for (let k = n - 1; k >= 0; k--) {
    let sum = x[k];
    for (let c = k + 1; c < n; c++) sum -= a[k * n + c] * x[c];
    x[k] = sum / a[k * n + k];
  }
  const solution = new Float64Array(stateCount);
  for (let s = 0; s < stateCount; s++) {
    if (local[s] >= 0) solution[s] = x[local[s]];
  }
  return solution;
}

/**
 * Gauss-Seidel sweeps over `visit` (in that order) until no probability
 * moves by more than the tolerance; x holds the start and the solution.
 * States not visited keep their values. Returns the sweeps taken.
 *
 * With `extrapolate`, once the largest change has shrunk by the same ratio
 * λ < EXTRAPOLATE_BELOW twice running (to 2%: the error is then mostly along
 * one eigenvector, shrinking by λ a sweep), the iterate jumps to where the
 * remaining sweeps lead, x + λ / (1 - λ) × (x - x before the sweep)
 * (Lyusternik's extrapolation). On the bootstrap's second- and third-order
 * chains that saves a third to a half of the sweeps. A jump only moves where
 * the next sweeps start, and the solve still ends on a plain sweep within
 * the tolerance; if a jump makes the next change larger, the solve goes on
 * without jumping.
 */
function sweepUntilConverged(
  prepared: PreparedMarkov,
  chain: Weighted,
  visit: Int32Array,
  x: Float64Array,
  tolerance: number,
  extrapolate = false,
): number {
  const { rowStart, target } = prepared;
  const { probability, toConversion, before } = chain;
  let jumping = extrapolate;
  let lastChange = 0;
  let lastRatio = 0;
  let changeBeforeJump = Number.POSITIVE_INFINITY;
  for (let sweep = 1; sweep <= GAUSS_SEIDEL_MAX_SWEEPS; sweep++) {
    let largestChange = 0;
    for (let i = 0; i < visit.length; i++) {
      const s = visit[i];
      let next = toConversion[s];
      const end = rowStart[s + 1];
      for (let e = rowStart[s]; e < end; e++) {
        next += probability[e] * x[target[e]];
      }
      const change = Math.abs(next - x[s]);
      if (change > largestChange) largestChange = change;
      before[s] = x[s];
      x[s] = next;
    }
    if (largestChange <= tolerance) return sweep;
    if (!jumping) continue;
    if (largestChange > changeBeforeJump) {
      jumping = false;
      continue;
    }
    changeBeforeJump = Number.POSITIVE_INFINITY;
    const ratio = lastChange > 0 ? largestChange / lastChange : 0;
    if (
      lastRatio > 0 && ratio < EXTRAPOLATE_BELOW &&
      Math.abs(ratio - lastRatio) <= 0.02 * ratio
    ) {
      const factor = ratio / (1 - ratio);
      for (let i = 0; i < visit.length; i++) {
        const s = visit[i];
        x[s] += factor * (x[s] - before[s]);
      }
      changeBeforeJump = largestChange;
      lastChange = lastRatio = 0;
      continue;
    }
    lastRatio = ratio;
    lastChange = largestChange;
  }
  throw new Error(
    `Gauss-Seidel did not converge in ${GAUSS_SEIDEL_MAX_SWEEPS} sweeps`,
  );
}

// ---------------------------------------------------------------------------
// SOLVE AND DISTRIBUTE

/**
 * The prepared chain weighed with `counts` (the observed ones unless given)
 * and solved: markov(paths, opts) is markovWithCounts(prepareMarkov(paths,
 * opts.order), undefined, opts).
 */
export function markovWithCounts(
  prepared: PreparedMarkov,
  counts: PathCounts = prepared.counts,
  opts: { solver?: MarkovSolver } = {},
): ModelResult {
  const chain = weighted(prepared);
  weigh(prepared, counts, chain);
  const method = chooseSolver(
    opts.solver ?? "auto",
    chain.activeStates + 1,
    LU_MAX_STATES,
  );
  const { conversionProbability, removalEffects, sweeps } = solveRemovals(
    prepared,
    chain,
    method,
    {
      tolerance: GAUSS_SEIDEL_TOLERANCE,
      extrapolate: false,
      negligible: NEGLIGIBLE_REMOVAL_EFFECT,
    },
  );
  const { totals, activeChannels } = chain;
  const names = activeChannels.map((channel) => prepared.channels[channel]);
  const weights = activeChannels.map((channel) => removalEffects[channel]);
  const conversions = inProportion(weights, totals.conversions);
  const value = inProportion(weights, totals.value);
  const credits: ChannelCredit[] = names
    .map((channel, i) => ({
      channel,
      conversions: conversions[i],
      value: value[i],
      share: totals.conversions > 0 ? conversions[i] / totals.conversions : 0,
    }))
    .sort((a, b) => byName(a.channel, b.channel));
  return {
    credits,
    diagnostics: {
      model: "markov",
      order: prepared.order,
      // Channel states; (start), (conversion) and (null) are not counted
      // here, but transitions from and into them are.
      states: chain.activeStates,
      transitions: chain.transitionCount,
      conversionProbability,
      removalEffects: Object.fromEntries(
        names.map((name, i) => [name, weights[i]]),
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
      journeys: totals.journeys,
      conversions: totals.conversions,
      value: totals.value,
      emptyPaths: { ...chain.emptyPaths },
    },
  };
}

/**
 * The prepared chain as the bootstrap re-solves it: shares only, buffers
 * reused. Up to REPLICATE_ELIMINATION_MAX_STATES states (or with solver "lu") each
 * replicate is solved by elimination; past it (or with "gauss-seidel") by
 * Gauss-Seidel to REPLICATE_GAUSS_SEIDEL_TOLERANCE, starting from the
 * solutions under the observed counts (solved once, on first use). A share
 * depends only on the counts it is asked about, not on earlier calls, and is
 * the one markovWithCounts gives with the same solver, to within that
 * tolerance.
 */
export function markovShares(
  prepared: PreparedMarkov,
  opts: { solver?: MarkovSolver } = {},
): ResamplableModel {
  const chain = weighted(prepared);
  const precision = {
    tolerance: REPLICATE_GAUSS_SEIDEL_TOLERANCE,
    extrapolate: true,
    negligible: REPLICATE_NEGLIGIBLE_REMOVAL_EFFECT,
  };
  let observed: Solutions | null = null;
  const scratch = emptySolutions(prepared);
  const methodFor = (activeStates: number) =>
    chooseSolver(
      opts.solver ?? "auto",
      activeStates + 1,
      REPLICATE_ELIMINATION_MAX_STATES,
    );
  return {
    channels: prepared.channels,
    counts: prepared.counts,
    shares(counts, out) {
      weigh(prepared, counts, chain);
      const method = methodFor(chain.activeStates) === "lu"
        ? "elimination"
        : "gauss-seidel";
      if (method === "gauss-seidel" && !observed) {
        weigh(prepared, prepared.counts, chain);
        observed = solveRemovals(prepared, chain, method, precision).solutions;
        weigh(prepared, counts, chain);
      }
      const { removalEffects } = solveRemovals(
        prepared,
        chain,
        method,
        precision,
        observed,
        scratch,
      );
      const { totals, activeChannels } = chain;
      const conversions = inProportion(
        activeChannels.map((channel) => removalEffects[channel]),
        totals.conversions,
      );
      out.fill(Number.NaN);
      activeChannels.forEach((channel, i) => {
        out[channel] = totals.conversions > 0
          ? conversions[i] / totals.conversions
          : 0;
      });
    },
  };
}

/**
 * Splits `total` in proportion to `weights`. Floating-point leftovers go to
 * the largest part so the parts add up to the total exactly (to the last bit
 * or so), which is what a reader reconciling reports checks first.
 */
function inProportion(weights: number[], total: number): number[] {
  const weightSum = weights.reduce((sum, w) => sum + w, 0);
  const amounts = weights.map((w) => weightSum > 0 ? total * w / weightSum : 0);
  if (weightSum > 0) settleRemainderOnLargest(amounts, total);
  return amounts;
}

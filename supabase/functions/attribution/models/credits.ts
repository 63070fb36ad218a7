// What both data-driven models need around their arithmetic: the check of a
// path row's counts, and settling floating-point leftovers so credits add up
// to the totals they distribute.
import type { PathCounts, PathRow } from "./types.ts";

/** Throws a RangeError naming the row when its counts cannot be modelled. */
export function checkPathCounts(
  row: number,
  conversions: number,
  nonConversions: number,
  value: number,
) {
  if (!(conversions >= 0 && Number.isFinite(conversions))) {
    throw new RangeError(`paths[${row}].conversions must be finite and >= 0`);
  }
  if (!(nonConversions >= 0 && Number.isFinite(nonConversions))) {
    throw new RangeError(
      `paths[${row}].nonConversions must be finite and >= 0`,
    );
  }
  if (!Number.isFinite(value)) {
    throw new RangeError(`paths[${row}].value must be finite`);
  }
}

/**
 * Puts what `amounts` (at the indexes `among`, all by default) lack of
 * `total` on the largest of them, so they add up to it exactly (to the last
 * bit or so).
 */
export function settleRemainderOnLargest(
  amounts: number[],
  total: number,
  among: number[] = amounts.map((_, i) => i),
) {
  if (among.length === 0) return;
  let largest = among[0];
  let sum = 0;
  for (const i of among) {
    if (Math.abs(amounts[i]) > Math.abs(amounts[largest])) largest = i;
    sum += amounts[i];
  }
  amounts[largest] += total - sum;
}

export function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The rows' counts as columns, each row checked (checkPathCounts). */
export function countColumns(paths: readonly PathRow[]): PathCounts {
  const conversions = new Float64Array(paths.length);
  const nonConversions = new Float64Array(paths.length);
  const value = new Float64Array(paths.length);
  for (let row = 0; row < paths.length; row++) {
    const path = paths[row];
    checkPathCounts(row, path.conversions, path.nonConversions, path.value);
    conversions[row] = path.conversions;
    nonConversions[row] = path.nonConversions;
    value[row] = path.value;
  }
  return { conversions, nonConversions, value };
}

import assert from "node:assert/strict";
import fc from "fast-check";
import { countColumns } from "../../supabase/functions/attribution/models/credits.ts";
import {
  prepareShapley,
  shapley,
  shapleyShares,
  shapleyWithCounts,
} from "../../supabase/functions/attribution/models/shapley.ts";
import type {
  ChannelCredit,
  ModelResult,
  PathRow,
} from "../../supabase/functions/attribution/models/types.ts";

function creditsByChannel(result: ModelResult): Record<string, ChannelCredit> {
  return Object.fromEntries(
    result.credits.map((credit) => [credit.channel, credit]),
  );
}

function assertClose(
  actual: number,
  expected: number,
  tolerance: number,
  what: string,
) {
  assert.ok(
    Math.abs(actual - expected) <= tolerance,
    `${what}: expected ${expected}, got ${actual}`,
  );
}

const row = (
  path: string[],
  conversions: number,
  nonConversions: number,
  value = 0,
): PathRow => ({
  path,
  conversions,
  nonConversions,
  value,
});

// Coalitions (channel sets; order and repeats ignored), with journeys =
// conversions + non-conversions:
//   {A}     [A]               2 conv,  8 non → 10 journeys, value 20
//   {A,B}   [A,B] + [B,A,B]   3+1 conv, 7+4 non → 15 journeys, value 60+10
//   {C}     [C]               1 conv,  1 non →  2 journeys, value 5
//   {A,B,C} [C,B,A]           3 conv,  3 non →  6 journeys, value 90
//   {B}     [B,B]             0 conv,  6 non →  6 journeys, value 0
const journeys = [
  row(["A"], 2, 8, 20),
  row(["A", "B"], 3, 7, 60),
  row(["B", "A", "B"], 1, 4, 10),
  row(["C"], 1, 1, 5),
  row(["C", "B", "A"], 3, 3, 90),
  row(["B", "B"], 0, 6),
];

Deno.test("simplified Shapley by hand, with the minimum-support drop", () => {
  // minUsers 5 drops {C} (2 journeys). φ_j = Σ_{T ∋ j} R(T)/|T|:
  //   φ_A = R{A} + R{A,B}/2 + R{A,B,C}/3 = 2 + 4/2 + 3/3 = 5
  //   φ_B = R{B} + R{A,B}/2 + R{A,B,C}/3 = 0 + 2 + 1     = 3
  //   φ_C = R{A,B,C}/3                    = 1 (R{C} was dropped)
  // Kept conversions 2 + 4 + 3 + 0 = 9 = 5 + 3 + 1. Value likewise:
  //   A = 20 + 70/2 + 90/3 = 85, B = 35 + 30 = 65, C = 30; kept value 180.
  const result = shapley(journeys, { minUsers: 5 });
  const credits = creditsByChannel(result);
  assert.deepEqual(Object.keys(credits), ["A", "B", "C"]);
  for (
    const [channel, conversions, value] of [["A", 5, 85], ["B", 3, 65], [
      "C",
      1,
      30,
    ]] as const
  ) {
    assertClose(
      credits[channel].conversions,
      conversions,
      1e-9,
      `${channel} conversions`,
    );
    assertClose(credits[channel].value, value, 1e-9, `${channel} value`);
    assertClose(
      credits[channel].share,
      conversions / 9,
      1e-12,
      `${channel} share`,
    );
  }
  assert.deepEqual(result.diagnostics.kept, {
    coalitions: 4,
    journeys: 37,
    conversions: 9,
    value: 180,
  });
  assert.deepEqual(result.diagnostics.dropped, {
    coalitions: 1,
    sets: [["C"]],
    journeys: 2,
    conversions: 1,
    value: 5,
  });
});

Deno.test("without a minimum every coalition counts", () => {
  // {C} comes back: φ_C = 1 + 1 = 2, value 5 + 30 = 35; total 10 conversions.
  const credits = creditsByChannel(shapley(journeys, { minUsers: 0 }));
  assertClose(credits.A.conversions, 5, 1e-9, "A");
  assertClose(credits.B.conversions, 3, 1e-9, "B");
  assertClose(credits.C.conversions, 2, 1e-9, "C");
  assertClose(credits.C.value, 35, 1e-9, "C value");
  assertClose(credits.C.share, 2 / 10, 1e-12, "C share");
});

Deno.test("a channel seen only in dropped coalitions is not credited", () => {
  // minUsers 7 drops {C} (2), {A,B,C} (6) and {B} (6): A = 2 + 2 = 4,
  // B = 2, and C is gone. Kept: {A} and {A,B}, 6 conversions, value 90.
  const result = shapley(journeys, { minUsers: 7 });
  const credits = creditsByChannel(result);
  assert.deepEqual(Object.keys(credits), ["A", "B"]);
  assertClose(credits.A.conversions, 4, 1e-9, "A");
  assertClose(credits.B.conversions, 2, 1e-9, "B");
  assertClose(credits.A.value, 20 + 35, 1e-9, "A value");
  assert.deepEqual(result.diagnostics.dropped, {
    coalitions: 3,
    sets: [["A", "B", "C"], ["B"], ["C"]],
    journeys: 14,
    conversions: 4,
    value: 95,
  });
});

Deno.test("when every coalition is dropped nothing is credited, and diagnostics say so", () => {
  const result = shapley(journeys, { minUsers: 1000 });
  assert.deepEqual(result.credits, []);
  assert.deepEqual(result.diagnostics.kept, {
    coalitions: 0,
    journeys: 0,
    conversions: 0,
    value: 0,
  });
  assert.equal(
    (result.diagnostics.dropped as { coalitions: number }).coalitions,
    5,
  );
  assert.match(String(result.diagnostics.note), /fewer than 1000 journeys/);
});

Deno.test("journeys without touches are left out and reported", () => {
  const result = shapley([row([], 2, 1, 7), row(["A"], 1, 0, 3)], {
    minUsers: 0,
  });
  assert.deepEqual(result.credits, [{
    channel: "A",
    conversions: 1,
    value: 3,
    share: 1,
  }]);
  assert.deepEqual(result.diagnostics.emptyPaths, {
    rows: 1,
    journeys: 3,
    conversions: 2,
    value: 7,
  });
});

Deno.test("more than 31 channels still group journeys by set", () => {
  // Sets of channels past the 31st are keyed differently inside; the same set
  // in a different order and with repeats must still be one coalition.
  const many = Array.from({ length: 40 }, (_, i) => `ch${i}`);
  const result = shapley([
    row(many, 0, 1),
    row(["ch39", "ch35", "ch35"], 3, 0, 30),
    row(["ch35", "ch39"], 1, 0, 10),
    row(["ch35", "ch0"], 1, 0),
    row(["ch0", "ch35", "ch0"], 1, 0),
  ], { minUsers: 0 });
  // Coalitions: all 40 (no conversions), {ch35, ch39} 4, {ch0, ch35} 2.
  assert.equal(result.diagnostics.coalitions, 3);
  const credits = creditsByChannel(result);
  assertClose(credits.ch35.conversions, 4 / 2 + 2 / 2, 1e-12, "ch35");
  assertClose(credits.ch39.value, 40 / 2, 1e-12, "ch39 value");
  assertClose(credits.ch0.conversions, 2 / 2, 1e-12, "ch0");
  assert.equal(credits.ch1.conversions, 0);
});

Deno.test("bad input is refused", () => {
  assert.throws(() => shapley(journeys, { minUsers: -1 }), RangeError);
  assert.throws(
    () => shapley([row(["A"], 1, Infinity)], { minUsers: 0 }),
    RangeError,
  );
});

// ---------------------------------------------------------------------------
// Properties

const ALPHABET = ["a", "b", "c", "d", "e"];

function pathRowOf(
  channels: fc.Arbitrary<string>,
  maxLength = 7,
): fc.Arbitrary<PathRow> {
  return fc.record({
    path: fc.array(channels, { minLength: 1, maxLength }),
    conversions: fc.nat({ max: 5 }),
    nonConversions: fc.nat({ max: 5 }),
    valuePerConversion: fc.integer({ min: 0, max: 500 }),
  }).map(({ valuePerConversion, ...rest }) => ({
    ...rest,
    value: rest.conversions * valuePerConversion,
  }));
}

const pathRows = fc.array(pathRowOf(fc.constantFrom(...ALPHABET)), {
  minLength: 1,
  maxLength: 25,
});
const minUsers = fc.nat({ max: 12 });
const sum = (numbers: number[]) => numbers.reduce((acc, n) => acc + n, 0);

/** Totals of the coalitions with enough journeys, grouped here independently. */
function keptTotals(rows: PathRow[], minimum: number) {
  const bySet = new Map<
    string,
    { journeys: number; conversions: number; value: number }
  >();
  for (const r of rows) {
    const key = [...new Set(r.path)].sort().join("|");
    const totals = bySet.get(key) ?? { journeys: 0, conversions: 0, value: 0 };
    totals.journeys += r.conversions + r.nonConversions;
    totals.conversions += r.conversions;
    totals.value += r.value;
    bySet.set(key, totals);
  }
  const kept = [...bySet.values()].filter((t) =>
    t.journeys > 0 && t.journeys >= minimum
  );
  return {
    conversions: sum(kept.map((t) => t.conversions)),
    value: sum(kept.map((t) => t.value)),
  };
}

Deno.test("property: credits add up to the kept conversions and value", () => {
  fc.assert(fc.property(pathRows, minUsers, (rows, minimum) => {
    const result = shapley(rows, { minUsers: minimum });
    const kept = keptTotals(rows, minimum);
    const tolerance = (total: number) => 1e-6 * Math.max(1, Math.abs(total));
    assertClose(
      sum(result.credits.map((c) => c.conversions)),
      kept.conversions,
      tolerance(kept.conversions),
      "conversions",
    );
    assertClose(
      sum(result.credits.map((c) => c.value)),
      kept.value,
      tolerance(kept.value),
      "value",
    );
    if (kept.conversions > 0) {
      assertClose(sum(result.credits.map((c) => c.share)), 1, 1e-9, "shares");
    }
  }));
});

Deno.test("property: renaming channels renames their credits", () => {
  const renaming = fc.shuffledSubarray(["Zed", "yak", "X", "w w", "ünï"], {
    minLength: ALPHABET.length,
    maxLength: ALPHABET.length,
  });
  fc.assert(
    fc.property(pathRows, minUsers, renaming, (rows, minimum, newNames) => {
      const rename = (channel: string) => newNames[ALPHABET.indexOf(channel)];
      const original = creditsByChannel(shapley(rows, { minUsers: minimum }));
      const renamed = creditsByChannel(
        shapley(rows.map((r) => ({ ...r, path: r.path.map(rename) })), {
          minUsers: minimum,
        }),
      );
      assert.equal(Object.keys(renamed).length, Object.keys(original).length);
      for (const [channel, credit] of Object.entries(original)) {
        const twin = renamed[rename(channel)];
        assertClose(
          twin.conversions,
          credit.conversions,
          1e-9,
          `${channel} conversions`,
        );
        assertClose(
          twin.value,
          credit.value,
          1e-9 * Math.max(1, credit.value),
          `${channel} value`,
        );
      }
    }),
  );
});

Deno.test("property: a channel absent from every converting journey gets nothing", () => {
  const rowsWithLoser = fc.array(
    fc.tuple(pathRowOf(fc.constantFrom(...ALPHABET)), fc.nat({ max: 7 })),
    { minLength: 1, maxLength: 25 },
  ).map((tagged) =>
    tagged.map(([r, at]) => {
      if (r.conversions > 0) return r;
      const path = [...r.path];
      path.splice(at % (path.length + 1), 0, "loser");
      return { ...r, path };
    })
  );
  fc.assert(fc.property(rowsWithLoser, minUsers, (rows, minimum) => {
    const loser = creditsByChannel(shapley(rows, { minUsers: minimum })).loser;
    if (loser) {
      assert.equal(loser.conversions, 0);
      assert.equal(loser.value, 0);
    }
  }));
});

Deno.test("property: journeys through one channel give it everything kept", () => {
  const oneChannel = fc.array(pathRowOf(fc.constant("solo"), 4), {
    minLength: 1,
    maxLength: 10,
  })
    .filter((rows) => rows.some((r) => r.conversions > 0));
  fc.assert(fc.property(oneChannel, (rows) => {
    const { credits } = shapley(rows, { minUsers: 0 });
    assert.equal(credits.length, 1);
    assertClose(
      credits[0].conversions,
      sum(rows.map((r) => r.conversions)),
      1e-9,
      "conversions",
    );
    assertClose(credits[0].value, sum(rows.map((r) => r.value)), 1e-9, "value");
    assertClose(credits[0].share, 1, 1e-12, "share");
  }));
});

// ---------------------------------------------------------------------------
// Prepared once, summed on many counts (what the bootstrap does)

const counts = fc.record({
  conversions: fc.nat({ max: 5 }),
  nonConversions: fc.nat({ max: 5 }),
  valuePerConversion: fc.integer({ min: 0, max: 500 }),
}).map(({ valuePerConversion, ...rest }) => ({
  ...rest,
  value: rest.conversions * valuePerConversion,
}));

/** Rows, and the same paths with other counts (some rows without journeys). */
const rowsRecounted = pathRows.chain((rows) =>
  fc.tuple(
    fc.constant(rows),
    fc.array(counts, { minLength: rows.length, maxLength: rows.length })
      .map((recount) =>
        rows.map((r, i): PathRow => ({ path: r.path, ...recount[i] }))
      ),
  )
);

Deno.test("prepared coalitions summed on their own counts are shapley()", () => {
  for (const minimum of [0, 10]) {
    assert.deepEqual(
      shapleyWithCounts(prepareShapley(journeys), undefined, {
        minUsers: minimum,
      }),
      shapley(journeys, { minUsers: minimum }),
    );
  }
});

Deno.test("property: prepared coalitions summed on other counts are shapley() on them", () => {
  fc.assert(
    fc.property(rowsRecounted, minUsers, ([rows, recounted], minimum) => {
      assert.deepEqual(
        shapleyWithCounts(prepareShapley(rows), countColumns(recounted), {
          minUsers: minimum,
        }),
        shapley(recounted, { minUsers: minimum }),
      );
    }),
  );
});

Deno.test("property: shapleyShares gives exactly shapleyWithCounts' shares, NaN if uncredited", () => {
  fc.assert(
    fc.property(rowsRecounted, minUsers, ([rows, recounted], minimum) => {
      const prepared = prepareShapley(rows);
      const model = shapleyShares(prepared, { minUsers: minimum });
      const shares = new Float64Array(prepared.channels.length);
      model.shares(model.counts, shares); // buffers reused from here on
      model.shares(countColumns(recounted), shares);
      const credits = creditsByChannel(
        shapleyWithCounts(prepared, countColumns(recounted), {
          minUsers: minimum,
        }),
      );
      prepared.channels.forEach((channel, i) => {
        if (credits[channel]) {
          assert.equal(shares[i], credits[channel].share, channel);
        } else {
          assert.ok(Number.isNaN(shares[i]), `${channel} is not credited`);
        }
      });
    }),
  );
});

Deno.test("prepared coalitions refuse counts for other rows and a bad minimum", () => {
  const prepared = prepareShapley(journeys);
  const wrong = countColumns([row(["A"], 1, 0)]);
  assert.throws(
    () => shapleyWithCounts(prepared, wrong, { minUsers: 0 }),
    RangeError,
  );
  assert.throws(
    () =>
      shapleyShares(prepared, { minUsers: 0 }).shares(
        wrong,
        new Float64Array(3),
      ),
    RangeError,
  );
  assert.throws(() => shapleyShares(prepared, { minUsers: -1 }), RangeError);
});

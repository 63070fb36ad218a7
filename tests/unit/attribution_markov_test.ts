import assert from "node:assert/strict";
import fc from "fast-check";
import { countColumns } from "../../supabase/functions/attribution/models/credits.ts";
import {
  markov,
  markovShares,
  markovWithCounts,
  prepareMarkov,
} from "../../supabase/functions/attribution/models/markov.ts";
import type {
  ChannelCredit,
  ModelResult,
  PathCounts,
  PathRow,
} from "../../supabase/functions/attribution/models/types.ts";

// The expected numbers below are worked out by hand in the comments, from the
// definition (absorbing chain, removal effect = 1 - P(without c) / P), not
// taken from the code's output.

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

function assertCredits(
  result: ModelResult,
  expected: Record<string, { conversions: number; value: number }>,
) {
  const credits = creditsByChannel(result);
  assert.deepEqual(Object.keys(credits).sort(), Object.keys(expected).sort());
  const totalConversions = Object.values(expected).reduce(
    (sum, e) => sum + e.conversions,
    0,
  );
  for (const [channel, want] of Object.entries(expected)) {
    assertClose(
      credits[channel].conversions,
      want.conversions,
      1e-9,
      `${channel} conversions`,
    );
    assertClose(credits[channel].value, want.value, 1e-9, `${channel} value`);
    assertClose(
      credits[channel].share,
      want.conversions / totalConversions,
      1e-9,
      `${channel} share`,
    );
  }
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

Deno.test("first order: removal effects of a three-path example, by hand", () => {
  // [A,B] converts once (value 30), [A] does not convert once, [B] converts
  // once (value 60). Transition counts: start→A 2, start→B 1, A→B 1,
  // A→null 1, B→conv 2. Probabilities:
  //   start→A 2/3, start→B 1/3; A→B 1/2, A→null 1/2; B→conv 1.
  // x(B) = 1, x(A) = 1/2·x(B) = 1/2, P = 2/3·1/2 + 1/3·1 = 2/3.
  // Without A (x(A) = 0): P = 1/3·1 = 1/3, effect 1 - (1/3)/(2/3) = 1/2.
  // Without B (x(B) = 0, so x(A) = 0): P = 0, effect 1.
  // Normalised: A 0.5/1.5 = 1/3, B 2/3 of 2 conversions and 90 in value.
  const result = markov([
    row(["A", "B"], 1, 0, 30),
    row(["A"], 0, 1),
    row(["B"], 1, 0, 60),
  ], {
    order: 1,
  });
  assertCredits(result, {
    A: { conversions: 2 / 3, value: 30 },
    B: { conversions: 4 / 3, value: 60 },
  });
  const diagnostics = result.diagnostics as {
    states: number;
    transitions: number;
    conversionProbability: number;
    removalEffects: Record<string, number>;
  };
  assert.equal(diagnostics.states, 2);
  assert.equal(diagnostics.transitions, 5); // start→A, start→B, A→B, A→null, B→conv
  assertClose(diagnostics.conversionProbability, 2 / 3, 1e-12, "P");
  assertClose(diagnostics.removalEffects.A, 1 / 2, 1e-12, "effect of A");
  assertClose(diagnostics.removalEffects.B, 1, 1e-12, "effect of B");
});

// [A,B,C] converts (value 90), [D,B,E] does not: the two journeys share B.
const sharedMiddle = [
  row(["A", "B", "C"], 1, 0, 90),
  row(["D", "B", "E"], 0, 1),
];

Deno.test("first order forgets where a journey came from", () => {
  // start→A 1/2, start→D 1/2; A→B 1, D→B 1; B→C 1/2, B→E 1/2; C→conv 1;
  // E→null 1. x(C) = 1, x(E) = 0, x(B) = 1/2, x(A) = x(D) = 1/2, P = 1/2.
  // Without A: P = 1/2·x(D) = 1/4, effect 1/2; without D likewise 1/2.
  // Without B or C: nothing reaches conversion, effect 1.
  // Without E: E only ever led to null, so P stays 1/2, effect 0.
  // Effects sum to 3: A 1/6, D 1/6, B 1/3, C 1/3, E 0 (value ×90).
  // D never appears on a converting journey yet earns credit: it leads to B,
  // and a first-order chain cannot tell which B came from A.
  const result = markov(sharedMiddle, { order: 1 });
  assertCredits(result, {
    A: { conversions: 1 / 6, value: 15 },
    B: { conversions: 1 / 3, value: 30 },
    C: { conversions: 1 / 3, value: 30 },
    D: { conversions: 1 / 6, value: 15 },
    E: { conversions: 0, value: 0 },
  });
  const diagnostics = result.diagnostics as {
    states: number;
    transitions: number;
  };
  assert.equal(diagnostics.states, 5);
  assert.equal(diagnostics.transitions, 8);
});

Deno.test("second order keeps the two journeys apart", () => {
  // States are windows of two: (A,B)→(B,C)→conv and (D,B)→(B,E)→null, with
  // start→(A,B) 1/2 and start→(D,B) 1/2, so P = 1/2.
  // Without A: (A,B) goes to null, P = 0, effect 1. B is in every state:
  // effect 1. Without C: (A,B)→(B,C) goes to null, P = 0, effect 1.
  // Without D or E: only the non-converting branch changes, effect 0.
  // Normalised: A, B, C 1/3 each; D and E nothing.
  const result = markov(sharedMiddle, { order: 2 });
  assertCredits(result, {
    A: { conversions: 1 / 3, value: 30 },
    B: { conversions: 1 / 3, value: 30 },
    C: { conversions: 1 / 3, value: 30 },
    D: { conversions: 0, value: 0 },
    E: { conversions: 0, value: 0 },
  });
  const diagnostics = result.diagnostics as {
    states: number;
    transitions: number;
  };
  assert.equal(diagnostics.states, 4);
  assert.equal(diagnostics.transitions, 6); // 2 from start, 2 between, conv, null
});

for (const solver of ["lu", "gauss-seidel"] as const) {
  Deno.test(`a chain with a loop is solved exactly (${solver})`, () => {
    // [A,B,A] converts (value 40), [B] and [A] do not. Counts: start→A 2,
    // start→B 1; A→B 1, A→conv 1, A→null 1; B→A 1, B→null 1. So
    // x(A) = 1/3·x(B) + 1/3 and x(B) = 1/2·x(A): x(A) = 2/5, x(B) = 1/5,
    // P = 2/3·2/5 + 1/3·1/5 = 1/3 (one journey in three converts).
    // Without A: P = 0, effect 1. Without B: x(A) = 1/3, P = 2/9,
    // effect 1 - (2/9)/(1/3) = 1/3. Normalised: A 3/4, B 1/4.
    const result = markov([
      row(["A", "B", "A"], 1, 0, 40),
      row(["B"], 0, 1),
      row(["A"], 0, 1),
    ], {
      order: 1,
      solver,
    });
    assertCredits(result, {
      A: { conversions: 3 / 4, value: 30 },
      B: { conversions: 1 / 4, value: 10 },
    });
    const diagnostics = result.diagnostics as {
      conversionProbability: number;
      solver: { method: string };
    };
    assertClose(diagnostics.conversionProbability, 1 / 3, 1e-12, "P");
    assert.equal(diagnostics.solver.method, solver);
  });
}

Deno.test("second order: a loop between windows and a short journey", () => {
  // [A,B,A,B] converts, [A,B] does not, [C] converts. Windows of two:
  // (A,B)→(B,A)→(A,B)→conv, (A,B)→null, and [C] is shorter than the order so
  // it is the single state (C). Counts: start→(A,B) 2, start→(C) 1;
  // (A,B)→(B,A) 1, (A,B)→conv 1, (A,B)→null 1; (B,A)→(A,B) 1; (C)→conv 1.
  // x(A,B) = 1/3·x(A,B) + 1/3, so x(A,B) = 1/2; P = 2/3·1/2 + 1/3 = 2/3.
  // Without A or without B: both loop states go, P = 1/3, effect 1/2.
  // Without C: P = 2/3·1/2 = 1/3, effect 1/2. Each channel gets 1/3 of 2.
  const result = markov([
    row(["A", "B", "A", "B"], 1, 0),
    row(["A", "B"], 0, 1),
    row(["C"], 1, 0),
  ], {
    order: 2,
  });
  assertCredits(result, {
    A: { conversions: 2 / 3, value: 0 },
    B: { conversions: 2 / 3, value: 0 },
    C: { conversions: 2 / 3, value: 0 },
  });
  const diagnostics = result.diagnostics as {
    states: number;
    conversionProbability: number;
  };
  assert.equal(diagnostics.states, 3);
  assertClose(diagnostics.conversionProbability, 2 / 3, 1e-12, "P");
});

Deno.test("third order: journeys shorter than three are one state each", () => {
  // (A,B)→conv and (A,B,C)→null, start→each 1/2, P = 1/2. A and B are in
  // both states: effect 1 each. Removing C removes only the null branch:
  // effect 0. Credits: A 1/2, B 1/2, C 0.
  const result = markov(
    [row(["A", "B"], 1, 0, 8), row(["A", "B", "C"], 0, 1)],
    { order: 3 },
  );
  assertCredits(result, {
    A: { conversions: 1 / 2, value: 4 },
    B: { conversions: 1 / 2, value: 4 },
    C: { conversions: 0, value: 0 },
  });
  assert.equal((result.diagnostics as { states: number }).states, 2);
});

Deno.test("consecutive repeats collapse: [A,A,B] is [A,B] at every order", () => {
  for (const order of [1, 2, 3] as const) {
    const plain = markov([
      row(["A", "B"], 1, 0, 30),
      row(["A"], 0, 1),
      row(["B", "C"], 1, 2, 60),
    ], {
      order,
    });
    const repeated = markov(
      [
        row(["A", "A", "B"], 1, 0, 30),
        row(["A", "A", "A"], 0, 1),
        row(["B", "C", "C"], 1, 2, 60),
      ],
      { order },
    );
    assert.deepEqual(repeated.credits, plain.credits, `order ${order}`);
    assert.deepEqual(repeated.diagnostics, plain.diagnostics, `order ${order}`);
  }
});

Deno.test("journeys without touches are left out and reported", () => {
  const result = markov([row([], 1, 2, 10), row(["A"], 1, 1, 5)], { order: 1 });
  assertCredits(result, { A: { conversions: 1, value: 5 } });
  assert.deepEqual((result.diagnostics as { emptyPaths: unknown }).emptyPaths, {
    rows: 1,
    journeys: 3,
    conversions: 1,
    value: 10,
  });
});

Deno.test("with no conversions every channel gets nothing", () => {
  const result = markov([row(["A", "B"], 0, 3), row(["B"], 0, 1)], {
    order: 2,
  });
  assert.deepEqual(
    result.credits.map((
      { channel, conversions, value, share },
    ) => [channel, conversions, value, share]),
    [["A", 0, 0, 0], ["B", 0, 0, 0]],
  );
  assert.equal(
    (result.diagnostics as { conversionProbability: number })
      .conversionProbability,
    0,
  );
});

Deno.test("bad input is refused", () => {
  assert.throws(() => markov([row(["A"], -1, 0)], { order: 1 }), RangeError);
  assert.throws(
    () => markov([row(["A"], 1, Number.NaN)], { order: 1 }),
    RangeError,
  );
  assert.throws(
    () => markov([row(["A"], 1, 0)], { order: 4 as 1 }),
    RangeError,
  );
});

// ---------------------------------------------------------------------------
// Properties

const ALPHABET = ["a", "b", "c", "d", "e"];
const orders = fc.constantFrom(1 as const, 2 as const, 3 as const);

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
})
  .filter((rows) => rows.some((r) => r.conversions > 0));

const sum = (numbers: number[]) => numbers.reduce((acc, n) => acc + n, 0);
const relativeTolerance = (total: number) =>
  1e-6 * Math.max(1, Math.abs(total));

Deno.test("property: credits add up to the conversions and the value", () => {
  fc.assert(fc.property(pathRows, orders, (rows, order) => {
    const result = markov(rows, { order });
    const conversions = sum(rows.map((r) => r.conversions));
    const value = sum(rows.map((r) => r.value));
    assertClose(
      sum(result.credits.map((c) => c.conversions)),
      conversions,
      relativeTolerance(conversions),
      "conversions",
    );
    assertClose(
      sum(result.credits.map((c) => c.value)),
      value,
      relativeTolerance(value),
      "value",
    );
    assertClose(sum(result.credits.map((c) => c.share)), 1, 1e-9, "shares");
  }));
});

Deno.test("property: P(conversion) is the observed conversion rate at every order", () => {
  // The fitted chain carries exactly the observed flows (every journey that
  // enters a state leaves it), so its absorption probability must reproduce
  // conversions / journeys. An independent check on the solver.
  fc.assert(fc.property(pathRows, orders, (rows, order) => {
    const { conversionProbability } = markov(rows, { order }).diagnostics as {
      conversionProbability: number;
    };
    const rate = sum(rows.map((r) => r.conversions)) /
      sum(rows.map((r) => r.conversions + r.nonConversions));
    assertClose(conversionProbability, rate, 1e-10, "P");
  }));
});

Deno.test("property: LU and Gauss-Seidel agree", () => {
  const loopyRows = fc.array(pathRowOf(fc.constantFrom("a", "b", "c"), 10), {
    minLength: 1,
    maxLength: 20,
  }).filter((rows) => rows.some((r) => r.conversions > 0));
  fc.assert(fc.property(loopyRows, orders, (rows, order) => {
    const lu = creditsByChannel(markov(rows, { order, solver: "lu" }));
    const gaussSeidel = creditsByChannel(
      markov(rows, { order, solver: "gauss-seidel" }),
    );
    for (const channel of Object.keys(lu)) {
      assertClose(gaussSeidel[channel].share, lu[channel].share, 1e-9, channel);
    }
  }));
});

Deno.test("property: renaming channels renames their credits", () => {
  const renaming = fc.shuffledSubarray(["Zed", "yak", "X", "w w", "ünï"], {
    minLength: ALPHABET.length,
    maxLength: ALPHABET.length,
  });
  fc.assert(fc.property(pathRows, orders, renaming, (rows, order, newNames) => {
    const rename = (channel: string) => newNames[ALPHABET.indexOf(channel)];
    const original = creditsByChannel(markov(rows, { order }));
    const renamed = creditsByChannel(
      markov(rows.map((r) => ({ ...r, path: r.path.map(rename) })), { order }),
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
  }));
});

Deno.test("property: a channel that only ends non-converting journeys gets nothing", () => {
  // From such a channel's states every journey went to (null), so removing
  // it changes no conversion probability. (Merely being absent from the
  // converting journeys is not enough under a Markov model: see D in "first
  // order forgets where a journey came from".)
  const rowsWithLoser = fc.array(
    fc.tuple(pathRowOf(fc.constantFrom(...ALPHABET)), fc.boolean()),
    { minLength: 1, maxLength: 25 },
  ).map((tagged) =>
    tagged.map(([r, endWithLoser]) =>
      endWithLoser && r.conversions === 0
        ? { ...r, path: [...r.path, "loser"] }
        : r
    )
  ).filter((rows) => rows.some((r) => r.conversions > 0));
  fc.assert(fc.property(rowsWithLoser, orders, (rows, order) => {
    const loser = creditsByChannel(markov(rows, { order })).loser;
    if (loser) {
      assert.equal(loser.conversions, 0);
      assert.equal(loser.value, 0);
    }
  }));
});

Deno.test("property: journeys through one channel give it everything", () => {
  const oneChannel = fc.array(pathRowOf(fc.constant("solo"), 4), {
    minLength: 1,
    maxLength: 10,
  })
    .filter((rows) => rows.some((r) => r.conversions > 0));
  fc.assert(fc.property(oneChannel, orders, (rows, order) => {
    const { credits } = markov(rows, { order });
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
// Prepared once, solved on many counts (what the bootstrap does)

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
const solvers = fc.constantFrom(
  "auto" as const,
  "lu" as const,
  "gauss-seidel" as const,
);

Deno.test("a prepared chain solved on its own counts is markov()", () => {
  for (const order of [1, 2, 3] as const) {
    const prepared = prepareMarkov(sharedMiddle, order);
    assert.deepEqual(
      markovWithCounts(prepared),
      markov(sharedMiddle, { order }),
    );
  }
});

Deno.test("property: a prepared chain solved on other counts is markov() on them", () => {
  // Preparing reads paths only: rows without journeys are in the structure
  // but weigh nothing, so the result is exactly that of the recounted rows.
  fc.assert(
    fc.property(
      rowsRecounted,
      orders,
      solvers,
      ([rows, recounted], order, solver) => {
        const prepared = prepareMarkov(rows, order);
        assert.deepEqual(
          markovWithCounts(prepared, countColumns(recounted), { solver }),
          markov(recounted, { order, solver }),
        );
      },
    ),
  );
});

Deno.test("property: markovShares gives markovWithCounts' shares, NaN off the chain", () => {
  fc.assert(
    fc.property(
      rowsRecounted,
      orders,
      solvers,
      ([rows, recounted], order, solver) => {
        const prepared = prepareMarkov(rows, order);
        const model = markovShares(prepared, { solver });
        const shares = new Float64Array(prepared.channels.length);
        model.shares(countColumns(recounted), shares);
        const credits = creditsByChannel(
          markovWithCounts(prepared, countColumns(recounted), { solver }),
        );
        prepared.channels.forEach((channel, i) => {
          if (credits[channel]) {
            // Gauss-Seidel solves replicates to 1e-10, not 1e-13; elimination
            // (solver "lu") does ml-matrix's arithmetic in another order.
            const tolerance = solver === "lu" ? 1e-12 : 1e-6;
            assertClose(shares[i], credits[channel].share, tolerance, channel);
          } else {
            assert.ok(
              Number.isNaN(shares[i]),
              `${channel} is not in the chain`,
            );
          }
        });
      },
    ),
  );
});

Deno.test("property: markovShares answers for its counts alone, whatever came before", () => {
  // Gauss-Seidel starts every replicate from the observed counts' solution,
  // never from the last replicate's, so a bootstrap is reproducible.
  fc.assert(
    fc.property(
      rowsRecounted,
      orders,
      solvers,
      ([rows, recounted], order, solver) => {
        const sharesOf = (
          model: ReturnType<typeof markovShares>,
          counts: PathCounts,
        ) => {
          const shares = new Float64Array(model.channels.length);
          model.shares(counts, shares);
          return shares;
        };
        const used = markovShares(prepareMarkov(rows, order), { solver });
        sharesOf(used, countColumns(recounted));
        sharesOf(used, used.counts);
        const fresh = markovShares(prepareMarkov(rows, order), { solver });
        assert.deepEqual(
          sharesOf(used, countColumns(recounted)),
          sharesOf(fresh, countColumns(recounted)),
        );
      },
    ),
  );
});

Deno.test("counts for other rows are refused", () => {
  const prepared = prepareMarkov(sharedMiddle, 1);
  const wrong = countColumns([row(["A"], 1, 0)]);
  assert.throws(() => markovWithCounts(prepared, wrong), RangeError);
  assert.throws(
    () => markovShares(prepared).shares(wrong, new Float64Array(5)),
    RangeError,
  );
});

import assert from "node:assert/strict";
import fc from "fast-check";
import {
  bootstrap,
  redraw,
  resamplable,
  resample,
} from "../../supabase/functions/attribution/models/bootstrap.ts";
import { countColumns } from "../../supabase/functions/attribution/models/credits.ts";
import {
  markov,
  markovShares,
  prepareMarkov,
} from "../../supabase/functions/attribution/models/markov.ts";
import {
  prepareShapley,
  shapley,
  shapleyShares,
} from "../../supabase/functions/attribution/models/shapley.ts";
import {
  poisson,
  seededRandom,
} from "../../supabase/functions/attribution/models/random.ts";
import type {
  ModelResult,
  PathRow,
  ResamplableModel,
} from "../../supabase/functions/attribution/models/types.ts";

const row = (
  path: string[],
  conversions: number,
  nonConversions: number,
  value: number,
): PathRow => ({
  path,
  conversions,
  nonConversions,
  value,
});

// Hundreds of journeys per path: enough that every replicate sees every path.
const wellPopulated = [
  row(["search"], 40, 400, 4000),
  row(["social", "search"], 30, 300, 3300),
  row(["display"], 5, 500, 400),
  row(["social"], 10, 600, 900),
  row(["email", "search"], 25, 100, 2600),
  row(["display", "social", "search"], 12, 200, 1300),
  row(["email"], 8, 90, 700),
  row(["search", "email", "search"], 6, 30, 500),
];

type Model = {
  /** The model on path rows: the point estimate, and the slow bootstrap. */
  solve: (paths: PathRow[]) => ModelResult;
  /** The same model prepared once, as path_models.ts bootstraps it. */
  prepared: (paths: PathRow[]) => ResamplableModel;
};

const models: Record<string, Model> = {
  "markov k=1": {
    solve: (paths) => markov(paths, { order: 1 }),
    prepared: (paths) => markovShares(prepareMarkov(paths, 1)),
  },
  "markov k=2": {
    solve: (paths) => markov(paths, { order: 2 }),
    prepared: (paths) => markovShares(prepareMarkov(paths, 2)),
  },
  // Gauss-Seidel replicates, started from the observed counts' solution.
  "markov k=3, Gauss-Seidel": {
    solve: (paths) => markov(paths, { order: 3, solver: "gauss-seidel" }),
    prepared: (paths) =>
      markovShares(prepareMarkov(paths, 3), { solver: "gauss-seidel" }),
  },
  "shapley": {
    solve: (paths) => shapley(paths, { minUsers: 0 }),
    prepared: (paths) => shapleyShares(prepareShapley(paths), { minUsers: 0 }),
  },
};

for (const [name, { solve, prepared }] of Object.entries(models)) {
  Deno.test(`${name}: the same seed gives the same intervals`, () => {
    const first = bootstrap(prepared(wellPopulated), {
      replicates: 60,
      seed: 7,
    });
    const second = bootstrap(prepared(wellPopulated), {
      replicates: 60,
      seed: 7,
    });
    assert.deepEqual(second, first);
    // A model bootstrapped before gives the same intervals again.
    const reused = prepared(wellPopulated);
    bootstrap(reused, { replicates: 10, seed: 8 });
    assert.deepEqual(bootstrap(reused, { replicates: 60, seed: 7 }), first);
  });

  Deno.test(`${name}: different seeds give different intervals`, () => {
    const intervals = (seed: number) =>
      bootstrap(prepared(wellPopulated), { replicates: 60, seed });
    assert.notDeepEqual(intervals(7), intervals(8));
  });

  Deno.test(`${name}: every channel's point share lies inside its interval`, () => {
    const point = solve(wellPopulated);
    const intervals = bootstrap(prepared(wellPopulated), {
      replicates: 200,
      seed: 11,
    });
    assert.deepEqual(
      [...intervals.keys()],
      point.credits.map((c) => c.channel),
    );
    for (const credit of point.credits) {
      const { lo, hi } = intervals.get(credit.channel)!;
      assert.ok(
        lo <= credit.share && credit.share <= hi,
        `${credit.channel}: ${lo} <= ${credit.share} <= ${hi}`,
      );
      assert.ok(lo < hi, `${credit.channel} interval has width`);
    }
  });

  Deno.test(`${name}: prepared, the intervals are those of re-solving every replicate's rows`, () => {
    // Same seed, same draws: only the arithmetic's order differs (and
    // Markov replicates are solved to 1e-10 by Gauss-Seidel).
    const fast = bootstrap(prepared(wellPopulated), {
      replicates: 50,
      seed: 13,
    });
    const slow = bootstrap(resamplable(wellPopulated, solve), {
      replicates: 50,
      seed: 13,
    });
    assert.deepEqual([...fast.keys()], [...slow.keys()]);
    for (const [channel, { lo, hi }] of slow) {
      assert.ok(Math.abs(fast.get(channel)!.lo - lo) < 1e-8, `${channel} lo`);
      assert.ok(Math.abs(fast.get(channel)!.hi - hi) < 1e-8, `${channel} hi`);
    }
  });

  Deno.test(`${name}: property: prepared and re-solved bootstraps agree on sparse paths`, () => {
    // Few journeys per path, so replicates drop rows, channels and states,
    // and a channel can be credited in some replicates only.
    const channel = fc.constantFrom("a", "b", "c", "d");
    const rows = fc.array(
      fc.record({
        path: fc.array(channel, { minLength: 0, maxLength: 6 }),
        conversions: fc.nat({ max: 3 }),
        nonConversions: fc.nat({ max: 3 }),
        value: fc.nat({ max: 100 }),
      }).map((r) => ({ ...r, value: r.conversions > 0 ? r.value : 0 })),
      { minLength: 1, maxLength: 12 },
    );
    fc.assert(
      fc.property(rows, fc.nat({ max: 1000 }), (paths, seed) => {
        const fast = bootstrap(prepared(paths), { replicates: 20, seed });
        const slow = bootstrap(resamplable(paths, solve), {
          replicates: 20,
          seed,
        });
        assert.deepEqual([...fast.keys()], [...slow.keys()]);
        for (const [channel, { lo, hi }] of slow) {
          const { lo: fastLo, hi: fastHi } = fast.get(channel)!;
          assert.ok(Math.abs(fastLo - lo) < 1e-7, `${channel} lo`);
          assert.ok(Math.abs(fastHi - hi) < 1e-7, `${channel} hi`);
        }
      }),
      { numRuns: 60 },
    );
  });
}

Deno.test("a hundred times the journeys gives intervals about ten times narrower", () => {
  const { prepared } = models["markov k=1"];
  const scaled = wellPopulated.map((r) =>
    row(r.path, r.conversions * 100, r.nonConversions * 100, r.value * 100)
  );
  const widths = (paths: PathRow[]) =>
    new Map(
      [...bootstrap(prepared(paths), { replicates: 100, seed: 3 })].map((
        [channel, { lo, hi }],
      ) => [channel, hi - lo]),
    );
  const small = widths(wellPopulated);
  const large = widths(scaled);
  for (const [channel, width] of small) {
    const ratio = width / large.get(channel)!;
    assert.ok(ratio > 5 && ratio < 20, `${channel}: width ratio ${ratio}`);
  }
});

Deno.test("the interval is read off the sorted replicate shares", () => {
  // With 41 replicates the 2.5th percentile sits exactly on the second
  // smallest share ((41 - 1) × 0.025 = 1) and the 97.5th on the second
  // largest (index 39); at level 0.5, on indexes 10 and 30. The replicates
  // are redrawn here from the same seed, in the same row order.
  const { solve } = models["markov k=1"];
  const random = seededRandom(21);
  const sharesByChannel: Record<string, number[]> = {};
  for (let i = 0; i < 41; i++) {
    for (const credit of solve(resample(wellPopulated, random)).credits) {
      (sharesByChannel[credit.channel] ??= []).push(credit.share);
    }
  }
  const model = resamplable(wellPopulated, solve);
  const level95 = bootstrap(model, { replicates: 41, seed: 21 });
  const level50 = bootstrap(model, { replicates: 41, seed: 21, level: 0.5 });
  assert.deepEqual([...level95.keys()], Object.keys(sharesByChannel).sort());
  for (const [channel, shares] of Object.entries(sharesByChannel)) {
    const sorted = shares.sort((a, b) => a - b);
    assert.equal(sorted.length, 41);
    assert.deepEqual(level95.get(channel), { lo: sorted[1], hi: sorted[39] });
    assert.deepEqual(level50.get(channel), { lo: sorted[10], hi: sorted[30] });
  }
});

Deno.test("a channel absent from a replicate counts as share 0 there", () => {
  // "rare" is one journey in a hundred: about e^-1 of replicates draw it
  // zero times, so its interval reaches down to 0 while "common" never does.
  const rows = [row(["common"], 30, 70, 0), row(["rare"], 1, 0, 0)];
  for (const { prepared } of [models["shapley"], models["markov k=1"]]) {
    const intervals = bootstrap(prepared(rows), { replicates: 200, seed: 4 });
    assert.equal(intervals.get("rare")!.lo, 0);
    assert.ok(intervals.get("rare")!.hi > 0);
    assert.ok(intervals.get("common")!.lo > 0.8);
  }
});

Deno.test("a channel no replicate credits has no interval", () => {
  // "never" is only on a path without journeys; "dropped" only in a
  // coalition below the minimum in every replicate.
  const rows = [
    row(["common"], 30, 70, 0),
    row(["never"], 0, 0, 0),
    row(["dropped"], 0, 1, 0),
  ];
  const model = shapleyShares(prepareShapley(rows), { minUsers: 20 });
  assert.deepEqual(model.channels, ["common", "never", "dropped"]);
  assert.deepEqual(
    [...bootstrap(model, { replicates: 50, seed: 1 }).keys()],
    ["common"],
  );
  const chain = markovShares(prepareMarkov(rows, 1));
  assert.deepEqual(
    [...bootstrap(chain, { replicates: 50, seed: 1 }).keys()],
    ["common", "dropped"],
  );
});

Deno.test("a narrower level gives a nested interval", () => {
  const model = models["shapley"].prepared(wellPopulated);
  const wide = bootstrap(model, { replicates: 100, seed: 5 });
  const narrow = bootstrap(model, { replicates: 100, seed: 5, level: 0.5 });
  for (const [channel, w] of wide) {
    const n = narrow.get(channel)!;
    assert.ok(w.lo <= n.lo && n.lo <= n.hi && n.hi <= w.hi, channel);
  }
});

Deno.test("bad options are refused", () => {
  const model = models["shapley"].prepared(wellPopulated);
  assert.throws(() => bootstrap(model, { replicates: 0, seed: 1 }), RangeError);
  assert.throws(
    () => bootstrap(model, { replicates: 2.5, seed: 1 }),
    RangeError,
  );
  assert.throws(
    () => bootstrap(model, { replicates: 10, seed: 0.5 }),
    RangeError,
  );
  assert.throws(
    () => bootstrap(model, { replicates: 10, seed: 1, level: 1 }),
    RangeError,
  );
});

Deno.test("a replicate keeps paths, redraws counts and scales value with conversions", () => {
  const random = seededRandom(9);
  const rows = [row(["a", "b"], 4, 6, 100), row(["c"], 0, 3, 0)];
  for (let i = 0; i < 200; i++) {
    for (const drawn of resample(rows, random)) {
      const original = rows.find((r) => r.path === drawn.path)!;
      assert.ok(
        Number.isInteger(drawn.conversions) &&
          Number.isInteger(drawn.nonConversions),
      );
      assert.ok(drawn.conversions + drawn.nonConversions > 0);
      const perConversion = original.conversions > 0
        ? original.value / original.conversions
        : 0;
      assert.equal(drawn.value, drawn.conversions * perConversion);
    }
  }
});

Deno.test("redrawn columns are the resampled rows, zeros and all", () => {
  const observed = countColumns(wellPopulated);
  const drawn = countColumns(wellPopulated.map(() => row([], 0, 0, 0)));
  const columns = seededRandom(17);
  const rows = seededRandom(17);
  for (let i = 0; i < 50; i++) {
    redraw(observed, columns, drawn);
    const expected = resample(wellPopulated, rows);
    const kept = wellPopulated.flatMap((r, at) =>
      drawn.conversions[at] + drawn.nonConversions[at] > 0
        ? [{
          path: r.path,
          conversions: drawn.conversions[at],
          nonConversions: drawn.nonConversions[at],
          value: drawn.value[at],
        }]
        : []
    );
    assert.deepEqual(kept, expected);
  }
});

// ---------------------------------------------------------------------------
// The generator underneath

Deno.test("seeded uniforms repeat per seed, stay inside (0, 1) and average a half", () => {
  const draw = (seed: number, n: number) => {
    const random = seededRandom(seed);
    return Array.from({ length: n }, () => random());
  };
  assert.deepEqual(draw(42, 100), draw(42, 100));
  assert.notDeepEqual(draw(42, 100), draw(43, 100));
  assert.notDeepEqual(draw(1, 100), draw(2 ** 32 + 1, 100));
  const many = draw(1, 100_000);
  assert.ok(many.every((u) => u > 0 && u < 1));
  const mean = many.reduce((a, b) => a + b, 0) / many.length;
  // Standard error of the mean is sqrt(1/12/n) ≈ 0.0009.
  assert.ok(Math.abs(mean - 0.5) < 0.005, `mean ${mean}`);
});

for (const mean of [0.3, 3, 9.5, 10, 25, 1000, 1e6]) {
  Deno.test(`Poisson(${mean}) draws have the right mean, variance, P(0) and P(mode)`, () => {
    const random = seededRandom(Math.round(mean * 10));
    const n = 200_000;
    let total = 0;
    let totalSquares = 0;
    let zeros = 0;
    let modes = 0;
    for (let i = 0; i < n; i++) {
      const k = poisson(random, mean);
      assert.ok(Number.isInteger(k) && k >= 0);
      total += k;
      totalSquares += k * k;
      if (k === 0) zeros++;
      if (k === Math.floor(mean)) modes++;
    }
    const sampleMean = total / n;
    const sampleVariance = totalSquares / n - sampleMean * sampleMean;
    // Mean: 5 standard errors, sqrt(mean / n). Variance of a Poisson sample
    // variance is about (2 mean² + mean) / n.
    assert.ok(
      Math.abs(sampleMean - mean) < 5 * Math.sqrt(mean / n),
      `mean ${sampleMean}`,
    );
    const varianceError = Math.sqrt((2 * mean * mean + mean) / n);
    assert.ok(
      Math.abs(sampleVariance - mean) < 5 * varianceError,
      `variance ${sampleVariance}`,
    );
    // P(0) = e^-mean, so 5 standard errors of a proportion around it.
    // P(0) = e^-mean and P(mode) from the pmf, each within 5 standard errors
    // of a proportion.
    const mode = Math.floor(mean);
    let logFactorial = 0;
    for (let i = 2; i <= mode; i++) logFactorial += Math.log(i);
    for (const [k, count] of [[0, zeros], [mode, modes]]) {
      const p = Math.exp(
        -mean + k * Math.log(mean) - (k === 0 ? 0 : logFactorial),
      );
      const tolerance = 5 * Math.sqrt(p * (1 - p) / n) + 1e-9;
      assert.ok(
        Math.abs(count / n - p) < tolerance,
        `P(${k}): ${count / n} vs ${p}`,
      );
    }
  });
}

Deno.test("Poisson(0) is 0 and a negative mean is refused", () => {
  const random = seededRandom(1);
  assert.equal(poisson(random, 0), 0);
  assert.throws(() => poisson(random, -1), RangeError);
});

Deno.test("whole means below 10 draw what inverting term by term draws", () => {
  // The tabulated sums (with a guide table) must give exactly the counts the
  // term-by-term walk gives for the same uniform.
  const walk = (u: number, mean: number) => {
    let count = 0;
    let probability = Math.exp(-mean);
    let cumulative = probability;
    while (u > cumulative && probability > 0) {
      count++;
      probability *= mean / count;
      cumulative += probability;
    }
    return count;
  };
  for (let mean = 1; mean < 10; mean++) {
    const tabulated = seededRandom(mean);
    const uniforms = seededRandom(mean);
    for (let i = 0; i < 50_000; i++) {
      assert.equal(poisson(tabulated, mean), walk(uniforms(), mean));
    }
    // On and either side of each sum the walk passes, and the ends of (0, 1).
    const edges = [2 ** -33, 1 - 2 ** -33, 1 - 2 ** -53];
    let probability = Math.exp(-mean);
    let cumulative = probability;
    for (let count = 0; probability > 0 && cumulative < 1; count++) {
      edges.push(
        cumulative,
        cumulative * (1 + 2 ** -52),
        cumulative * (1 - 2 ** -53),
      );
      probability *= mean / (count + 1);
      cumulative += probability;
    }
    // A Random never gives 0 or 1.
    for (const u of edges.filter((u) => u > 0 && u < 1)) {
      assert.equal(poisson(() => u, mean), walk(u, mean), `u = ${u}`);
    }
  }
});

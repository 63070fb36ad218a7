// Seeded randomness for the bootstrap. Confidence intervals must be
// reproducible (the same request twice shows the same interval), so nothing
// here touches Math.random. xoshiro128** (Blackman & Vigna) is small, fast in
// 32-bit integer arithmetic and has a 2^128 - 1 period, far beyond the ~10^8
// draws a 100-replicate bootstrap of 100k rows makes; splitmix32 spreads the
// caller's seed over its state, as its authors recommend. pure-rand (a
// dependency of fast-check) has the same generators but is not in the import
// map, and twenty lines are cheaper than a second way of importing packages.

/** Uniform draws in the open interval (0, 1): never 0, so log(u) is finite. */
export type Random = () => number;

const TWO_TO_32 = 4294967296;

/** A reproducible uniform generator: the same seed gives the same sequence. */
export function seededRandom(seed: number): Random {
  if (!Number.isSafeInteger(seed)) {
    throw new RangeError(`seed must be a safe integer, got ${seed}`);
  }
  // Both halves of the seed count, so 1 and 2^32 + 1 are different streams.
  let mixState = (seed >>> 0) ^
    Math.imul(Math.floor(seed / TWO_TO_32), 0x9e3779b1);
  const splitmix32 = () => {
    mixState = (mixState + 0x9e3779b9) | 0;
    let z = mixState;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let s0 = splitmix32(),
    s1 = splitmix32(),
    s2 = splitmix32(),
    s3 = splitmix32();
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1; // the one state xoshiro cannot leave
  const rotl = (x: number, k: number) => (x << k) | (x >>> (32 - k));
  return () => {
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const shifted = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= shifted;
    s3 = rotl(s3, 11);
    return (result + 0.5) / TWO_TO_32;
  };
}

/**
 * A Poisson(mean) draw. Below a mean of 10 it inverts the distribution
 * function (one uniform); from 10 on it uses Hörmann's PTRS transformed
 * rejection (1993, as in NumPy), about one and a half pairs of uniforms
 * whatever the mean, so a path seen a million times resamples as cheaply as
 * one seen once.
 */
export function poisson(random: Random, mean: number): number {
  if (!(mean >= 0) || !Number.isFinite(mean)) {
    throw new RangeError(`Poisson mean must be finite and >= 0, got ${mean}`);
  }
  if (mean === 0) return 0;
  if (mean < 10) {
    return Number.isInteger(mean)
      ? poissonOfSmallInteger(random(), mean)
      : poissonByInversion(random(), mean);
  }
  return poissonByRejection(random, mean);
}

/**
 * Inversion: the least count whose cumulative probability reaches u, the
 * probabilities summed term by term (about mean + 1 multiply-adds).
 * `probability > 0` stops the walk if rounding leaves the sum below u.
 */
function poissonByInversion(u: number, mean: number): number {
  let count = 0;
  let probability = Math.exp(-mean);
  let cumulative = probability;
  while (u > cumulative && probability > 0) {
    count++;
    probability *= mean / count;
    cumulative += probability;
  }
  return count;
}

// Aggregated paths mostly have a few whole journeys each, so a bootstrap
// draws Poisson(1), Poisson(2)... millions of times. For whole means below 10
// the cumulative sums poissonByInversion would walk are tabulated once (the
// same sums, so the same draws), ending at +Infinity where its walk would
// stop; a guide table (Chen & Asau 1974) maps u to the first count that can
// be the answer, so a draw is about one comparison rather than mean + 1.
const GUIDE_SIZE = 64;
const cumulativeByMean: Float64Array[] = [];
const guideByMean: Uint8Array[] = [];
for (let mean = 1; mean < 10; mean++) {
  const sums: number[] = [];
  let probability = Math.exp(-mean);
  let cumulative = probability;
  for (let count = 0;;) {
    if (probability <= 0) {
      sums.push(Number.POSITIVE_INFINITY);
      break;
    }
    sums.push(cumulative);
    count++;
    probability *= mean / count;
    cumulative += probability;
  }
  const guide = new Uint8Array(GUIDE_SIZE);
  let count = 0;
  for (let bucket = 0; bucket < GUIDE_SIZE; bucket++) {
    // Every count below guide[bucket] sums to less than bucket / GUIDE_SIZE,
    // which no u in the bucket is below.
    while (sums[count] < bucket / GUIDE_SIZE) count++;
    guide[bucket] = count;
  }
  cumulativeByMean[mean] = Float64Array.from(sums);
  guideByMean[mean] = guide;
}

function poissonOfSmallInteger(u: number, mean: number): number {
  const sums = cumulativeByMean[mean];
  let count = guideByMean[mean][(u * GUIDE_SIZE) | 0];
  while (u > sums[count]) count++;
  return count;
}

/** Hörmann's PTRS, for means of 10 and more. */
function poissonByRejection(random: Random, mean: number): number {
  const sqrtMean = Math.sqrt(mean);
  const logMean = Math.log(mean);
  const b = 0.931 + 2.53 * sqrtMean;
  const a = -0.059 + 0.02483 * b;
  const logInverseAlpha = Math.log(1.1239 + 1.1328 / (b - 3.4));
  const acceptImmediately = 0.9277 - 3.6224 / (b - 2);
  for (;;) {
    const u = random() - 0.5;
    const v = random();
    const us = 0.5 - Math.abs(u);
    const k = Math.floor((2 * a / us + b) * u + mean + 0.43);
    if (us >= 0.07 && v <= acceptImmediately) return k;
    if (k < 0 || (us < 0.013 && v > us)) continue;
    if (
      Math.log(v) + logInverseAlpha - Math.log(a / (us * us) + b) <=
        -mean + k * logMean - logGamma(k + 1)
    ) {
      return k;
    }
  }
}

// ln Γ(x) for x >= 1 by the Stirling series, shifting small x up to 7 first
// (the same coefficients NumPy's PTRS uses); accurate to ~1e-15 there.
const STIRLING = [
  8.333333333333333e-02,
  -2.777777777777778e-03,
  7.936507936507937e-04,
  -5.952380952380952e-04,
  8.417508417508418e-04,
  -1.917526917526918e-03,
  6.410256410256410e-03,
  -2.955065359477124e-02,
  1.796443723688307e-01,
  -1.39243221690590e+00,
];
const LOG_TWO_PI = 1.8378770664093453;

function logGamma(x: number): number {
  if (x === 1 || x === 2) return 0;
  const shift = x < 7 ? Math.floor(7 - x) : 0;
  let shifted = x + shift;
  const inverseSquare = 1 / (shifted * shifted);
  let series = STIRLING[9];
  for (let i = 8; i >= 0; i--) series = series * inverseSquare + STIRLING[i];
  let result = series / shifted + 0.5 * LOG_TWO_PI +
    (shifted - 0.5) * Math.log(shifted) -
    shifted;
  for (let i = 0; i < shift; i++) {
    shifted -= 1;
    result -= Math.log(shifted);
  }
  return result;
}

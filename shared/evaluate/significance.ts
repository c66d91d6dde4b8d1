/**
 * Telling a real change from noise on paired predictions (both models scored on the same
 * examples): McNemar's exact test for accuracy and a seeded paired bootstrap interval for the
 * other metrics.
 */
import { mulberry32 } from '../util/index.ts';

export interface McNemarResult {
  readonly test: 'mcnemar-exact';
  /** Paired examples. */
  readonly n: number;
  /** Examples only the candidate gets right. */
  readonly candidateOnly: number;
  /** Examples only the baseline gets right. */
  readonly baselineOnly: number;
  /** Two-sided exact p-value (binomial test on the discordant pairs with p = 1/2). */
  readonly pValue: number;
}

/** log(exp(a) + exp(b)) without overflow. */
function logAdd(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  const m = Math.max(a, b);
  return m + Math.log1p(Math.exp(-Math.abs(a - b)));
}

/**
 * Two-sided exact binomial p-value for `k` successes in `n` trials with p = 1/2:
 * min(1, 2·P(X ≤ min(k, n−k))). Computed in log space with the recurrence
 * log C(n, i) = log C(n, i−1) + log(n − i + 1) − log(i), so it is exact (to rounding) for any n.
 */
export function binomialTwoSidedHalf(k: number, n: number): number {
  if (!Number.isInteger(k) || !Number.isInteger(n) || k < 0 || k > n)
    throw new RangeError(`binomial test needs 0 ≤ k ≤ n, got k=${k}, n=${n}.`);
  if (n === 0) return 1;
  const m = Math.min(k, n - k);
  if (2 * m === n) return 1;
  const logHalfN = -n * Math.LN2;
  let logC = 0; // log C(n, 0)
  let logTail = logHalfN;
  for (let i = 1; i <= m; i++) {
    logC += Math.log(n - i + 1) - Math.log(i);
    logTail = logAdd(logTail, logC + logHalfN);
  }
  return Math.min(1, 2 * Math.exp(logTail));
}

/** McNemar's exact test on per-example correctness (1 = right) of two models on the same examples. */
export function mcnemarExact(candidateCorrect: ArrayLike<number | boolean>, baselineCorrect: ArrayLike<number | boolean>): McNemarResult {
  const n = candidateCorrect.length;
  if (baselineCorrect.length !== n) {
    throw new RangeError(`paired test needs the same examples: ${n} candidate results, ${baselineCorrect.length} baseline results.`);
  }
  let candidateOnly = 0;
  let baselineOnly = 0;
  for (let i = 0; i < n; i++) {
    const a = Boolean(candidateCorrect[i]);
    const b = Boolean(baselineCorrect[i]);
    if (a && !b) candidateOnly++;
    else if (b && !a) baselineOnly++;
  }
  return {
    test: 'mcnemar-exact',
    n,
    candidateOnly,
    baselineOnly,
    pValue: binomialTwoSidedHalf(candidateOnly, candidateOnly + baselineOnly),
  };
}

export interface BootstrapResult {
  readonly test: 'paired-bootstrap';
  readonly metric: string;
  readonly n: number;
  readonly resamples: number;
  readonly seed: number;
  /** Confidence level of the interval, 1 − alpha. */
  readonly confidence: number;
  /** candidate − baseline on the full data. */
  readonly observed: number;
  /** Percentile interval of candidate − baseline over the resamples (non-finite resamples dropped). */
  readonly low: number;
  readonly high: number;
  /** True when the interval excludes 0. */
  readonly significant: boolean;
}

/**
 * Paired bootstrap: resample the examples with replacement (the same draw for both models), as a
 * weight per example (how often it was drawn), compute `statistic(weights)` → [candidate, baseline]
 * (weights null = the full data, every weight 1), and take the percentile interval of the
 * difference at level 1 − alpha.
 */
export function pairedBootstrap(opts: {
  metric: string;
  n: number;
  statistic: (weights: Float64Array | null) => readonly [number, number];
  alpha: number;
  resamples?: number;
  seed?: number;
}): BootstrapResult {
  const resamples = opts.resamples ?? 1000;
  const seed = opts.seed ?? 1;
  const rand = mulberry32(seed);
  const [c0, b0] = opts.statistic(null);
  const diffs: number[] = [];
  const weights = new Float64Array(opts.n);
  for (let r = 0; r < resamples; r++) {
    weights.fill(0);
    for (let i = 0; i < opts.n; i++) weights[Math.floor(rand() * opts.n)] += 1;
    const [c, b] = opts.statistic(weights);
    const d = c - b;
    if (Number.isFinite(d)) diffs.push(d);
  }
  diffs.sort((a, b) => a - b);
  const q = (p: number): number => {
    if (diffs.length === 0) return NaN;
    const pos = p * (diffs.length - 1);
    const lo = Math.floor(pos);
    const hi = Math.ceil(pos);
    return diffs[lo] + (diffs[hi] - diffs[lo]) * (pos - lo);
  };
  const low = q(opts.alpha / 2);
  const high = q(1 - opts.alpha / 2);
  return {
    test: 'paired-bootstrap',
    metric: opts.metric,
    n: opts.n,
    resamples,
    seed,
    confidence: 1 - opts.alpha,
    observed: c0 - b0,
    low,
    high,
    significant: Number.isFinite(low) && Number.isFinite(high) && (low > 0 || high < 0),
  };
}

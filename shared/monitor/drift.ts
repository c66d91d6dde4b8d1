/**
 * Drift statistics: pure functions over counts, tested against SciPy
 * (test/fixtures/monitor/make_reference.py → reference.json).
 *
 * - PSI (population stability index) = Σ (p − q) · ln(p / q) over bins, after additive smoothing
 *   of both distributions: p' = (p + ε) / (1 + k·ε) with ε = 1e-4, so an empty bin contributes a
 *   large but finite term. Symmetric; 0 for equal distributions.
 * - Jensen–Shannon distance: √JSD with base-2 logarithms (SciPy's `jensenshannon(p, q, base=2)`),
 *   in 0 … 1; empty bins need no smoothing.
 * - Pearson's chi-squared goodness-of-fit of the served class counts against the reference
 *   proportions (SciPy's `chisquare(f_obs, f_exp)`), only where counts allow: every expected count
 *   at least 5 (Cochran's rule), otherwise no p-value. A served class the reference never saw
 *   makes the statistic infinite (p = 0).
 */

/** Smoothing for empty bins in PSI. */
export const DRIFT_EPSILON = 1e-4;
/** Cochran's rule: the chi-squared test needs at least this expected count in every class. */
export const CHI2_MIN_EXPECTED = 5;

/** Counts (or weights) as proportions summing to 1; all zeros stay zeros. */
export function proportions(counts: readonly number[]): number[] {
  const total = counts.reduce((a, b) => a + b, 0);
  return counts.map((c) => (total > 0 ? c / total : 0));
}

function smooth(p: readonly number[], eps: number): number[] {
  const k = p.length;
  return p.map((v) => (v + eps) / (1 + k * eps));
}

function checkPair(p: readonly number[], q: readonly number[]): void {
  if (p.length !== q.length || p.length === 0)
    throw new RangeError(`distributions need the same, non-zero number of bins (${p.length} vs ${q.length})`);
  for (const v of [...p, ...q]) if (!(v >= 0) || !Number.isFinite(v)) throw new RangeError(`bin weights must be finite and ≥ 0, got ${v}`);
}

/** PSI of two distributions given as counts or proportions over the same bins. */
export function psi(p: readonly number[], q: readonly number[], eps = DRIFT_EPSILON): number {
  checkPair(p, q);
  const a = smooth(proportions(p), eps);
  const b = smooth(proportions(q), eps);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) * Math.log(a[i] / b[i]);
  return s;
}

/** Jensen–Shannon distance (base 2, 0 … 1) of two distributions over the same bins. */
export function jsDistance(p: readonly number[], q: readonly number[]): number {
  checkPair(p, q);
  const a = proportions(p);
  const b = proportions(q);
  let d = 0;
  for (let i = 0; i < a.length; i++) {
    const m = (a[i] + b[i]) / 2;
    if (a[i] > 0) d += a[i] * Math.log2(a[i] / m);
    if (b[i] > 0) d += b[i] * Math.log2(b[i] / m);
  }
  return Math.sqrt(Math.max(0, d / 2));
}

// ln Γ(x), Lanczos (g = 7, n = 9), relative error ~1e-15 for x > 0.
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
  -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];
export function lnGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lnGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0];
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i] / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Regularized upper incomplete gamma Q(a, x) = Γ(a, x) / Γ(a) (SciPy's gammaincc). */
export function gammaincc(a: number, x: number): number {
  if (!(a > 0) || Number.isNaN(x)) return NaN;
  if (x <= 0) return 1;
  if (x === Infinity) return 0;
  const lnPre = -x + a * Math.log(x) - lnGamma(a);
  if (x < a + 1) {
    // Series for P(a, x).
    let sum = 1 / a;
    let term = sum;
    for (let n = 1; n < 10_000; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-16) break;
    }
    return Math.max(0, 1 - sum * Math.exp(lnPre));
  }
  // Continued fraction for Q(a, x), modified Lentz.
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10_000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(lnPre) * h;
}

/** P(χ²_df ≥ x) (SciPy's chi2.sf). */
export function chiSquaredSurvival(x: number, df: number): number {
  if (x === Infinity) return 0;
  return gammaincc(df / 2, x / 2);
}

export type ChiSquared =
  | { readonly ok: true; readonly statistic: number; readonly df: number; readonly pValue: number }
  | { readonly ok: false; readonly reason: string };

/**
 * Pearson's goodness-of-fit test of observed counts against expected proportions. Cells whose
 * expected proportion is 0 and whose count is 0 are left out; one with a count makes it infinite.
 */
export function chiSquared(observed: readonly number[], expected: readonly number[], minExpected = CHI2_MIN_EXPECTED): ChiSquared {
  checkPair(observed, expected);
  const n = observed.reduce((a, b) => a + b, 0);
  const q = proportions(expected);
  let statistic = 0;
  let cells = 0;
  const thin: number[] = [];
  for (let i = 0; i < observed.length; i++) {
    const e = q[i] * n;
    if (e === 0) {
      if (observed[i] > 0) statistic = Infinity;
      continue;
    }
    cells++;
    if (e < minExpected) thin.push(i);
    statistic += (observed[i] - e) ** 2 / e;
  }
  if (n === 0) return { ok: false, reason: 'no counts' };
  if (cells < 2) return { ok: false, reason: 'fewer than two classes with an expected count' };
  if (statistic !== Infinity && thin.length > 0) {
    return {
      ok: false,
      reason: `${thin.length} class${thin.length > 1 ? 'es have' : ' has'} an expected count below ${minExpected} (${n} predictions)`,
    };
  }
  const df = cells - 1;
  return { ok: true, statistic, df, pValue: chiSquaredSurvival(statistic, df) };
}

/** A drift score, or why there is none. */
export type Score = { readonly ok: true; readonly value: number } | { readonly ok: false; readonly reason: string };

export interface PredictionDrift {
  readonly count: number;
  readonly classes: readonly string[];
  readonly served: readonly number[];
  readonly reference: readonly number[];
  readonly psi: Score;
  readonly js: Score;
  readonly chi2: ChiSquared;
}

/**
 * Prediction drift of served class counts (by class name) against the reference class
 * distribution. Classes served but unknown to the reference get a bin of their own (reference 0).
 * Fewer than `minCount` predictions is no data for every score.
 */
export function predictionDrift(
  served: Readonly<Record<string, number>>,
  reference: { readonly classes: readonly string[]; readonly distribution: readonly number[] },
  minCount: number,
): PredictionDrift {
  const classes = [
    ...reference.classes,
    ...Object.keys(served)
      .filter((c) => !reference.classes.includes(c))
      .sort(),
  ];
  const counts = classes.map((c) => Math.max(0, served[c] ?? 0));
  const ref = classes.map((_, i) => (i < reference.distribution.length ? reference.distribution[i] : 0));
  const count = counts.reduce((a, b) => a + b, 0);
  const base = { count, classes, served: counts, reference: ref };
  if (count < minCount) {
    const reason = `${fmtCount(count)} predictions in the window; at least ${fmtCount(minCount)} are needed to judge`;
    return { ...base, psi: { ok: false, reason }, js: { ok: false, reason }, chi2: { ok: false, reason } };
  }
  return {
    ...base,
    psi: { ok: true, value: psi(counts, ref) },
    js: { ok: true, value: jsDistance(counts, ref) },
    chi2: chiSquared(counts, ref),
  };
}

export interface InputDrift {
  /** Examples (or values, when the server does not count examples) in the window. */
  readonly count: number;
  readonly values: number;
  readonly edges: readonly number[];
  readonly served: readonly number[];
  readonly reference: readonly number[];
  readonly psi: Score;
  readonly js: Score;
}

/** Input drift of served per-bin value counts against the reference histogram (same bins). */
export function inputDrift(
  servedBins: readonly number[],
  reference: { readonly edges: readonly number[]; readonly counts: readonly number[] },
  examples: number,
  minCount: number,
): InputDrift {
  const values = servedBins.reduce((a, b) => a + b, 0);
  const base = { count: examples, values, edges: reference.edges, served: servedBins, reference: reference.counts };
  if (servedBins.length !== reference.counts.length)
    throw new RangeError(`served bins (${servedBins.length}) and reference bins (${reference.counts.length}) differ`);
  if (examples < minCount || values === 0) {
    const reason = `${fmtCount(examples)} examples in the window; at least ${fmtCount(minCount)} are needed to judge`;
    return { ...base, psi: { ok: false, reason }, js: { ok: false, reason } };
  }
  return {
    ...base,
    psi: { ok: true, value: psi(servedBins, reference.counts) },
    js: { ok: true, value: jsDistance(servedBins, reference.counts) },
  };
}

function fmtCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

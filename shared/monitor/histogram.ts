/**
 * Histogram arithmetic shared by the scrape source and the drift statistics: Prometheus's own
 * `histogram_quantile` (promql/quantile.go, bucketQuantile), so a quantile computed from two
 * scrapes equals the one PromQL gives on the same buckets, and cumulative `le` buckets turned
 * into per-bin counts.
 */

export interface Bucket {
  /** The `le` label as a number (`+Inf` is Infinity). */
  readonly le: number;
  /** Cumulative count of observations ≤ le. */
  readonly count: number;
}

/**
 * The q-quantile of cumulative buckets, exactly as Prometheus computes it: linear interpolation
 * inside the bucket the rank falls in (from 0 for the first bucket when its bound is positive);
 * the upper bound of the second-highest bucket when the rank falls in the +Inf bucket; NaN
 * without a +Inf bucket, with fewer than two buckets or with no observations.
 */
export function histogramQuantile(q: number, input: readonly Bucket[]): number {
  if (Number.isNaN(q)) return NaN;
  if (q < 0) return -Infinity;
  if (q > 1) return Infinity;
  const sorted = [...input].sort((a, b) => a.le - b.le);
  if (sorted.length === 0 || sorted[sorted.length - 1].le !== Infinity) return NaN;
  // Coalesce equal bounds (Prometheus sums them), then make the counts monotonic.
  const buckets: { le: number; count: number }[] = [];
  for (const b of sorted) {
    const last = buckets[buckets.length - 1];
    if (last && last.le === b.le) last.count += b.count;
    else buckets.push({ le: b.le, count: b.count });
  }
  let max = -Infinity;
  for (const b of buckets) {
    if (b.count > max) max = b.count;
    else b.count = max;
  }
  if (buckets.length < 2) return NaN;
  const observations = buckets[buckets.length - 1].count;
  if (observations === 0) return NaN;
  let rank = q * observations;
  let b = buckets.slice(0, -1).findIndex((x) => x.count >= rank);
  if (b === -1) b = buckets.length - 1;
  if (b === buckets.length - 1) return buckets[buckets.length - 2].le;
  if (b === 0 && buckets[0].le <= 0) return buckets[0].le;
  let start = 0;
  const end = buckets[b].le;
  let count = buckets[b].count;
  if (b > 0) {
    start = buckets[b - 1].le;
    count -= buckets[b - 1].count;
    rank -= buckets[b - 1].count;
  }
  return start + (end - start) * (rank / count);
}

/**
 * Per-bin counts from cumulative buckets: bin i holds count(le_i) − count(le_{i−1}); the +Inf
 * bucket's excess over the last finite bound is returned as `overflow`. Negative differences
 * (a counter reset seen in one bucket only) are clamped to 0.
 */
export function binCounts(input: readonly Bucket[]): { upper: number[]; counts: number[]; overflow: number; total: number } {
  const sorted = [...input].sort((a, b) => a.le - b.le);
  const upper: number[] = [];
  const counts: number[] = [];
  let prev = 0;
  let overflow = 0;
  let total = 0;
  for (const b of sorted) {
    const d = Math.max(0, b.count - prev);
    prev = Math.max(prev, b.count);
    if (b.le === Infinity) overflow = d;
    else {
      upper.push(b.le);
      counts.push(d);
    }
    total = prev;
  }
  return { upper, counts, overflow, total };
}

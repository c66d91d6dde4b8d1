/**
 * Reference statistics for drift checks, computed on the train split: per-channel mean and std,
 * a histogram of raw values (pixels 0..255 in 32 bins; features over their range in 20 bins) and,
 * for tabular data, per-feature summaries. Pure functions over typed arrays.
 */
import type { DatasetStatistics, FeatureStatistics, Histogram } from './manifest.ts';

export const PIXEL_BINS = 32;
export const FEATURE_BINS = 20;
export const PER_FEATURE_BINS = 10;

const round = (v: number): number => Number(v.toPrecision(8));

/** Image statistics over the examples in `indices` (x is [N, ...shape] with `channels` last). */
export function imageStatistics(
  x: Uint8Array,
  exampleSize: number,
  channels: number,
  indices: ArrayLike<number>,
): Pick<DatasetStatistics, 'channels' | 'histogram'> {
  const counts = new Float64Array(256 * channels);
  for (let k = 0; k < indices.length; k++) {
    const base = indices[k] * exampleSize;
    const row = x.subarray(base, base + exampleSize);
    if (channels === 1) {
      for (let i = 0; i < row.length; i++) counts[row[i]]++;
    } else {
      for (let i = 0; i < row.length; i++) counts[(i % channels) * 256 + row[i]]++;
    }
  }
  const perChannel = [];
  const merged = new Float64Array(256);
  for (let c = 0; c < channels; c++) {
    let n = 0;
    let sum = 0;
    let sq = 0;
    for (let v = 0; v < 256; v++) {
      const k = counts[c * 256 + v];
      n += k;
      sum += k * v;
      sq += k * v * v;
      merged[v] += k;
    }
    const mean = n ? sum / n : 0;
    const variance = n ? Math.max(0, sq / n - mean * mean) : 0;
    perChannel.push({ mean: round(mean), std: round(Math.sqrt(variance)) });
  }
  const width = 256 / PIXEL_BINS;
  const edges = Array.from({ length: PIXEL_BINS + 1 }, (_, i) => i * width);
  const binCounts = Array.from({ length: PIXEL_BINS }, (_, b) => {
    let s = 0;
    for (let v = b * width; v < (b + 1) * width; v++) s += merged[v];
    return s;
  });
  return { channels: perChannel, histogram: { edges, counts: binCounts } };
}

/** Equal-width histogram of `values` between lo and hi (the last bin includes hi). */
export function histogram(values: ArrayLike<number>, lo: number, hi: number, bins: number): Histogram {
  return histogramOf(values.length, (i) => values[i], lo, hi, bins);
}

/** Equal-width histogram of n values read through `at` (the last bin includes hi). */
function histogramOf(n: number, at: (i: number) => number, lo: number, hi: number, bins: number): Histogram {
  const top = hi > lo ? hi : lo + 1;
  const width = (top - lo) / bins;
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < n; i++) {
    const b = Math.min(bins - 1, Math.max(0, Math.floor((at(i) - lo) / width)));
    counts[b]++;
  }
  return { edges: Array.from({ length: bins + 1 }, (_, i) => round(lo + i * width)), counts };
}

/** Tabular statistics over the rows in `indices` (x is [N, F]). */
export function featureStatistics(
  x: Float32Array,
  names: readonly string[],
  indices: ArrayLike<number>,
): Pick<DatasetStatistics, 'channels' | 'histogram' | 'features'> {
  const f = names.length;
  const n = indices.length;
  const features: FeatureStatistics[] = [];
  let gSum = 0;
  let gSq = 0;
  let gMin = Infinity;
  let gMax = -Infinity;
  for (let j = 0; j < f; j++) {
    const col = new Float64Array(n);
    let sum = 0;
    let sq = 0;
    let min = Infinity;
    let max = -Infinity;
    for (let k = 0; k < n; k++) {
      const v = x[indices[k] * f + j];
      col[k] = v;
      sum += v;
      sq += v * v;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    gSum += sum;
    gSq += sq;
    gMin = Math.min(gMin, min);
    gMax = Math.max(gMax, max);
    const mean = n ? sum / n : 0;
    const std = n ? Math.sqrt(Math.max(0, sq / n - mean * mean)) : 0;
    features.push({
      name: names[j],
      mean: round(mean),
      std: round(std),
      min: n ? round(min) : 0,
      max: n ? round(max) : 0,
      histogram: histogram(col, n ? min : 0, n ? max : 1, PER_FEATURE_BINS),
    });
  }
  const total = n * f;
  const mean = total ? gSum / total : 0;
  const std = total ? Math.sqrt(Math.max(0, gSq / total - mean * mean)) : 0;
  // Every value of the train rows, read in place (no copy of the split: memory stays per feature).
  return {
    channels: [{ mean: round(mean), std: round(std) }],
    histogram: histogramOf(total, (i) => x[indices[Math.floor(i / f)] * f + (i % f)], total ? gMin : 0, total ? gMax : 1, FEATURE_BINS),
    features,
  };
}

/** Fraction of examples per class over all examples. */
export function classDistribution(y: Int32Array, classes: number): number[] {
  const counts = new Array<number>(classes).fill(0);
  for (let i = 0; i < y.length; i++) counts[y[i]]++;
  return counts.map((c) => (y.length ? round(c / y.length) : 0));
}

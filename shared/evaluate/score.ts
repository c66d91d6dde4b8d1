/**
 * Scoring a model on the test split of a data set, after checking it is held-out data for it:
 * the model must have been trained on this data set (candidate) and never on this test split
 * (candidate and baseline). Everything below `scoreOutputs` works on plain arrays.
 */
import type { LoadedDataset, SplitTensors, TensorArray } from '../data/index.ts';
import { HISTORY_FILE, type EpochRecord, type ModelMetadata } from '../model/index.ts';
import { ConfigurationError, folder, readTextInside } from '../util/index.ts';
import { classificationMetrics, correctness, regressionMetrics, weightedMetric, type Metrics } from './metrics.ts';
import { pairedBootstrap, type BootstrapResult } from './significance.ts';

export interface Scored {
  readonly metrics: Metrics;
  /** n × k probabilities (classification) or n predictions (regression). */
  readonly outputs: Float32Array;
  /** Per-example correctness (classification only). */
  readonly correct?: Uint8Array;
}

/** Metrics from a model's outputs on labelled examples. */
export function scoreOutputs(task: 'classification' | 'regression', outputs: Float32Array, labels: TensorArray, classes: number): Scored {
  if (task === 'regression') return { metrics: regressionMetrics(outputs, labels), outputs };
  return { metrics: classificationMetrics(outputs, labels, classes), outputs, correct: correctness(outputs, labels, classes) };
}

/**
 * Checks that `metadata` may be scored on the test split of `ds`. The candidate must come from this
 * data set; any model must not have trained (or validated) on this test split; classes and input
 * shape must match. Errors name the model, the data set and both digests.
 */
export function checkHeldOut(metadata: ModelMetadata, ds: LoadedDataset, role: 'candidate' | 'baseline', where: string): void {
  const m = ds.manifest;
  const test = m.splits.test;
  if (role === 'candidate' && metadata.dataset.digest !== m.digest) {
    throw new ConfigurationError(
      `the ${role} model '${where}' was trained on data set ${metadata.dataset.digest}, but input 'dataset' is ${m.digest}.`,
      'Pass the same setup-data output to train and evaluate-gate (the gate scores the test split of the data the model was trained with).',
    );
  }
  for (const split of ['train', 'validation'] as const) {
    const d = metadata.dataset.splits[split];
    if (d !== undefined && d === test.digest) {
      throw new ConfigurationError(
        `the ${role} model '${where}' trained on split ${split} ${d}, which is the test split ${test.digest} of the data set: the score would not be held-out.`,
        'Prepare the data with setup-data so that the test split is separate, and retrain.',
      );
    }
  }
  if (role === 'candidate' && metadata.dataset.splits.test !== undefined && metadata.dataset.splits.test !== test.digest) {
    throw new ConfigurationError(
      `the ${role} model '${where}' records test split ${metadata.dataset.splits.test}, but the data set's test split is ${test.digest}.`,
      'The data set folder changed after training: run setup-data and train again.',
    );
  }
  if (metadata.task !== m.task) {
    throw new ConfigurationError(
      `the ${role} model '${where}' is a ${metadata.task} model; the data set is for ${m.task}.`,
      'Evaluate it on a data set of its task.',
    );
  }
  if (m.task === 'classification' && metadata.classes.join('\u0000') !== m.classes.join('\u0000')) {
    throw new ConfigurationError(
      `the ${role} model '${where}' has classes [${metadata.classes.slice(0, 20).join(', ')}]; the data set has [${m.classes.slice(0, 20).join(', ')}] (names and order must match).`,
      role === 'baseline'
        ? 'Use baseline: none for a model with a new class list (it is then gated on thresholds only).'
        : 'Train on this data set.',
    );
  }
  if (metadata.inputShape.join('x') !== test.x.shape.slice(1).join('x')) {
    throw new ConfigurationError(
      `the ${role} model '${where}' takes inputs of shape [${metadata.inputShape.join(', ')}]; the test split holds [${test.x.shape.slice(1).join(', ')}].`,
      'Evaluate it on a data set prepared the same way.',
    );
  }
}

/** history.json of a model folder, or undefined when it has none. */
export async function readHistory(dir: string): Promise<EpochRecord[] | undefined> {
  try {
    const h = JSON.parse(await readTextInside(folder(dir, 'model folder', dir), HISTORY_FILE)) as unknown;
    return Array.isArray(h) ? (h as EpochRecord[]) : undefined;
  } catch (err) {
    if (err instanceof ConfigurationError) throw err;
    return undefined;
  }
}

/** Resamples for the paired bootstrap: ROC-AUC costs O(n·k) per resample, so it gets fewer. */
export function bootstrapResamples(metric: string): number {
  return metric === 'roc_auc' ? 500 : 1000;
}

/**
 * Paired bootstrap intervals of candidate − baseline for `metrics` (those with a regression limit,
 * except accuracy, which McNemar's test covers). Seeded: the same inputs give the same intervals.
 */
export function bootstrapIntervals(opts: {
  metrics: readonly string[];
  task: 'classification' | 'regression';
  candidate: Float32Array;
  baseline: Float32Array;
  labels: TensorArray;
  classes: number;
  alpha: number;
  seed?: number;
}): Record<string, BootstrapResult> {
  const out: Record<string, BootstrapResult> = {};
  for (const metric of opts.metrics) {
    const c = weightedMetric(metric, opts.candidate, opts.labels, opts.classes, opts.task);
    const b = weightedMetric(metric, opts.baseline, opts.labels, opts.classes, opts.task);
    out[metric] = pairedBootstrap({
      metric,
      n: opts.labels.length,
      alpha: opts.alpha,
      resamples: bootstrapResamples(metric),
      seed: opts.seed ?? 20240229,
      statistic: (weights) => [c(weights), b(weights)],
    });
  }
  return out;
}

export type { SplitTensors };

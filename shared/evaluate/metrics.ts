/**
 * Metrics for classifiers and regressors, computed from plain arrays so they can be tested
 * without models: class probabilities `probabilities[i * k + c]` (n × k, row-major) and integer
 * labels for classifiers; predictions and targets for regressors. Checked against scikit-learn on
 * fixed cases (test/fixtures/evaluate/reference.json).
 */

export type Labels = ArrayLike<number>;

export interface ClassMetrics {
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
  /** Number of true examples of the class. */
  readonly support: number;
}

export interface ClassificationMetrics {
  readonly task: 'classification';
  readonly count: number;
  readonly accuracy: number;
  readonly precision_macro: number;
  readonly recall_macro: number;
  readonly f1_macro: number;
  readonly precision_weighted: number;
  readonly recall_weighted: number;
  readonly f1_weighted: number;
  readonly log_loss: number;
  /** One-vs-rest, macro average over classes with both positives and negatives; NaN when none. */
  readonly roc_auc: number;
  readonly ece: number;
  /** Indexed like the class list. */
  readonly perClass: readonly ClassMetrics[];
  /** confusion[true][predicted]. */
  readonly confusion: readonly (readonly number[])[];
}

export interface RegressionMetrics {
  readonly task: 'regression';
  readonly count: number;
  readonly mse: number;
  readonly rmse: number;
  readonly mae: number;
  readonly r2: number;
}

export type Metrics = ClassificationMetrics | RegressionMetrics;

/** The scalar metric names each task offers to rules (the `known` set of the rule parser). */
export const CLASSIFICATION_METRICS = [
  'accuracy',
  'precision_macro',
  'recall_macro',
  'f1_macro',
  'precision_weighted',
  'recall_weighted',
  'f1_weighted',
  'log_loss',
  'roc_auc',
  'ece',
] as const;
export const REGRESSION_METRICS = ['mse', 'rmse', 'mae', 'r2'] as const;

export function metricNames(task: 'classification' | 'regression'): readonly string[] {
  return task === 'classification' ? CLASSIFICATION_METRICS : REGRESSION_METRICS;
}

/** The scalar metrics as a plain record (what rules and report.json use). */
export function scalarMetrics(m: Metrics): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of metricNames(m.task)) out[name] = (m as unknown as Record<string, number>)[name]!;
  return out;
}

/** Default clipping of probabilities for log loss (as scikit-learn ≤ 1.2). */
export const LOG_LOSS_EPS = 1e-15;
export const ECE_BINS = 15;

function checkShapes(probabilities: ArrayLike<number>, labels: Labels, k: number): number {
  const n = labels.length;
  if (k < 1 || probabilities.length !== n * k) {
    throw new RangeError(`probabilities has ${probabilities.length} values; expected ${n} examples × ${k} classes = ${n * k}.`);
  }
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= k) throw new RangeError(`label ${y} of example ${i} is not a class index in 0..${k - 1}.`);
  }
  return n;
}

/** Index of the largest probability per row (the first on ties, as numpy's argmax). */
export function argmaxRows(probabilities: ArrayLike<number>, k: number): Int32Array {
  const n = Math.floor(probabilities.length / k);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    let bestP = probabilities[i * k];
    for (let c = 1; c < k; c++) {
      const p = probabilities[i * k + c];
      if (p > bestP) {
        bestP = p;
        best = c;
      }
    }
    out[i] = best;
  }
  return out;
}

/** The share of examples whose argmax is the label (NaN for none). */
export function accuracyOf(probabilities: ArrayLike<number>, labels: Labels, k: number): number {
  const pred = argmaxRows(probabilities, k);
  let correct = 0;
  for (let i = 0; i < labels.length; i++) if (pred[i] === labels[i]) correct++;
  return labels.length > 0 ? correct / labels.length : NaN;
}

/** Per-example correctness (1 when the argmax is the label): the input of McNemar's test. */
export function correctness(probabilities: ArrayLike<number>, labels: Labels, k: number): Uint8Array {
  const pred = argmaxRows(probabilities, k);
  const out = new Uint8Array(labels.length);
  for (let i = 0; i < labels.length; i++) out[i] = pred[i] === labels[i] ? 1 : 0;
  return out;
}

/**
 * One metric over examples with weights: how often each example counts (a bootstrap resample's
 * draw counts), or null for every example once. Everything per example is computed once when the
 * metric is prepared, so each evaluation costs O(n) (O(n·k) for ROC-AUC, whose per-class score
 * order is sorted once). This is the one implementation: the plain metrics below are these with
 * weights null, and the gate's bootstrap resamples the same functions.
 */
export type WeightedMetric = (weights: Float64Array | null) => number;

const weightOf = (weights: Float64Array | null, i: number): number => (weights ? weights[i] : 1);

/** The confusion matrix under example weights: confusion[true][predicted]. */
export function weightedConfusion(labels: Labels, predicted: Labels, k: number, weights: Float64Array | null): number[][] {
  const m = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < labels.length; i++) m[labels[i]][predicted[i]] += weightOf(weights, i);
  return m;
}

export function confusionMatrix(labels: Labels, predicted: Labels, k: number): number[][] {
  return weightedConfusion(labels, predicted, k, null);
}

/** Precision, recall and F1 per class from a confusion matrix (0 where undefined, as sklearn's zero_division). */
export function perClassMetrics(confusion: readonly (readonly number[])[]): ClassMetrics[] {
  const k = confusion.length;
  return Array.from({ length: k }, (_, c) => {
    let predicted = 0;
    let support = 0;
    for (let j = 0; j < k; j++) {
      predicted += confusion[j][c];
      support += confusion[c][j];
    }
    const tp = confusion[c][c];
    const precision = predicted > 0 ? tp / predicted : 0;
    const recall = support > 0 ? tp / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    return { precision, recall, f1, support };
  });
}

/** The metrics a confusion matrix gives (accuracy, macro and weighted P/R/F1). */
function fromConfusion(confusion: readonly (readonly number[])[]): Record<string, number> {
  const k = confusion.length;
  const pc = perClassMetrics(confusion);
  let total = 0;
  let correct = 0;
  for (let c = 0; c < k; c++) {
    correct += confusion[c][c];
    total += pc[c].support;
  }
  const macro = (f: (m: ClassMetrics) => number): number => pc.reduce((s, m) => s + f(m), 0) / k;
  const weighted = (f: (m: ClassMetrics) => number): number => (total > 0 ? pc.reduce((s, m) => s + f(m) * m.support, 0) / total : NaN);
  return {
    accuracy: total > 0 ? correct / total : NaN,
    precision_macro: macro((m) => m.precision),
    recall_macro: macro((m) => m.recall),
    f1_macro: macro((m) => m.f1),
    precision_weighted: weighted((m) => m.precision),
    recall_weighted: weighted((m) => m.recall),
    f1_weighted: weighted((m) => m.f1),
  };
}

/** Mean negative log-likelihood of the true class, probabilities clipped to [eps, 1 − eps] (NaN stays NaN). */
export function weightedLogLoss(probabilities: ArrayLike<number>, labels: Labels, k: number, eps = LOG_LOSS_EPS): WeightedMetric {
  const n = labels.length;
  const loss = new Float64Array(n);
  for (let i = 0; i < n; i++) loss[i] = -Math.log(Math.min(1 - eps, Math.max(eps, probabilities[i * k + labels[i]])));
  return (weights) => {
    let W = 0;
    let s = 0;
    for (let i = 0; i < n; i++) {
      const wi = weightOf(weights, i);
      W += wi;
      s += wi * loss[i];
    }
    return s / W;
  };
}

export function logLoss(probabilities: ArrayLike<number>, labels: Labels, k: number, eps = LOG_LOSS_EPS): number {
  return weightedLogLoss(probabilities, labels, k, eps)(null);
}

/**
 * Expected calibration error: examples binned by confidence (the top probability) into `bins`
 * equal-width bins (lo, hi], the first bin also taking 0; the weighted mean of
 * |correct − confidence| summed per bin. NaN when any confidence is NaN.
 */
export function weightedEce(probabilities: ArrayLike<number>, labels: Labels, k: number, bins = ECE_BINS): WeightedMetric {
  const n = labels.length;
  const pred = argmaxRows(probabilities, k);
  const bin = new Uint8Array(n);
  const conf = new Float64Array(n);
  let nan = false;
  for (let i = 0; i < n; i++) {
    conf[i] = probabilities[i * k + pred[i]];
    if (Number.isNaN(conf[i])) nan = true;
    bin[i] = Math.min(bins - 1, Math.max(0, Math.ceil(conf[i] * bins) - 1));
  }
  return (weights) => {
    if (nan) return NaN;
    const gap = new Float64Array(bins);
    let W = 0;
    for (let i = 0; i < n; i++) {
      const wi = weightOf(weights, i);
      W += wi;
      gap[bin[i]] += wi * ((pred[i] === labels[i] ? 1 : 0) - conf[i]);
    }
    let e = 0;
    for (let b = 0; b < bins; b++) e += Math.abs(gap[b]);
    return e / W;
  };
}

/**
 * One-vs-rest ROC-AUC, macro-averaged over the classes that have both positives and negatives
 * (NaN when none): per class, the Mann-Whitney statistic with ties counted half.
 */
export function weightedRocAuc(
  probabilities: ArrayLike<number>,
  labels: Labels,
  k: number,
  classes: readonly number[] = Array.from({ length: k }, (_, c) => c),
): WeightedMetric {
  const n = labels.length;
  const orders = classes.map((c) => {
    const order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => probabilities[a * k + c] - probabilities[b * k + c]);
    const groupEnd = new Int32Array(n);
    for (let i = n - 1; i >= 0; i--) {
      const same = i + 1 < n && probabilities[order[i + 1] * k + c] === probabilities[order[i] * k + c];
      groupEnd[i] = same ? groupEnd[i + 1] : i;
    }
    return { order, groupEnd };
  });
  return (weights) => {
    let sum = 0;
    let counted = 0;
    for (let o = 0; o < classes.length; o++) {
      const c = classes[o];
      const { order, groupEnd } = orders[o];
      let negBelow = 0;
      let num = 0;
      let pos = 0;
      let i = 0;
      while (i < n) {
        const end = groupEnd[i];
        let gp = 0;
        let gn = 0;
        for (let t = i; t <= end; t++) {
          const j = order[t];
          const wj = weightOf(weights, j);
          if (labels[j] === c) gp += wj;
          else gn += wj;
        }
        num += gp * (negBelow + gn / 2);
        negBelow += gn;
        pos += gp;
        i = end + 1;
      }
      if (pos > 0 && negBelow > 0) {
        sum += num / (pos * negBelow);
        counted++;
      }
    }
    return counted > 0 ? sum / counted : NaN;
  };
}

/** ROC-AUC of scores for a binary problem (NaN when either class is absent). */
export function binaryAuc(scores: ArrayLike<number>, positive: ArrayLike<boolean | number>): number {
  const probabilities = new Float64Array(scores.length * 2);
  const labels = new Int32Array(scores.length);
  for (let i = 0; i < scores.length; i++) {
    probabilities[i * 2 + 1] = scores[i];
    labels[i] = positive[i] ? 1 : 0;
  }
  return weightedRocAuc(probabilities, labels, 2, [1])(null);
}

export function rocAucOvr(probabilities: ArrayLike<number>, labels: Labels, k: number): number {
  return weightedRocAuc(probabilities, labels, k)(null);
}

export function expectedCalibrationError(probabilities: ArrayLike<number>, labels: Labels, k: number, bins = ECE_BINS): number {
  return weightedEce(probabilities, labels, k, bins)(null);
}

/** A classification metric by name, prepared for repeated weighted evaluation. */
export function classificationMetric(name: string, probabilities: ArrayLike<number>, labels: Labels, k: number): WeightedMetric {
  switch (name) {
    case 'log_loss':
      return weightedLogLoss(probabilities, labels, k);
    case 'ece':
      return weightedEce(probabilities, labels, k);
    case 'roc_auc':
      return weightedRocAuc(probabilities, labels, k);
    default: {
      if (!(CLASSIFICATION_METRICS as readonly string[]).includes(name)) return () => NaN;
      const pred = argmaxRows(probabilities, k);
      return (weights) => fromConfusion(weightedConfusion(labels, pred, k, weights))[name] ?? NaN;
    }
  }
}

/** A regression metric by name (mse, rmse, mae, r2), prepared for repeated weighted evaluation. */
export function regressionMetric(name: string, predictions: ArrayLike<number>, targets: ArrayLike<number>): WeightedMetric {
  const n = targets.length;
  return (weights) => {
    let W = 0;
    let se = 0;
    let ae = 0;
    let sy = 0;
    for (let i = 0; i < n; i++) {
      const wi = weightOf(weights, i);
      const d = predictions[i] - targets[i];
      W += wi;
      se += wi * d * d;
      ae += wi * Math.abs(d);
      sy += wi * targets[i];
    }
    const mean = sy / W;
    let ss = 0;
    for (let i = 0; i < n; i++) ss += weightOf(weights, i) * (targets[i] - mean) ** 2;
    switch (name) {
      case 'mse':
        return se / W;
      case 'rmse':
        return Math.sqrt(se / W);
      case 'mae':
        return ae / W;
      case 'r2':
        // As sklearn: 1 for a perfect fit of constant targets, else 0 there.
        return W === 0 ? NaN : ss > 0 ? 1 - se / ss : se === 0 ? 1 : 0;
      default:
        return NaN;
    }
  };
}

/** Any metric by name for a task (what the gate's bootstrap resamples). */
export function weightedMetric(
  name: string,
  outputs: ArrayLike<number>,
  labels: Labels,
  k: number,
  task: 'classification' | 'regression',
): WeightedMetric {
  return task === 'regression' ? regressionMetric(name, outputs, labels) : classificationMetric(name, outputs, labels, k);
}

/** Every classification metric from probabilities (n × k) and labels. */
export function classificationMetrics(probabilities: ArrayLike<number>, labels: Labels, k: number): ClassificationMetrics {
  const n = checkShapes(probabilities, labels, k);
  const confusion = confusionMatrix(labels, argmaxRows(probabilities, k), k);
  const c = fromConfusion(confusion);
  return {
    task: 'classification',
    count: n,
    accuracy: c['accuracy'],
    precision_macro: c['precision_macro'],
    recall_macro: c['recall_macro'],
    f1_macro: c['f1_macro'],
    precision_weighted: c['precision_weighted'],
    recall_weighted: c['recall_weighted'],
    f1_weighted: c['f1_weighted'],
    log_loss: n > 0 ? logLoss(probabilities, labels, k) : NaN,
    roc_auc: rocAucOvr(probabilities, labels, k),
    ece: n > 0 ? expectedCalibrationError(probabilities, labels, k) : NaN,
    perClass: perClassMetrics(confusion),
    confusion,
  };
}

/** MSE, RMSE, MAE and R² (R² is 1 for a perfect fit of constant targets, else 0 there, as sklearn). */
export function regressionMetrics(predictions: ArrayLike<number>, targets: ArrayLike<number>): RegressionMetrics {
  const n = targets.length;
  if (predictions.length !== n) throw new RangeError(`${predictions.length} predictions for ${n} targets.`);
  const m = (name: string): number => (n > 0 ? regressionMetric(name, predictions, targets)(null) : NaN);
  return { task: 'regression', count: n, mse: m('mse'), rmse: m('rmse'), mae: m('mae'), r2: m('r2') };
}

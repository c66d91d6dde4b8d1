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

/** Per-example correctness (1 when the argmax is the label): the input of McNemar's test. */
export function correctness(probabilities: ArrayLike<number>, labels: Labels, k: number): Uint8Array {
  const pred = argmaxRows(probabilities, k);
  const out = new Uint8Array(labels.length);
  for (let i = 0; i < labels.length; i++) out[i] = pred[i] === labels[i] ? 1 : 0;
  return out;
}

export function confusionMatrix(labels: Labels, predicted: Labels, k: number): number[][] {
  const m = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < labels.length; i++) m[labels[i]][predicted[i]] += 1;
  return m;
}

/** Precision, recall and F1 per class from a confusion matrix (0 where undefined, as sklearn's zero_division). */
export function perClassMetrics(confusion: readonly (readonly number[])[]): ClassMetrics[] {
  const k = confusion.length;
  return Array.from({ length: k }, (_, c) => {
    let tp = 0;
    let predicted = 0;
    let support = 0;
    for (let j = 0; j < k; j++) {
      predicted += confusion[j][c];
      support += confusion[c][j];
    }
    tp = confusion[c][c]!;
    const precision = predicted > 0 ? tp / predicted : 0;
    const recall = support > 0 ? tp / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    return { precision, recall, f1, support };
  });
}

/** Mean negative log-likelihood of the true class, probabilities clipped to [eps, 1 - eps]. */
export function logLoss(probabilities: ArrayLike<number>, labels: Labels, k: number, eps = LOG_LOSS_EPS): number {
  const n = labels.length;
  if (n === 0) return NaN;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const p = probabilities[i * k + labels[i]];
    const clipped = Number.isNaN(p) ? NaN : Math.min(1 - eps, Math.max(eps, p));
    sum -= Math.log(clipped);
  }
  return sum / n;
}

/**
 * Area under the ROC curve of scores for a binary problem, by the rank-sum (Mann-Whitney U)
 * formula with average ranks for ties. NaN when either class is absent.
 */
export function binaryAuc(scores: ArrayLike<number>, positive: ArrayLike<boolean | number>): number {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let nPos = 0;
  let rankSum = 0;
  let i = 0;
  while (i < n) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]] === scores[order[i]]) j++;
    const avgRank = (i + j) / 2 + 1; // ranks are 1-based
    for (let t = i; t <= j; t++) {
      if (positive[order[t]]) {
        nPos++;
        rankSum += avgRank;
      }
    }
    i = j + 1;
  }
  const nNeg = n - nPos;
  if (nPos === 0 || nNeg === 0) return NaN;
  return (rankSum - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

/** One-vs-rest ROC-AUC, macro-averaged over the classes that have both positives and negatives. */
export function rocAucOvr(probabilities: ArrayLike<number>, labels: Labels, k: number): number {
  const n = labels.length;
  const scores = new Float64Array(n);
  const positive = new Uint8Array(n);
  let sum = 0;
  let classes = 0;
  for (let c = 0; c < k; c++) {
    for (let i = 0; i < n; i++) {
      scores[i] = probabilities[i * k + c]!;
      positive[i] = labels[i] === c ? 1 : 0;
    }
    const auc = binaryAuc(scores, positive);
    if (!Number.isNaN(auc)) {
      sum += auc;
      classes++;
    }
  }
  return classes > 0 ? sum / classes : NaN;
}

/**
 * Expected calibration error: examples binned by confidence (the top probability) into `bins`
 * equal-width bins (lo, hi], the first bin also taking 0; the support-weighted mean of
 * |accuracy − mean confidence| over the bins.
 */
export function expectedCalibrationError(probabilities: ArrayLike<number>, labels: Labels, k: number, bins = ECE_BINS): number {
  const n = labels.length;
  if (n === 0) return NaN;
  const count = new Float64Array(bins);
  const conf = new Float64Array(bins);
  const correct = new Float64Array(bins);
  const pred = argmaxRows(probabilities, k);
  for (let i = 0; i < n; i++) {
    const p = probabilities[i * k + pred[i]];
    if (Number.isNaN(p)) return NaN;
    const b = Math.min(bins - 1, Math.max(0, Math.ceil(p * bins) - 1));
    count[b] += 1;
    conf[b] += p;
    if (pred[i] === labels[i]) correct[b] += 1;
  }
  let ece = 0;
  for (let b = 0; b < bins; b++) if (count[b] > 0) ece += Math.abs(correct[b] - conf[b]) / n;
  return ece;
}

/** Every classification metric from probabilities (n × k) and labels. */
export function classificationMetrics(probabilities: ArrayLike<number>, labels: Labels, k: number): ClassificationMetrics {
  const n = checkShapes(probabilities, labels, k);
  const pred = argmaxRows(probabilities, k);
  const confusion = confusionMatrix(labels, pred, k);
  const perClass = perClassMetrics(confusion);
  let correct = 0;
  for (let c = 0; c < k; c++) correct += confusion[c][c];
  const mean = (f: (m: ClassMetrics) => number): number => perClass.reduce((s, m) => s + f(m), 0) / k;
  const weighted = (f: (m: ClassMetrics) => number): number => (n > 0 ? perClass.reduce((s, m) => s + f(m) * m.support, 0) / n : NaN);
  return {
    task: 'classification',
    count: n,
    accuracy: n > 0 ? correct / n : NaN,
    precision_macro: mean((m) => m.precision),
    recall_macro: mean((m) => m.recall),
    f1_macro: mean((m) => m.f1),
    precision_weighted: weighted((m) => m.precision),
    recall_weighted: weighted((m) => m.recall),
    f1_weighted: weighted((m) => m.f1),
    log_loss: logLoss(probabilities, labels, k),
    roc_auc: rocAucOvr(probabilities, labels, k),
    ece: expectedCalibrationError(probabilities, labels, k),
    perClass,
    confusion,
  };
}

/** MSE, RMSE, MAE and R² (R² is 1 for a perfect fit of constant targets, else 0 there, as sklearn). */
export function regressionMetrics(predictions: ArrayLike<number>, targets: ArrayLike<number>): RegressionMetrics {
  const n = targets.length;
  if (predictions.length !== n) throw new RangeError(`${predictions.length} predictions for ${n} targets.`);
  let se = 0;
  let ae = 0;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += targets[i];
  mean /= n;
  let ss = 0;
  for (let i = 0; i < n; i++) {
    const d = predictions[i] - targets[i];
    se += d * d;
    ae += Math.abs(d);
    ss += (targets[i] - mean) ** 2;
  }
  const mse = n > 0 ? se / n : NaN;
  const r2 = n === 0 ? NaN : ss > 0 ? 1 - se / ss : se === 0 ? 1 : 0;
  return { task: 'regression', count: n, mse, rmse: Math.sqrt(mse), mae: n > 0 ? ae / n : NaN, r2 };
}

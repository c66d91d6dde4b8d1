import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  binaryAuc,
  CLASSIFICATION_METRICS,
  classificationMetrics,
  correctness,
  regressionMetrics,
  weightedMetric,
} from '../../shared/evaluate/metrics.ts';
import { binomialTwoSidedHalf, mcnemarExact, pairedBootstrap } from '../../shared/evaluate/significance.ts';

interface Reference {
  classification: {
    name: string;
    k: number;
    probabilities: number[];
    labels: number[];
    expected: Record<string, number | number[] | number[][] | null>;
  }[];
  regression: { name: string; predictions: number[]; targets: number[]; expected: Record<string, number> }[];
  mcnemar: { candidateOnly: number; baselineOnly: number; pValue: number }[];
}

const ref = JSON.parse(readFileSync(new URL('../fixtures/evaluate/reference.json', import.meta.url), 'utf8')) as Reference;

function close(actual: number, expected: number, what: string, tol = 1e-9): void {
  assert.ok(Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)), `${what}: ${actual} vs scikit-learn ${expected}`);
}

describe('classification metrics match scikit-learn', () => {
  for (const c of ref.classification) {
    it(c.name, () => {
      const m = classificationMetrics(Float64Array.from(c.probabilities), c.labels, c.k);
      for (const name of [
        'accuracy',
        'precision_macro',
        'recall_macro',
        'f1_macro',
        'precision_weighted',
        'recall_weighted',
        'f1_weighted',
        'log_loss',
        'ece',
      ]) {
        close((m as unknown as Record<string, number>)[name], c.expected[name] as number, name);
      }
      if (c.expected['roc_auc'] === null) assert.ok(Number.isNaN(m.roc_auc));
      else close(m.roc_auc, c.expected['roc_auc'] as number, 'roc_auc');
      (c.expected['f1_per_class'] as number[]).forEach((v, i) => close(m.perClass[i].f1, v, `f1[${i}]`));
      (c.expected['precision_per_class'] as number[]).forEach((v, i) => close(m.perClass[i].precision, v, `precision[${i}]`));
      (c.expected['recall_per_class'] as number[]).forEach((v, i) => close(m.perClass[i].recall, v, `recall[${i}]`));
      assert.deepEqual(m.confusion, c.expected['confusion']);
    });
  }

  it('works on Float32Array probabilities (what models return)', () => {
    const c = ref.classification.find((x) => x.name === 'softmax-10')!;
    const m = classificationMetrics(Float32Array.from(c.probabilities), c.labels, c.k);
    close(m.accuracy, c.expected['accuracy'] as number, 'accuracy');
    close(m.log_loss, c.expected['log_loss'] as number, 'log_loss', 1e-6);
  });

  it('rejects wrong shapes and labels', () => {
    assert.throws(() => classificationMetrics(new Float32Array(5), [0, 1], 3), /expected 2 examples × 3 classes/);
    assert.throws(() => classificationMetrics(new Float32Array(6), [0, 3], 3), /label 3 of example 1/);
  });

  it('NaN probabilities give NaN metrics, not a pass', () => {
    const m = classificationMetrics(Float32Array.from([NaN, NaN, 0.2, 0.8]), [0, 1], 2);
    assert.ok(Number.isNaN(m.log_loss));
    assert.ok(Number.isNaN(m.ece));
  });

  it('AUC with all scores tied is 0.5; perfect ranking is 1', () => {
    assert.equal(binaryAuc([0.3, 0.3, 0.3, 0.3], [1, 0, 1, 0]), 0.5);
    assert.equal(binaryAuc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]), 1);
    assert.ok(Number.isNaN(binaryAuc([0.1, 0.2], [1, 1])));
  });

  it('per-example correctness follows the argmax', () => {
    assert.deepEqual([...correctness([0.1, 0.9, 0.6, 0.4, 0.5, 0.5], [1, 1, 0], 2)], [1, 0, 1]);
  });
});

describe('regression metrics match scikit-learn', () => {
  for (const c of ref.regression) {
    it(c.name, () => {
      const m = regressionMetrics(c.predictions, c.targets);
      close(m.mse, c.expected['mse'], 'mse');
      close(m.mae, c.expected['mae'], 'mae');
      close(m.r2, c.expected['r2'], 'r2');
      close(m.rmse, Math.sqrt(c.expected['mse']), 'rmse');
    });
  }
});

describe("McNemar's exact test matches SciPy's binomtest", () => {
  for (const c of ref.mcnemar) {
    it(`${c.candidateOnly} vs ${c.baselineOnly}`, () => {
      const n = c.candidateOnly + c.baselineOnly + 7;
      const cand = new Uint8Array(n);
      const base = new Uint8Array(n);
      for (let i = 0; i < c.candidateOnly; i++) cand[i] = 1;
      for (let i = c.candidateOnly; i < c.candidateOnly + c.baselineOnly; i++) base[i] = 1;
      for (let i = n - 5; i < n; i++) cand[i] = base[i] = 1; // 5 both right, 2 both wrong
      const r = mcnemarExact(cand, base);
      assert.equal(r.candidateOnly, c.candidateOnly);
      assert.equal(r.baselineOnly, c.baselineOnly);
      assert.equal(r.n, n);
      close(r.pValue, c.pValue, 'p', 1e-9);
    });
  }
  it('stays finite and exact for huge n', () => {
    const p = binomialTwoSidedHalf(50_000, 100_000);
    assert.equal(p, 1);
    const q = binomialTwoSidedHalf(49_000, 100_000);
    assert.ok(q > 0 && q < 1e-9, String(q));
  });
  it('rejects unpaired input', () => {
    assert.throws(() => mcnemarExact([1, 0], [1]), /same examples/);
  });
});

describe('paired bootstrap', () => {
  const n = 400;
  const a = Float64Array.from({ length: n }, (_, i) => (i % 10 < 9 ? 1 : 0)); // 90% right
  const b = Float64Array.from({ length: n }, (_, i) => (i % 10 < 7 ? 1 : 0)); // 70% right
  const mean = (xs: Float64Array, w: Float64Array | null): number => {
    if (!w) return xs.reduce((s, x) => s + x, 0) / xs.length;
    let s = 0;
    let total = 0;
    xs.forEach((x, i) => {
      s += w[i] * x;
      total += w[i];
    });
    assert.equal(total, xs.length, 'a resample draws n examples');
    return s / total;
  };
  it('finds a clear difference and is reproducible by seed', () => {
    const run = (): ReturnType<typeof pairedBootstrap> =>
      pairedBootstrap({ metric: 'accuracy', n, alpha: 0.05, resamples: 300, seed: 7, statistic: (w) => [mean(a, w), mean(b, w)] });
    const r = run();
    close(r.observed, 0.2, 'observed');
    assert.ok(r.low > 0 && r.low <= 0.2 && r.high >= 0.2, `${r.low}..${r.high}`);
    assert.equal(r.significant, true);
    assert.deepEqual(run(), r);
  });
  it('identical models: zero-width interval at 0, not significant', () => {
    const r = pairedBootstrap({ metric: 'accuracy', n, alpha: 0.05, resamples: 100, statistic: (w) => [mean(a, w), mean(a, w)] });
    assert.equal(r.low, 0);
    assert.equal(r.high, 0);
    assert.equal(r.significant, false);
  });
});

describe('weighted metrics for the bootstrap agree with the plain ones', () => {
  const names = CLASSIFICATION_METRICS;
  for (const c of ref.classification) {
    it(c.name, () => {
      const probs = Float32Array.from(c.probabilities);
      const n = c.labels.length;
      // weights 0..2 stand for a resample: the same as the data with each example repeated that often
      const weights = Float64Array.from({ length: n }, (_, i) => (i * 7) % 3);
      const idx = [...weights].flatMap((w, i) => Array<number>(w).fill(i));
      const expanded = new Float32Array(idx.length * c.k);
      idx.forEach((j, t) => expanded.set(probs.subarray(j * c.k, (j + 1) * c.k), t * c.k));
      const full = classificationMetrics(probs, c.labels, c.k) as unknown as Record<string, number>;
      const resampled = classificationMetrics(
        expanded,
        idx.map((j) => c.labels[j]),
        c.k,
      ) as unknown as Record<string, number>;
      for (const name of names) {
        const f = weightedMetric(name, probs, c.labels, c.k, 'classification');
        const same = (x: number, y: number): boolean => (Number.isNaN(x) && Number.isNaN(y)) || Math.abs(x - y) < 1e-9;
        assert.ok(same(f(null), full[name]), `${name} (all): ${f(null)} vs ${full[name]}`);
        assert.ok(same(f(weights), resampled[name]), `${name} (weighted): ${f(weights)} vs ${resampled[name]}`);
      }
    });
  }
  it('regression', () => {
    const c = ref.regression[1];
    const weights = Float64Array.from({ length: c.targets.length }, (_, i) => (i * 5) % 3);
    const idx = [...weights].flatMap((w, i) => Array<number>(w).fill(i));
    const m = regressionMetrics(
      idx.map((j) => c.predictions[j]),
      idx.map((j) => c.targets[j]),
    ) as unknown as Record<string, number>;
    for (const name of ['mse', 'rmse', 'mae', 'r2']) {
      close(
        weightedMetric(name, Float32Array.from(c.predictions), Float64Array.from(c.targets), 1, 'regression')(weights),
        m[name],
        name,
        1e-6,
      );
    }
  });
});

/** A gate report like the one of UX.md, for rendering tests. */
import type { GateReport } from '../../shared/report/gate-report.ts';

const classes = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

export function sampleReport(over: Partial<GateReport> = {}): GateReport {
  const perClass = (shift: number, shirt: number) =>
    classes.map((_, i) => ({ precision: 0.9 + shift, recall: 0.9 + shift, f1: 0.9 + shift + (i === 6 ? shirt : 0), support: 1000 }));
  const confusion = classes.map((_, i) => classes.map((__, j) => (i === j ? 900 : j === (i + 1) % 10 ? 100 : 0)));
  return {
    schemaVersion: 1,
    kind: 'modelship.report',
    name: 'fashion',
    task: 'classification',
    passed: true,
    firstModel: false,
    createdAt: '2026-11-29T10:00:00.000Z',
    metrics: { accuracy: 0.9187, f1_macro: 0.9176, log_loss: 0.2391, roc_auc: 0.9931, ece: 0.0123 },
    candidate: {
      name: 'fashion',
      label: 'this PR',
      source: 'folder',
      digest: `sha256:${'c'.repeat(64)}`,
      metrics: {
        scalars: { accuracy: 0.9187, f1_macro: 0.9176, log_loss: 0.2391, roc_auc: 0.9931, ece: 0.0123 },
        perClass: perClass(0, -0.012),
        confusion,
      },
      params: { architecture: 'cnn', epochs: 5, lr: 0.001 },
      backend: 'wasm',
      commit: 'a1b2c3d4e5f6',
    },
    baseline: {
      name: 'fashion',
      label: 'production v12',
      source: 'registry',
      alias: 'production',
      version: 12,
      digest: `sha256:${'b'.repeat(64)}`,
      ref: '.modelship/registry/fashion:12@sha256:bbbb',
      metrics: {
        scalars: { accuracy: 0.9121, f1_macro: 0.9105, log_loss: 0.2543, roc_auc: 0.99, ece: 0.015 },
        perClass: perClass(-0.005, 0.005),
      },
    },
    dataset: {
      digest: `sha256:3f9a${'0'.repeat(60)}`,
      split: 'test',
      splitDigest: `sha256:${'d'.repeat(64)}`,
      count: 10000,
      total: 70000,
      ratios: [80, 10, 10],
      classes,
    },
    rules: [
      {
        rule: 'accuracy >= 0.90',
        kind: 'threshold',
        metric: 'accuracy',
        text: '≥ 0.9',
        value: 0.9187,
        baseline: null,
        verdict: 'pass',
        reason: 'accuracy = 0.9187 meets ≥ 0.9',
      },
      {
        rule: 'f1_macro >= 0.88',
        kind: 'threshold',
        metric: 'f1_macro',
        text: '≥ 0.88',
        value: 0.9176,
        baseline: null,
        verdict: 'pass',
        reason: 'f1_macro = 0.9176 meets ≥ 0.88',
      },
      {
        rule: 'log_loss <= 0.35',
        kind: 'threshold',
        metric: 'log_loss',
        text: '≤ 0.35',
        value: 0.2391,
        baseline: null,
        verdict: 'pass',
        reason: 'ok',
      },
      {
        rule: 'accuracy: 1pp',
        kind: 'regression',
        metric: 'accuracy',
        text: 'max drop 1 pp',
        value: 0.9187,
        baseline: 0.9121,
        verdict: 'pass',
        reason: 'better',
      },
    ],
    significance: {
      alpha: 0.05,
      mcnemar: { test: 'mcnemar-exact', n: 10000, candidateOnly: 180, baselineOnly: 114, pValue: 0.0014, significant: true },
      bootstrap: [],
    },
    history: [0.86, 0.89, 0.905, 0.914, 0.919].map((v, i) => ({ epoch: i + 1, loss: 0.5 - i * 0.05, acc: v - 0.01, valAcc: v })),
    run: { url: 'https://github.com/acme/shop/actions/runs/482', number: '482', workflow: 'PR', event: 'pull_request', pr: 7 },
    ...over,
  };
}

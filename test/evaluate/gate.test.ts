import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideGate } from '../../shared/evaluate/gate.ts';
import { CLASSIFICATION_METRICS } from '../../shared/evaluate/metrics.ts';
import type { BootstrapResult } from '../../shared/evaluate/significance.ts';
import { parseRules } from '../../shared/rules/index.ts';

/** Correctness arrays of n examples: `both` right for both, then candidate-only, then baseline-only. */
function paired(n: number, both: number, candidateOnly: number, baselineOnly: number): [Uint8Array, Uint8Array] {
  const c = new Uint8Array(n);
  const b = new Uint8Array(n);
  let i = 0;
  for (; i < both; i++) c[i] = b[i] = 1;
  for (let j = 0; j < candidateOnly; j++, i++) c[i] = 1;
  for (let j = 0; j < baselineOnly; j++, i++) b[i] = 1;
  return [c, b];
}

function boot(metric: string, low: number, high: number): BootstrapResult {
  return {
    test: 'paired-bootstrap',
    metric,
    n: 1000,
    resamples: 1000,
    seed: 1,
    confidence: 0.95,
    observed: (low + high) / 2,
    low,
    high,
    significant: low > 0 || high < 0,
  };
}

const known = [...CLASSIFICATION_METRICS];

describe('decideGate', () => {
  const cases: {
    name: string;
    rules: string[];
    candidate: Record<string, number | undefined>;
    baseline?: Record<string, number | undefined>;
    correct?: [Uint8Array, Uint8Array];
    bootstrap?: Record<string, BootstrapResult>;
    passed: boolean;
    firstModel?: boolean;
    verdicts: string[];
    reasons?: RegExp[];
    withinNoise?: number;
  }[] = [
    {
      name: 'first model: thresholds only, regression limits skipped',
      rules: ['accuracy >= 0.9', 'accuracy: 1pp'],
      candidate: { accuracy: 0.91 },
      passed: true,
      firstModel: true,
      verdicts: ['pass', 'skip'],
      reasons: [/meets/, /first model/],
    },
    {
      name: 'first model failing a threshold',
      rules: ['accuracy >= 0.9', 'accuracy: 1pp'],
      candidate: { accuracy: 0.85 },
      passed: false,
      firstModel: true,
      verdicts: ['fail', 'skip'],
    },
    {
      name: 'improvement passes, McNemar reported',
      rules: ['accuracy >= 0.9', 'accuracy: 1pp'],
      candidate: { accuracy: 0.93 },
      baseline: { accuracy: 0.91 },
      correct: paired(1000, 880, 50, 30),
      passed: true,
      verdicts: ['pass', 'pass'],
    },
    {
      name: 'significant regression beyond the limit fails',
      rules: ['accuracy: 1pp'],
      candidate: { accuracy: 0.88 },
      baseline: { accuracy: 0.91 },
      correct: paired(1000, 850, 30, 60),
      passed: false,
      verdicts: ['fail'],
      reasons: [/worse by 0\.03.*beyond max drop 1 pp.*significant \(McNemar p = 0\.0021 < 0\.05\)/],
    },
    {
      name: 'regression beyond the limit within noise passes with a warning',
      rules: ['accuracy: 1pp'],
      candidate: { accuracy: 0.88 },
      baseline: { accuracy: 0.9 },
      correct: paired(100, 80, 8, 10),
      passed: true,
      verdicts: ['pass'],
      reasons: [/within noise \(McNemar p = 0\.81 ≥ 0\.05\)/],
      withinNoise: 1,
    },
    {
      name: 'no paired test: the limit is taken literally',
      rules: ['f1_macro: 1pp'],
      candidate: { f1_macro: 0.8 },
      baseline: { f1_macro: 0.9 },
      passed: false,
      verdicts: ['fail'],
      reasons: [/no paired test for f1_macro/],
    },
    {
      name: 'bootstrap interval including 0: within noise',
      rules: ['f1_macro: 1pp'],
      candidate: { f1_macro: 0.88 },
      baseline: { f1_macro: 0.9 },
      bootstrap: { f1_macro: boot('f1_macro', -0.05, 0.01) },
      passed: true,
      verdicts: ['pass'],
      reasons: [/within noise \(95% bootstrap interval of the change \[-0\.05, 0\.01\] includes 0\)/],
      withinNoise: 1,
    },
    {
      name: 'bootstrap interval excluding 0: fails',
      rules: ['log_loss: 5%'],
      candidate: { log_loss: 0.3 },
      baseline: { log_loss: 0.25 },
      bootstrap: { log_loss: boot('log_loss', 0.03, 0.07) },
      passed: false,
      verdicts: ['fail'],
      reasons: [/significant \(95% bootstrap interval.*excludes 0\)/],
    },
    {
      name: 'thresholds are never excused as noise',
      rules: ['accuracy >= 0.9'],
      candidate: { accuracy: 0.89 },
      baseline: { accuracy: 0.9 },
      correct: paired(100, 80, 8, 9),
      passed: false,
      verdicts: ['fail'],
    },
    {
      name: 'NaN candidate metric fails even within noise',
      rules: ['log_loss: 5%', 'log_loss <= 1'],
      candidate: { log_loss: NaN },
      baseline: { log_loss: 0.25 },
      bootstrap: { log_loss: boot('log_loss', -1, 1) },
      passed: false,
      verdicts: ['fail', 'fail'],
      reasons: [/log_loss is NaN/, /log_loss is NaN/],
    },
    {
      name: 'missing baseline value fails the limit',
      rules: ['roc_auc: 0.01'],
      candidate: { roc_auc: 0.95 },
      baseline: {},
      passed: false,
      verdicts: ['fail'],
      reasons: [/baseline's roc_auc is missing/],
    },
    {
      name: 'exactly at the limit passes',
      rules: ['accuracy: 0.02', 'accuracy >= 0.88'],
      candidate: { accuracy: 0.88 },
      baseline: { accuracy: 0.9 },
      correct: paired(10000, 8000, 0, 200),
      passed: true,
      verdicts: ['pass', 'pass'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const d = decideGate({
        candidate: c.candidate,
        ...(c.baseline ? { baseline: c.baseline } : {}),
        ...(c.correct ? { candidateCorrect: c.correct[0], baselineCorrect: c.correct[1] } : {}),
        rules: parseRules(c.rules, { known }),
        significance: { alpha: 0.05, ...(c.bootstrap ? { bootstrap: c.bootstrap } : {}) },
      });
      assert.equal(d.passed, c.passed);
      assert.equal(d.firstModel, c.firstModel ?? false);
      assert.deepEqual(
        d.rules.map((r) => r.verdict),
        c.verdicts,
      );
      c.reasons?.forEach((re, i) => assert.match(d.rules[i].reason, re));
      assert.equal(d.withinNoise, c.withinNoise ?? 0);
      assert.equal(d.failed, c.verdicts.filter((v) => v === 'fail').length);
      if (c.correct && c.baseline) assert.equal(d.significance.mcnemar?.n, c.correct[0].length);
      if (!c.baseline) assert.equal(d.significance.mcnemar, undefined);
    });
  }
});

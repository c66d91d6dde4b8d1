/**
 * buildGateReport, the pure builder of report.json: from metrics, a decision and the data set's
 * manifest to the report the PR comment and the job summary render. No models, no files: metrics
 * come from hand-made probabilities, the decision from decideGate over parsed rules.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DATASET_SCHEMA_VERSION, type DatasetManifest } from '../../shared/data/manifest.ts';
import { decideGate } from '../../shared/evaluate/gate.ts';
import { parseGateRules } from '../../shared/evaluate/gate-run.ts';
import { classificationMetrics, correctness, regressionMetrics, scalarMetrics, type Metrics } from '../../shared/evaluate/metrics.ts';
import { buildGateReport, type GateReportInput, type ModelIdentity, type ScoredSide } from '../../shared/evaluate/report.ts';
import type { EpochRecord, ModelMetadata } from '../../shared/model/metadata.ts';
import { parseGateReport, REPORT_SCHEMA_VERSION } from '../../shared/report/gate-report.ts';

const CLASSES = ['cat', 'dog', 'fish'];
const N = 100;
const hex = (c: string): string => `sha256:${c.repeat(64)}`;

const labels = Int32Array.from({ length: N }, (_, i) => i % 3);

/** Probabilities (N × 3) right on every example but the first `wrong`, which are given to the next class. */
function probabilities(wrong: number): Float32Array {
  const p = new Float32Array(N * 3);
  for (let i = 0; i < N; i++) {
    const predicted = i < wrong ? (labels[i] + 1) % 3 : labels[i];
    for (let c = 0; c < 3; c++) p[i * 3 + c] = c === predicted ? 0.8 : 0.1;
  }
  return p;
}

function manifest(task: 'classification' | 'regression'): DatasetManifest {
  const tensor = (file: string) => ({ file, dtype: 'uint8' as const, shape: [1], sha256: hex('0') });
  const split = (count: number, digest: string) => ({
    count,
    digest,
    classCounts: task === 'classification' ? [count, 0, 0] : [],
    x: tensor('x.bin'),
    y: tensor('y.bin'),
  });
  return {
    schemaVersion: DATASET_SCHEMA_VERSION,
    kind: 'modelship.dataset',
    format: 'csv',
    task,
    source: { uri: 'data.csv' },
    digest: hex('1'),
    classes: task === 'classification' ? CLASSES : [],
    inputShape: [3],
    split: { ratios: [70, 10, 20], seed: 1, given: false },
    splits: { train: split(350, hex('a')), validation: split(50, hex('b')), test: split(N, hex('c')) },
    files: [],
    statistics: { classDistribution: [], channels: [], histogram: { edges: [0, 255], counts: [0] } },
    createdAt: '2026-01-01T00:00:00Z',
    tool: { name: 'modelship', version: '0.0.0' },
    manifestDigest: hex('2'),
  };
}

function metadata(task: 'classification' | 'regression', git: ModelMetadata['git']): ModelMetadata {
  return {
    schemaVersion: 1,
    kind: 'modelship.model',
    name: 'fashion',
    task,
    inputShape: [3],
    classes: task === 'classification' ? CLASSES : [],
    preprocessing: { scale: 1 / 255, offset: 0 },
    dataset: { digest: hex('1'), splits: { train: hex('a'), validation: hex('b') } },
    params: { architecture: 'dense', epochs: 4, batchSize: 16, learningRate: 0.01, seed: 7, earlyStoppingPatience: 0 },
    backend: 'wasm',
    versions: {},
    git,
    metrics: { epochsRun: 4 },
    training: { startedAt: '2026-01-01T00:00:00Z', finishedAt: '2026-01-01T00:01:00Z', durationSeconds: 60, samplesPerSecond: 10 },
  };
}

const candidateIdentity: ModelIdentity = { name: 'fashion', label: 'this PR', source: 'folder', digest: hex('d'), trainedOn: hex('1') };
const baselineIdentity: ModelIdentity = {
  name: 'fashion',
  label: 'production v3',
  source: 'registry',
  digest: hex('e'),
  ref: 'fashion:3@sha256:eeee',
  version: 3,
  alias: 'production',
  trainedOn: hex('1'),
};

interface Case {
  readonly name: string;
  readonly task?: 'classification' | 'regression';
  /** Examples the candidate gets wrong (classification) or its prediction offset (regression). */
  readonly candidateWrong: number;
  /** Examples the baseline gets wrong; no baseline when absent. */
  readonly baselineWrong?: number;
  readonly thresholds?: readonly string[];
  readonly maxRegression?: readonly string[];
  readonly baselineNote?: string;
  readonly git?: ModelMetadata['git'];
  readonly history?: readonly EpochRecord[];
  readonly expect: {
    readonly passed: boolean;
    readonly firstModel: boolean;
    readonly verdicts: readonly string[];
    readonly reasons?: readonly RegExp[];
    readonly mcnemar?: { readonly candidateOnly: number; readonly baselineOnly: number; readonly significant: boolean };
  };
}

function sideOf(task: 'classification' | 'regression', wrong: number, identity: ModelIdentity, git: ModelMetadata['git']) {
  const outputs = task === 'classification' ? probabilities(wrong) : Float32Array.from(labels, (y) => y + wrong);
  const metrics: Metrics = task === 'classification' ? classificationMetrics(outputs, labels, 3) : regressionMetrics(outputs, labels);
  const side: ScoredSide = { identity, metadata: metadata(task, git), metrics };
  return { side, correct: task === 'classification' ? correctness(outputs, labels, 3) : undefined };
}

function inputOf(c: Case): GateReportInput {
  const task = c.task ?? 'classification';
  const git = c.git ?? { commit: 'abcdef0123456789' };
  const cand = sideOf(task, c.candidateWrong, candidateIdentity, git);
  const base = c.baselineWrong === undefined ? undefined : sideOf(task, c.baselineWrong, baselineIdentity, {});
  const decision = decideGate({
    candidate: scalarMetrics(cand.side.metrics),
    ...(base ? { baseline: scalarMetrics(base.side.metrics) } : {}),
    ...(cand.correct ? { candidateCorrect: cand.correct } : {}),
    ...(base?.correct ? { baselineCorrect: base.correct } : {}),
    rules: parseGateRules(task, c.thresholds ?? [], c.maxRegression ?? []),
    significance: { alpha: 0.05 },
  });
  return {
    name: 'fashion',
    candidate: cand.side,
    ...(base ? { baseline: base.side } : {}),
    ...(c.baselineNote ? { baselineNote: c.baselineNote } : {}),
    decision,
    manifest: manifest(task),
    testCount: N,
    ...(c.history ? { history: c.history } : {}),
    run: { url: 'https://github.com/acme/shop/actions/runs/1', pr: 7 },
    createdAt: new Date(Date.UTC(2026, 0, 2, 3, 4, 5)),
  };
}

describe('buildGateReport', () => {
  const cases: readonly Case[] = [
    {
      name: 'first model passing its thresholds: no baseline, the note says why, regression limits skipped',
      candidateWrong: 5,
      thresholds: ['accuracy >= 0.9'],
      maxRegression: ['accuracy: 1pp'],
      baselineNote: 'first model: the registry has no versions of fashion yet — gated on thresholds only',
      expect: { passed: true, firstModel: true, verdicts: ['pass', 'skip'], reasons: [/meets/, /first model/] },
    },
    {
      name: 'first model below a threshold fails',
      candidateWrong: 20,
      thresholds: ['accuracy >= 0.9'],
      expect: { passed: false, firstModel: true, verdicts: ['fail'], reasons: [/accuracy = 0\.8\b/] },
    },
    {
      name: 'a significant regression against the baseline fails, with McNemar counts',
      candidateWrong: 15,
      baselineWrong: 0,
      thresholds: ['accuracy >= 0.5'],
      maxRegression: ['accuracy: 1pp'],
      expect: {
        passed: false,
        firstModel: false,
        verdicts: ['pass', 'fail'],
        reasons: [/meets/, /significant \(McNemar p = /],
        mcnemar: { candidateOnly: 0, baselineOnly: 15, significant: true },
      },
    },
    {
      name: 'an improvement on the baseline passes',
      candidateWrong: 2,
      baselineWrong: 10,
      maxRegression: ['accuracy: 1pp'],
      expect: { passed: true, firstModel: false, verdicts: ['pass'], mcnemar: { candidateOnly: 8, baselineOnly: 0, significant: true } },
    },
    {
      name: 'regression task: scalars only, no per-class metrics or confusion',
      task: 'regression',
      candidateWrong: 0.5,
      thresholds: ['mae <= 1'],
      git: {},
      expect: { passed: true, firstModel: true, verdicts: ['pass'] },
    },
  ];

  for (const c of cases) {
    it(c.name, () => {
      const input = inputOf(c);
      const report = buildGateReport(input);
      // What it builds is a valid report.json, as a downloaded one is checked.
      assert.deepEqual(parseGateReport(JSON.parse(JSON.stringify(report))), report);
      assert.equal(report.schemaVersion, REPORT_SCHEMA_VERSION);
      assert.equal(report.kind, 'modelship.report');
      assert.equal(report.task, c.task ?? 'classification');
      assert.equal(report.passed, c.expect.passed);
      assert.equal(report.firstModel, c.expect.firstModel);
      assert.deepEqual(
        report.rules.map((r) => r.verdict),
        c.expect.verdicts,
      );
      c.expect.reasons?.forEach((re, i) => assert.match(report.rules[i].reason, re));
      assert.equal(report.createdAt, '2026-01-02T03:04:05.000Z');
      assert.deepEqual(report.run, { url: 'https://github.com/acme/shop/actions/runs/1', pr: 7 });
      assert.deepEqual(report.metrics, report.candidate.metrics.scalars);
      assert.deepEqual(report.metrics, scalarMetrics(input.candidate.metrics));

      if (c.baselineWrong === undefined) {
        assert.equal(report.baseline, null);
        assert.equal(report.significance.mcnemar, undefined);
        for (const r of report.rules) assert.equal(r.baseline, null);
      } else {
        assert.deepEqual({ ...report.baseline, metrics: undefined }, { ...baselineIdentity, metrics: undefined });
        assert.deepEqual(report.baseline?.metrics.scalars, scalarMetrics(input.baseline!.metrics));
        for (const r of report.rules.filter((x) => x.kind === 'regression'))
          assert.equal(r.baseline, scalarMetrics(input.baseline!.metrics)[r.metric]);
      }
      assert.equal(report.baselineNote, c.baselineNote);
      if (c.expect.mcnemar) {
        const m = report.significance.mcnemar;
        assert.deepEqual(
          { candidateOnly: m?.candidateOnly, baselineOnly: m?.baselineOnly, significant: m?.significant, n: m?.n },
          { ...c.expect.mcnemar, n: N },
        );
      }
      assert.equal(report.significance.alpha, 0.05);

      if ((c.task ?? 'classification') === 'classification') {
        assert.equal(report.candidate.metrics.perClass?.length, CLASSES.length);
        assert.equal(
          report.candidate.metrics.confusion?.flat().reduce((a, b) => a + b, 0),
          N,
        );
      } else {
        assert.equal(report.candidate.metrics.perClass, undefined);
        assert.equal(report.candidate.metrics.confusion, undefined);
      }
    });
  }

  it('carries the candidate identity, its params, backend and commit, and the data set', () => {
    const report = buildGateReport(inputOf({ name: 'x', candidateWrong: 0, expect: { passed: true, firstModel: true, verdicts: [] } }));
    assert.deepEqual(report.candidate.params, { architecture: 'dense', epochs: 4, batch: 16, lr: 0.01, seed: 7 });
    assert.equal(report.candidate.backend, 'wasm');
    assert.equal(report.candidate.commit, 'abcdef0123456789');
    assert.equal(report.candidate.label, 'this PR');
    assert.equal(report.candidate.digest, hex('d'));
    assert.equal(report.candidate.trainedOn, hex('1'));
    assert.deepEqual(report.dataset, {
      digest: hex('1'),
      split: 'test',
      splitDigest: hex('c'),
      count: N,
      total: 350 + 50 + N,
      ratios: [70, 10, 20],
      counts: { train: 350, validation: 50, test: N },
      classes: CLASSES,
    });
    assert.equal('history' in report, false);
    assert.equal('baselineNote' in report, false);
  });

  it('leaves out a commit the model does not record', () => {
    const report = buildGateReport(
      inputOf({ name: 'x', candidateWrong: 0, git: {}, expect: { passed: true, firstModel: true, verdicts: [] } }),
    );
    assert.equal('commit' in report.candidate, false);
  });

  it('writes history with non-finite values as null and absent ones left out', () => {
    const history: EpochRecord[] = [
      { epoch: 1, loss: 0.9, acc: 0.5, valLoss: 1.1, valAcc: 0.4, samplesPerSecond: 10, seconds: 1 },
      { epoch: 2, loss: Number.NaN, valLoss: Number.POSITIVE_INFINITY, samplesPerSecond: 10, seconds: 1 },
    ];
    const report = buildGateReport(
      inputOf({ name: 'x', candidateWrong: 0, history, expect: { passed: true, firstModel: true, verdicts: [] } }),
    );
    assert.deepEqual(report.history, [
      { epoch: 1, loss: 0.9, acc: 0.5, valLoss: 1.1, valAcc: 0.4 },
      { epoch: 2, loss: null, valLoss: null },
    ]);
  });

  it('writes a non-finite metric as null (missing), which the report schema accepts', () => {
    const input = inputOf({ name: 'x', task: 'regression', candidateWrong: 0, expect: { passed: true, firstModel: true, verdicts: [] } });
    const metrics: Metrics = { task: 'regression', count: N, mse: 0, rmse: 0, mae: 0, r2: Number.NaN };
    const report = buildGateReport({ ...input, candidate: { ...input.candidate, metrics } });
    assert.equal(report.metrics['r2'], null);
    assert.equal(report.candidate.metrics.scalars['r2'], null);
    assert.deepEqual(parseGateReport(JSON.parse(JSON.stringify(report))), report);
  });
});

/**
 * The gate's report, built from what the run found: a pure function from plain data to the
 * `report.json` shape (report/gate-report.ts). The PR comment and the job summary render it.
 */
import type { DatasetManifest } from '../data/index.ts';
import type { EpochRecord, ModelMetadata } from '../model/index.ts';
import { jsonNumber, REPORT_SCHEMA_VERSION, type GateReport } from '../report/index.ts';
import type { GateDecision } from './gate.ts';
import { scalarMetrics, type Metrics } from './metrics.ts';

/** How a model is named in the report (everything but its metrics). */
export type ModelIdentity = Omit<NonNullable<GateReport['baseline']>, 'metrics'>;

export interface ScoredSide {
  readonly identity: ModelIdentity;
  readonly metadata: ModelMetadata;
  readonly metrics: Metrics;
}

export interface GateReportInput {
  readonly name: string;
  readonly candidate: ScoredSide;
  readonly baseline?: ScoredSide;
  /** Why there is no baseline, or how it was found. */
  readonly baselineNote?: string;
  readonly decision: GateDecision;
  readonly manifest: DatasetManifest;
  readonly testCount: number;
  readonly history?: readonly EpochRecord[];
  readonly run: NonNullable<GateReport['run']>;
  readonly createdAt: Date;
}

export function reportMetrics(m: Metrics): GateReport['candidate']['metrics'] {
  const scalars: Record<string, number | null> = {};
  for (const [k, v] of Object.entries(scalarMetrics(m))) scalars[k] = jsonNumber(v);
  if (m.task === 'regression') return { scalars };
  return {
    scalars,
    perClass: m.perClass.map((c) => ({
      precision: jsonNumber(c.precision),
      recall: jsonNumber(c.recall),
      f1: jsonNumber(c.f1),
      support: c.support,
    })),
    confusion: m.confusion.map((r) => [...r]),
  };
}

/** report.json from the run's findings. Pure. */
export function buildGateReport(input: GateReportInput): GateReport {
  const { candidate, baseline, decision, manifest: m } = input;
  const md = candidate.metadata;
  const candidateMetrics = reportMetrics(candidate.metrics);
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    kind: 'modelship.report',
    name: input.name,
    task: m.task,
    passed: decision.passed,
    firstModel: decision.firstModel,
    createdAt: input.createdAt.toISOString(),
    metrics: candidateMetrics.scalars,
    candidate: {
      ...candidate.identity,
      name: input.name,
      metrics: candidateMetrics,
      params: {
        architecture: md.params.architecture,
        epochs: md.params.epochs,
        batch: md.params.batchSize,
        lr: md.params.learningRate,
        seed: md.params.seed,
      },
      backend: md.backend,
      ...(md.git.commit ? { commit: md.git.commit } : {}),
    },
    baseline: baseline ? { ...baseline.identity, metrics: reportMetrics(baseline.metrics) } : null,
    ...(input.baselineNote ? { baselineNote: input.baselineNote } : {}),
    dataset: {
      digest: m.digest,
      split: 'test',
      splitDigest: m.splits.test.digest,
      count: input.testCount,
      total: m.splits.train.count + m.splits.validation.count + m.splits.test.count,
      ratios: [...m.split.ratios],
      counts: { train: m.splits.train.count, validation: m.splits.validation.count, test: m.splits.test.count },
      classes: [...m.classes],
    },
    rules: decision.rules.map((r) => ({
      rule: r.rule.source,
      kind: r.rule.kind,
      metric: r.metric,
      text: r.text,
      value: jsonNumber(r.value),
      baseline: jsonNumber(r.baseline),
      verdict: r.verdict,
      reason: r.reason,
      ...(r.note ? { note: r.note } : {}),
    })),
    significance: {
      alpha: decision.significance.alpha,
      ...(decision.significance.mcnemar ? { mcnemar: decision.significance.mcnemar } : {}),
      bootstrap: decision.significance.bootstrap.map((b) => ({
        ...b,
        observed: jsonNumber(b.observed),
        low: jsonNumber(b.low),
        high: jsonNumber(b.high),
      })),
    },
    ...(input.history
      ? {
          history: input.history.map((e) => ({
            epoch: e.epoch,
            loss: jsonNumber(e.loss),
            ...(e.acc !== undefined ? { acc: jsonNumber(e.acc) } : {}),
            ...(e.valLoss !== undefined ? { valLoss: jsonNumber(e.valLoss) } : {}),
            ...(e.valAcc !== undefined ? { valAcc: jsonNumber(e.valAcc) } : {}),
          })),
        }
      : {}),
    run: input.run,
  };
}

/**
 * `report.json`, evaluate-gate's artifact: candidate and baseline identities and digests, every
 * metric, every rule with value, baseline, verdict and reason, the significance result and
 * `passed`. The PR comment and the job summary are renderings of it (gate-markdown.ts).
 *
 * A report can come from an untrusted run (the two-phase fork workflow downloads it as an
 * artifact), so `parseGateReport` validates its shape before anything renders it.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ConfigurationError } from '../util/index.ts';

export const REPORT_FILE = 'report.json';
export const REPORT_MARKDOWN_FILE = 'report.md';
export const REPORT_SCHEMA_VERSION = 1;

/** JSON has no NaN or Infinity: they are written as null ("missing"), which never passes a rule. */
const num = z.number().nullable();
const shortText = z.string().max(2000);

const identity = {
  name: shortText,
  /** How people see it: `this PR`, `production v12`, `fashion:3`, a folder name. */
  label: shortText,
  source: z.enum(['folder', 'registry']),
  /** sha256:… of the model files (folder) or the registry manifest (registry). */
  digest: shortText.optional(),
  ref: shortText.optional(),
  version: z.number().int().optional(),
  alias: shortText.optional(),
  /** The data set digest it was trained on. */
  trainedOn: shortText.optional(),
};

const metricsSchema = z.object({
  scalars: z.record(z.string().max(200), num),
  perClass: z
    .array(z.object({ precision: num, recall: num, f1: num, support: z.number() }))
    .max(10000)
    .optional(),
  confusion: z.array(z.array(z.number())).max(10000).optional(),
});

export const gateReportSchema = z.object({
  schemaVersion: z.literal(REPORT_SCHEMA_VERSION),
  kind: z.literal('modelship.report'),
  name: shortText,
  task: z.enum(['classification', 'regression']),
  passed: z.boolean(),
  firstModel: z.boolean(),
  createdAt: shortText,
  /** The candidate's scalar metrics (the same as candidate.metrics.scalars; what register stores). */
  metrics: z.record(z.string().max(200), num),
  candidate: z.object({
    ...identity,
    metrics: metricsSchema,
    params: z.record(z.string().max(200), z.union([z.string().max(2000), z.number(), z.boolean(), z.null()])).optional(),
    backend: shortText.optional(),
    commit: shortText.optional(),
  }),
  baseline: z.object({ ...identity, metrics: metricsSchema }).nullable(),
  /** Why there is no baseline, or how it was found, in plain words. */
  baselineNote: shortText.optional(),
  dataset: z.object({
    digest: shortText,
    split: z.literal('test'),
    splitDigest: shortText,
    count: z.number(),
    total: z.number(),
    ratios: z.array(z.number()).max(3).optional(),
    /** Examples per split. */
    counts: z.object({ train: z.number(), validation: z.number(), test: z.number() }).optional(),
    classes: z.array(z.string().max(500)).max(10000),
  }),
  rules: z
    .array(
      z.object({
        rule: shortText,
        kind: z.enum(['threshold', 'regression']),
        metric: z.string().max(200),
        text: shortText,
        value: num,
        baseline: num,
        verdict: z.enum(['pass', 'fail', 'skip']),
        reason: shortText,
        note: z.literal('within-noise').optional(),
      }),
    )
    .max(1000),
  significance: z.object({
    alpha: z.number(),
    mcnemar: z
      .object({
        test: z.literal('mcnemar-exact'),
        n: z.number(),
        candidateOnly: z.number(),
        baselineOnly: z.number(),
        pValue: z.number(),
        significant: z.boolean(),
      })
      .optional(),
    bootstrap: z
      .array(
        z.object({
          test: z.literal('paired-bootstrap'),
          metric: z.string().max(200),
          n: z.number(),
          resamples: z.number(),
          seed: z.number(),
          confidence: z.number(),
          observed: num,
          low: num,
          high: num,
          significant: z.boolean(),
        }),
      )
      .max(100),
  }),
  history: z
    .array(z.object({ epoch: z.number(), loss: num.optional(), acc: num.optional(), valLoss: num.optional(), valAcc: num.optional() }))
    .max(100000)
    .optional(),
  run: z
    .object({
      url: shortText.optional(),
      number: shortText.optional(),
      workflow: shortText.optional(),
      workflowFile: shortText.optional(),
      event: shortText.optional(),
      sha: shortText.optional(),
      ref: shortText.optional(),
      repository: shortText.optional(),
      pr: z.number().optional(),
    })
    .optional(),
});

export type GateReport = z.infer<typeof gateReportSchema>;
export type ReportRule = GateReport['rules'][number];
export type ReportModel = GateReport['candidate'];
export type ReportBaseline = NonNullable<GateReport['baseline']>;

/** Validates a report (e.g. one downloaded from an untrusted run). */
export function parseGateReport(value: unknown, where = REPORT_FILE): GateReport {
  const r = gateReportSchema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0];
    const at = issue?.path.length ? issue.path.join('.') : '(top level)';
    throw new ConfigurationError(
      `${where} is not a modelship gate report: ${at}: ${issue?.message ?? 'invalid'}.`,
      'Pass the report.json written by evaluate-gate (its report output).',
    );
  }
  return r.data;
}

export async function readGateReport(file: string): Promise<GateReport> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigurationError(
      `cannot read the report '${file}' (${(err as Error).message}).`,
      'Pass the report.json written by evaluate-gate.',
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigurationError(
      `the report '${file}' is not JSON (${(err as Error).message}).`,
      'Pass the report.json written by evaluate-gate.',
    );
  }
  return parseGateReport(json, file);
}

/** JSON-safe number: NaN and ±Infinity become null. */
export function jsonNumber(v: number | null | undefined): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

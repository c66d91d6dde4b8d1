/**
 * The measurement and its verdicts, shared by monitor-check and deploy-rollout's canary analysis.
 *
 * `measure` reads named metrics for one model version over a window from a source (Prometheus or
 * scrapes) and returns one observation per metric: a value, no data, or an error. `judge` applies
 * threshold rules of the shared rule language to those observations. Nothing here publishes
 * anything or reads the environment.
 */
import { evaluateRules, describeRule, fmt, type ThresholdRule } from '../rules/index.ts';
import { predictionDrift, inputDrift, type InputDrift, type PredictionDrift, type Score } from './drift.ts';
import { binCounts } from './histogram.ts';
import type { DriftReference } from './reference.ts';
import { DEFAULT_FEEDBACK_MIN_COUNT, DRIFT_NAMES, type CustomQuery, type Target } from './slo.ts';
import type { Distributions, MetricSource, Observation } from './sources.ts';

/** Predictions (and examples) a window needs before drift is judged. */
export const DEFAULT_MIN_COUNT = 500;

export interface MeasureOptions {
  /** The drift reference; drift metrics without one are errors. */
  readonly reference?: DriftReference;
  /** Fewer predictions (examples, for input drift) in the window is no data. Default 500. */
  readonly minCount?: number;
  /** Named PromQL from modelship.yml. */
  readonly custom?: readonly CustomQuery[];
  /** Fewer labelled predictions (feedback) in the window is no data for live_accuracy and live_error_rate. Default 100. */
  readonly minFeedback?: number;
  /** For the timing figure (default Date.now). */
  readonly clock?: () => number;
}

export interface Measurement {
  readonly target: Target;
  readonly windowSeconds: number;
  readonly start: string;
  readonly end: string;
  readonly source: { readonly kind: MetricSource['kind']; readonly where: string };
  /** One observation per metric asked for, SLO, custom and drift alike. */
  readonly observations: Readonly<Record<string, Observation>>;
  /** The drift computations behind the drift observations, when drift was read. */
  readonly drift?: { readonly prediction?: PredictionDrift; readonly input?: InputDrift };
  /** Figures of this measurement: requests made, series read, seconds taken. */
  readonly stats: { readonly requests: number; readonly series: number; readonly seconds: number };
}

/**
 * Measures `metrics` (SLO names, custom query names, drift names) for `target` over the last
 * `windowSeconds`. Never throws for a source that cannot answer: each metric then carries an
 * error observation naming the URL.
 */
export async function measure(
  source: MetricSource,
  metrics: readonly string[],
  target: Target,
  windowSeconds: number,
  opts: MeasureOptions = {},
): Promise<Measurement> {
  const clock = opts.clock ?? Date.now;
  const t0 = clock();
  const before = source.stats();
  const names = [...new Set(metrics)];
  const driftNames = names.filter((n) => DRIFT_NAMES.includes(n));
  const valueNames = names.filter((n) => !DRIFT_NAMES.includes(n));
  const reading = await source.read({
    target,
    windowSeconds,
    names: valueNames,
    ...(opts.custom ? { custom: opts.custom } : {}),
    drift: driftNames.length > 0 && opts.reference !== undefined,
    minFeedback: opts.minFeedback ?? DEFAULT_FEEDBACK_MIN_COUNT,
  });
  const observations: Record<string, Observation> = { ...reading.values };
  let drift: Measurement['drift'];
  if (driftNames.length > 0) {
    if (!opts.reference) {
      for (const n of driftNames)
        observations[n] = {
          kind: 'error',
          message: `${n} needs a reference`,
          hint: "Give reference: setup-data's manifest.json or the model folder.",
        };
    } else {
      const d = driftObservations(reading.distributions, opts.reference, opts.minCount ?? DEFAULT_MIN_COUNT);
      drift = d.detail;
      for (const n of driftNames) observations[n] = d.observations[n] ?? { kind: 'error', message: `no ${n}` };
    }
  }
  const after = source.stats();
  return {
    target,
    windowSeconds,
    start: reading.start.toISOString(),
    end: reading.end.toISOString(),
    source: { kind: source.kind, where: source.where },
    observations,
    ...(drift ? { drift } : {}),
    stats: { requests: after.requests - before.requests, series: after.series - before.series, seconds: (clock() - t0) / 1000 },
  };
}

function fromScore(s: Score, series: number): Observation {
  return s.ok ? { kind: 'value', value: s.value, series, warnings: [] } : { kind: 'no-data', reason: s.reason };
}

function sameEdge(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(a), Math.abs(b));
}

function driftObservations(
  d: Distributions | Extract<Observation, { kind: 'error' }> | undefined,
  ref: DriftReference,
  minCount: number,
): { observations: Record<string, Observation>; detail: NonNullable<Measurement['drift']> } {
  const all = (o: Observation): Record<string, Observation> => Object.fromEntries(DRIFT_NAMES.map((n) => [n, o]));
  if (!d) return { observations: all({ kind: 'error', message: 'drift was not read' }), detail: {} };
  if ('kind' in d) return { observations: all(d), detail: {} };
  const obs: Record<string, Observation> = {};
  const detail: { prediction?: PredictionDrift; input?: InputDrift } = {};
  if (d.classes === undefined) {
    const none: Observation = { kind: 'no-data', reason: 'no modelship_predictions_total series in the window' };
    obs['prediction_psi'] = obs['prediction_js'] = obs['prediction_chi2_p'] = none;
  } else {
    const p = predictionDrift(d.classes, { classes: ref.classes, distribution: ref.classDistribution }, minCount);
    detail.prediction = p;
    const n = p.classes.length;
    obs['prediction_psi'] = fromScore(p.psi, n);
    obs['prediction_js'] = fromScore(p.js, n);
    obs['prediction_chi2_p'] = p.chi2.ok
      ? { kind: 'value', value: p.chi2.pValue, series: n, warnings: [] }
      : { kind: 'no-data', reason: p.chi2.reason };
  }
  if (d.inputs === undefined) {
    const none: Observation = { kind: 'no-data', reason: 'no modelship_input_values series in the window' };
    obs['input_psi'] = obs['input_js'] = none;
  } else {
    const bins = binCounts(d.inputs);
    const upper = ref.histogram.edges.slice(1);
    if (bins.upper.length !== upper.length || bins.upper.some((u, i) => !sameEdge(u, upper[i]))) {
      const e: Observation = {
        kind: 'error',
        message: `the server's modelship_input_values buckets (le ${bins.upper.join(', ')}) are not the reference histogram's upper edges (${upper.join(', ')})`,
        hint: 'Serve the model whose reference this is: the server takes its input buckets from the same statistics.',
      };
      obs['input_psi'] = obs['input_js'] = e;
    } else {
      // Values beyond the last edge fall in the last bin, as setup-data's histogram() places them.
      const counts = bins.counts.map((c, i) => (i === bins.counts.length - 1 ? c + bins.overflow : c));
      const i = inputDrift(counts, ref.histogram, d.examples ?? bins.total, minCount);
      detail.input = i;
      obs['input_psi'] = fromScore(i.psi, counts.length);
      obs['input_js'] = fromScore(i.js, counts.length);
    }
  }
  return { observations: obs, detail };
}

export type NoDataPolicy = 'fail' | 'warn' | 'pass';

export interface RuleVerdict {
  /** The rule as written. */
  readonly rule: string;
  readonly metric: string;
  /** The limit in short form (`≤ 100`). */
  readonly limit: string;
  /** The rule's number (100 in `p95_latency_ms <= 100`). */
  readonly threshold: number;
  readonly value: number | null;
  /** pass, breach (a value beyond the limit, NaN and infinities included), no data, or error. */
  readonly status: 'pass' | 'breach' | 'no-data' | 'error';
  /** What it does to the check: no data follows the no-data policy; an error always fails. */
  readonly outcome: 'pass' | 'fail' | 'warn';
  readonly reason: string;
  readonly hint?: string;
  /** The numbers behind the value (feedback metrics: `124 of 200 labelled predictions right`). */
  readonly detail?: string;
}

export type CheckStatus = 'healthy' | 'breach' | 'no-data' | 'error';

export interface Judgement {
  /** error > breach > no-data > healthy. */
  readonly status: CheckStatus;
  /** True when every rule holds (no data counts only under no-data: pass). */
  readonly healthy: boolean;
  /** True when the check must fail: an error, a breach, or no data under no-data: fail. */
  readonly failed: boolean;
  readonly verdicts: readonly RuleVerdict[];
  readonly breaches: readonly RuleVerdict[];
}

/** Applies threshold rules to observations. Pure. */
export function judge(
  rules: readonly ThresholdRule[],
  observations: Readonly<Record<string, Observation>>,
  noData: NoDataPolicy,
): Judgement {
  const verdicts = rules.map((rule): RuleVerdict => {
    const base = { rule: rule.source, metric: rule.metric, limit: describeRule(rule), threshold: rule.value };
    const o = Object.hasOwn(observations, rule.metric) ? observations[rule.metric] : undefined;
    if (!o) return { ...base, value: null, status: 'error', outcome: 'fail', reason: `${rule.metric} was not measured` };
    if (o.kind === 'error')
      return { ...base, value: null, status: 'error', outcome: 'fail', reason: o.message, ...(o.hint ? { hint: o.hint } : {}) };
    if (o.kind === 'no-data') {
      return { ...base, value: null, status: 'no-data', outcome: noData, reason: `no data: ${o.reason}` };
    }
    const [r] = evaluateRules([rule], { [rule.metric]: o.value });
    const warn = o.warnings.length ? ` (Prometheus warned: ${o.warnings.join('; ')})` : '';
    const detail = o.detail ? { detail: o.detail } : {};
    const why = `${r.reason}${o.detail ? ` (${o.detail})` : ''}${warn}`;
    return r.verdict === 'pass'
      ? { ...base, value: o.value, status: 'pass', outcome: 'pass', reason: why, ...detail }
      : { ...base, value: o.value, status: 'breach', outcome: 'fail', reason: why, ...detail };
  });
  const breaches = verdicts.filter((v) => v.status === 'breach');
  const status: CheckStatus = verdicts.some((v) => v.status === 'error')
    ? 'error'
    : breaches.length
      ? 'breach'
      : verdicts.some((v) => v.status === 'no-data' && v.outcome !== 'pass')
        ? 'no-data'
        : 'healthy';
  return {
    status,
    healthy: verdicts.every((v) => v.outcome === 'pass'),
    failed: verdicts.some((v) => v.outcome === 'fail'),
    verdicts,
    breaches,
  };
}

/** A one-line value with its metric's unit, for logs and dispatch inputs. */
export function formatValue(metric: string, value: number | null): string {
  if (value === null) return 'no value';
  if (!Number.isFinite(value)) return String(value);
  if (metric.endsWith('_ms')) return `${fmt(Number(value.toFixed(3)))} ms`;
  return fmt(value);
}

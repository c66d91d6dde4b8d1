/**
 * The SLO table: every named SLO metric once, with its PromQL and its computation from two scrapes.
 * monitor-check's queries, the Grafana dashboard's panels and the Prometheus alerting rules are all
 * generated from this table, so they cannot differ.
 *
 * The metric names are the model server's contract (issue 10):
 *   modelship_requests_total{model,version,api,code}             counter
 *   modelship_request_duration_seconds{model,version}            histogram (0.001 … 10 s)
 *   modelship_predictions_total{model,version,class}              counter
 *   modelship_examples_total{model,version}                       counter
 *   modelship_input_values{model,version}                         histogram, the reference's bins
 *   modelship_feedback_correct_total{model,version}               counter (issue 15: feedback on a prediction that was right)
 *   modelship_feedback_wrong_total{model,version}                 counter (… that was wrong)
 * Request counts cover the inference APIs only (predict, classify, regress, infer): health,
 * metadata, status and feedback calls neither dilute the error rate nor count as traffic.
 */
import type { Direction } from '../rules/index.ts';
import { ConfigurationError } from '../util/index.ts';
import { histogramQuantile, type Bucket } from './histogram.ts';

export const METRICS = {
  requests: 'modelship_requests_total',
  duration: 'modelship_request_duration_seconds',
  predictions: 'modelship_predictions_total',
  examples: 'modelship_examples_total',
  inputs: 'modelship_input_values',
  modelInfo: 'modelship_model_info',
  labelInfo: 'modelship_label_info',
  queueDepth: 'modelship_queue_depth',
  queueWait: 'modelship_queue_wait_seconds',
  batchSize: 'modelship_batch_size',
  feedbackCorrect: 'modelship_feedback_correct_total',
  feedbackWrong: 'modelship_feedback_wrong_total',
} as const;

/**
 * Labelled predictions a window needs before live accuracy is judged (monitor-check's
 * feedback-min-count); fewer is no data. With 100, a true accuracy of 0.9 reads 0.9 ± 0.03.
 */
export const DEFAULT_FEEDBACK_MIN_COUNT = 100;

/** The APIs whose requests are traffic. */
export const INFERENCE_APIS = ['predict', 'classify', 'regress', 'infer'] as const;
const API_MATCH = `api=~"${INFERENCE_APIS.join('|')}"`;

/** Where a query is used: the label matchers, the range and the labels to keep. */
export interface QueryScope {
  /** Label matchers without braces, e.g. `model="fashion",version="3"` or `model=~"$model"`. */
  readonly selector: string;
  /** A PromQL range: `1h`, `5m`, `$__rate_interval`. */
  readonly window: string;
  /** Labels the result keeps (none for one model version; `version` on a dashboard). */
  readonly by?: readonly string[];
  /** Feedback metrics: fewer labelled predictions than this in the window is no data (default: any). */
  readonly minFeedback?: number;
}

/** What two scrapes give for one model version over the time between them. */
export interface WindowCounts {
  readonly seconds: number;
  /** Increase of each inference-API request series (api, code), summed over servers. */
  readonly requests: readonly { readonly api: string; readonly code: string; readonly increase: number }[];
  /** Increase of each latency bucket, summed over servers. */
  readonly latency: readonly Bucket[];
  /** Increase of the latency histogram's _count; undefined when the series is absent. */
  readonly latencyCount: number | undefined;
  /** Increases of the feedback counters, summed over servers; undefined when neither series is there. */
  readonly feedback?: { readonly correct: number; readonly wrong: number };
  /** Feedback metrics: fewer labelled predictions than this is no data. */
  readonly minFeedback?: number;
}

export type SloUnit = 'ms' | 'ratio' | 'per-second';

export interface SloMetric {
  readonly name: string;
  readonly title: string;
  readonly unit: SloUnit;
  readonly direction: Direction;
  readonly description: string;
  /** Grafana's unit id for the panel. */
  readonly grafanaUnit: string;
  promql(scope: QueryScope): string;
  /** The same value from scrape increases; undefined when the window holds no data for it. */
  fromCounts(w: WindowCounts): number | undefined;
  /** Feedback metrics: computed from the feedback counters (what `no data` means differs). */
  readonly feedback?: boolean;
}

/** `{a,b}` from matchers, dropping empty ones ('' when none are left). */
export function matchers(...parts: readonly string[]): string {
  const kept = parts.filter((p) => p !== '');
  return kept.length ? `{${kept.join(',')}}` : '';
}

function sumBy(by: readonly string[] | undefined, expr: string): string {
  return by && by.length ? `sum by (${by.join(', ')}) (${expr})` : `sum(${expr})`;
}

function onBy(by: readonly string[] | undefined): string {
  return `on(${(by ?? []).join(', ')})`;
}

const requests = (s: QueryScope, extra = ''): string => `rate(${METRICS.requests}${matchers(s.selector, API_MATCH, extra)}[${s.window}])`;

function ratio(s: QueryScope, codeMatch: string): string {
  return `${sumBy(s.by, `${requests(s, codeMatch)} or 0 * ${requests(s)}`)} / (${sumBy(s.by, requests(s))} > 0)`;
}

function latency(q: number): Pick<SloMetric, 'promql' | 'fromCounts'> {
  return {
    promql: (s) =>
      `1000 * histogram_quantile(${q}, ${sumBy([...(s.by ?? []), 'le'], `rate(${METRICS.duration}_bucket${matchers(s.selector)}[${s.window}])`)})` +
      ` and ${onBy(s.by)} (${sumBy(s.by, `rate(${METRICS.duration}_count${matchers(s.selector)}[${s.window}])`)} > 0)`,
    fromCounts: (w) => (w.latencyCount !== undefined && w.latencyCount > 0 ? 1000 * histogramQuantile(q, w.latency) : undefined),
  };
}

const is5xx = (code: string): boolean => /^5\d\d$/.test(code);

function totals(w: WindowCounts): { total: number; errors: number } | undefined {
  if (w.requests.length === 0) return undefined;
  let total = 0;
  let errors = 0;
  for (const r of w.requests) {
    total += r.increase;
    if (is5xx(r.code)) errors += r.increase;
  }
  return { total, errors };
}

const feedbackIncrease = (s: QueryScope, metric: string): string => sumBy(s.by, `increase(${metric}${matchers(s.selector)}[${s.window}])`);

/** Labelled predictions in the window: correct plus wrong. */
export function feedbackCountPromql(s: QueryScope): string {
  return `${feedbackIncrease(s, METRICS.feedbackCorrect)} + ${feedbackIncrease(s, METRICS.feedbackWrong)}`;
}

/**
 * A share of the labelled predictions over the window, guarded so that fewer than `minFeedback`
 * (any, when unset) is an empty result: no data, never a ratio of two small numbers.
 */
function feedbackRatio(counter: string): Pick<SloMetric, 'promql' | 'fromCounts' | 'feedback'> {
  return {
    feedback: true,
    promql: (s) => {
      const guard = s.minFeedback !== undefined && s.minFeedback > 0 ? `>= ${s.minFeedback}` : '> 0';
      return `${feedbackIncrease(s, counter)} / (${feedbackCountPromql(s)}) and ${onBy(s.by)} (${feedbackCountPromql(s)} ${guard})`;
    },
    fromCounts: (w) => {
      if (!w.feedback) return undefined;
      const total = w.feedback.correct + w.feedback.wrong;
      if (!(total > 0) || total < (w.minFeedback ?? 0)) return undefined;
      return (counter === METRICS.feedbackCorrect ? w.feedback.correct : w.feedback.wrong) / total;
    },
  };
}

/** The named SLO metrics, in display order. */
export const SLO_METRICS: readonly SloMetric[] = [
  {
    name: 'p50_latency_ms',
    title: 'p50 latency',
    unit: 'ms',
    direction: 'lower-is-better',
    grafanaUnit: 'ms',
    description: 'Median request latency in milliseconds (histogram_quantile over the rate of the latency buckets).',
    ...latency(0.5),
  },
  {
    name: 'p95_latency_ms',
    title: 'p95 latency',
    unit: 'ms',
    direction: 'lower-is-better',
    grafanaUnit: 'ms',
    description: '95th percentile request latency in milliseconds.',
    ...latency(0.95),
  },
  {
    name: 'p99_latency_ms',
    title: 'p99 latency',
    unit: 'ms',
    direction: 'lower-is-better',
    grafanaUnit: 'ms',
    description: '99th percentile request latency in milliseconds.',
    ...latency(0.99),
  },
  {
    name: 'error_rate',
    title: 'error rate',
    unit: 'ratio',
    direction: 'lower-is-better',
    grafanaUnit: 'percentunit',
    description: 'Share of inference requests answered 5xx (0 … 1).',
    promql: (s) => ratio(s, 'code=~"5.."'),
    fromCounts: (w) => {
      const t = totals(w);
      return t && t.total > 0 ? t.errors / t.total : undefined;
    },
  },
  {
    name: 'requests_per_second',
    title: 'requests per second',
    unit: 'per-second',
    direction: 'higher-is-better',
    grafanaUnit: 'reqps',
    description: 'Inference requests per second (0 when the series exist but nothing came in).',
    promql: (s) => sumBy(s.by, requests(s)),
    fromCounts: (w) => {
      const t = totals(w);
      return t && w.seconds > 0 ? t.total / w.seconds : undefined;
    },
  },
  {
    name: 'availability',
    title: 'availability',
    unit: 'ratio',
    direction: 'higher-is-better',
    grafanaUnit: 'percentunit',
    description: 'Share of inference requests not answered 5xx (0 … 1): 1 − error_rate.',
    promql: (s) => ratio(s, 'code!~"5.."'),
    fromCounts: (w) => {
      const t = totals(w);
      return t && t.total > 0 ? (t.total - t.errors) / t.total : undefined;
    },
  },
  {
    name: 'live_accuracy',
    title: 'live accuracy',
    unit: 'ratio',
    direction: 'higher-is-better',
    grafanaUnit: 'percentunit',
    description:
      'Share of the predictions labelled through :feedback in the window that were right (0 … 1); no data below feedback-min-count labelled predictions.',
    ...feedbackRatio(METRICS.feedbackCorrect),
  },
  {
    name: 'live_error_rate',
    title: 'live error rate',
    unit: 'ratio',
    direction: 'lower-is-better',
    grafanaUnit: 'percentunit',
    description: 'Share of the predictions labelled through :feedback in the window that were wrong (0 … 1): 1 − live_accuracy.',
    ...feedbackRatio(METRICS.feedbackWrong),
  },
];

/** The SLO metrics computed from feedback (measured only when a rule names them). */
export const FEEDBACK_SLO_NAMES: readonly string[] = SLO_METRICS.filter((m) => m.feedback).map((m) => m.name);

export const SLO_NAMES: readonly string[] = SLO_METRICS.map((m) => m.name);

export function sloMetric(name: string): SloMetric | undefined {
  return SLO_METRICS.find((m) => m.name === name);
}

/** The queries drift reads, per model version over the window. */
export const DRIFT_QUERIES = {
  classes: (s: QueryScope): string => `sum by (class) (increase(${METRICS.predictions}${matchers(s.selector)}[${s.window}]))`,
  inputs: (s: QueryScope): string => `sum by (le) (increase(${METRICS.inputs}_bucket${matchers(s.selector)}[${s.window}]))`,
  examples: (s: QueryScope): string => `sum(increase(${METRICS.examples}${matchers(s.selector)}[${s.window}]))`,
};

/** A PromQL string literal. */
export function promString(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/** What one check is about: a model, and one of its versions or all of them. */
export interface Target {
  readonly model: string;
  /** Undefined: every version of the model together. */
  readonly version?: string;
}

/** The label matchers of a target. */
export function targetSelector(t: Target): string {
  return [`model=${promString(t.model)}`, ...(t.version !== undefined ? [`version=${promString(t.version)}`] : [])].join(',');
}

/** A named PromQL query from modelship.yml: `$selector` and `$window` are filled in per check. */
export interface CustomQuery {
  readonly name: string;
  readonly promql: string;
}

const CUSTOM_NAME = /^[a-z_][a-z0-9_]*$/;

/**
 * Parses `name: promql` lines (monitor.queries in modelship.yml, or the queries input). The name
 * ends at the first colon, so PromQL may contain colons (`job:rate5m`, subqueries).
 */
export function parseCustomQueries(lines: readonly string[], where = 'monitor.queries'): CustomQuery[] {
  const out: CustomQuery[] = [];
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '') continue;
    const m = /^([^:\s]+)\s*:\s*(.+)$/.exec(line);
    if (!m) {
      throw new ConfigurationError(
        `${where} line ${i + 1}: '${line}' is not 'name: promql'.`,
        "Write each query as 'name: PromQL', e.g. 'queue_p95_ms: 1000 * histogram_quantile(0.95, sum by (le) (rate(modelship_queue_wait_seconds_bucket{$selector}[$window])))'.",
      );
    }
    const [, name, promql] = m as unknown as [string, string, string];
    if (!CUSTOM_NAME.test(name)) {
      throw new ConfigurationError(
        `${where} line ${i + 1}: '${name}' is not a metric name.`,
        'Use lower-case letters, digits and _ (not starting with a digit).',
      );
    }
    if (SLO_NAMES.includes(name) || DRIFT_NAMES.includes(name) || out.some((q) => q.name === name)) {
      throw new ConfigurationError(`${where} line ${i + 1}: '${name}' is already a metric.`, 'Give the query a name of its own.');
    }
    out.push({ name, promql });
  }
  return out;
}

/** A custom query with its placeholders filled in. */
export function customPromql(q: CustomQuery, scope: QueryScope): string {
  return q.promql.replace(/\$selector\b/g, scope.selector).replace(/\$window\b/g, scope.window);
}

/** Drift scores, by the names rules use. */
export const DRIFT_NAMES: readonly string[] = ['prediction_psi', 'prediction_js', 'prediction_chi2_p', 'input_psi', 'input_js'];

export const DRIFT_DIRECTIONS: Readonly<Record<string, Direction>> = {
  prediction_psi: 'lower-is-better',
  prediction_js: 'lower-is-better',
  prediction_chi2_p: 'higher-is-better',
  input_psi: 'lower-is-better',
  input_js: 'lower-is-better',
};

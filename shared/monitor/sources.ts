/**
 * Where measurements come from: Prometheus (the PromQL of the SLO table), or, with no Prometheus,
 * the servers' own /metrics scraped twice (the same quantities computed from the increases).
 *
 * Scrape semantics: a scrape source measures over the time between two scrapes of every endpoint.
 * Its first read scrapes, waits `window`, and scrapes again; each later read diffs against the
 * scrape the previous read took (waiting only if less than `window` has passed), so a caller that
 * reads every analysis interval measures each interval exactly once. Increases follow PromQL's
 * `increase()`: a counter that went down was reset (its new value is the increase), a series that
 * appears between the scrapes counts from 0, and servers are summed like `sum(rate(…))` over
 * instances. Prometheus's `rate()` extrapolates to the window's edges; two scrapes need not, so the
 * values agree up to that extrapolation (test/monitor/sources.test.ts compares both on one server).
 */
import { setTimeout as wait } from 'node:timers/promises';
import { errorMessage } from '../util/index.ts';
import { ExpositionError, parseExposition, type MetricFamily } from './exposition.ts';
import type { Bucket } from './histogram.ts';
import { parseSampleValue, prometheusClient, PrometheusError, type FetchLike, type Labels, type PrometheusClient } from './prometheus.ts';
import {
  customPromql,
  DRIFT_QUERIES,
  feedbackCountPromql,
  matchers,
  INFERENCE_APIS,
  METRICS,
  sloMetric,
  targetSelector,
  type CustomQuery,
  type QueryScope,
  type Target,
  type WindowCounts,
} from './slo.ts';
import { promDuration } from './duration.ts';

/** One measured quantity: a value, no data (an empty result), or an error (no answer). */
export type Observation =
  | {
      readonly kind: 'value';
      readonly value: number;
      readonly series: number;
      readonly warnings: readonly string[];
      /** The numbers behind a value, for people (`124 of 200 labelled predictions right`). */
      readonly detail?: string;
    }
  | { readonly kind: 'no-data'; readonly reason: string }
  | { readonly kind: 'error'; readonly message: string; readonly hint?: string };

/** What drift needs from a window: counts by class, the input histogram, the example count. */
export interface Distributions {
  /** Predictions by class name; undefined when there is no series at all. */
  readonly classes: Readonly<Record<string, number>> | undefined;
  /** Increase of each modelship_input_values bucket; undefined when there is no series. */
  readonly inputs: readonly Bucket[] | undefined;
  readonly examples: number | undefined;
}

export interface ReadRequest {
  readonly target: Target;
  readonly windowSeconds: number;
  /** Built-in SLO names and custom query names to read. */
  readonly names: readonly string[];
  readonly custom?: readonly CustomQuery[];
  /** Read the class counts and the input histogram too. */
  readonly drift?: boolean;
  /** Feedback metrics: fewer labelled predictions in the window is no data (default 1). */
  readonly minFeedback?: number;
}

export interface Reading {
  readonly values: Readonly<Record<string, Observation>>;
  /** Undefined when drift was not asked for; an error observation when it could not be read. */
  readonly distributions?: Distributions | Extract<Observation, { kind: 'error' }>;
  /** The time span measured (Prometheus: the window ending at the query time; scrape: between the scrapes). */
  readonly start: Date;
  readonly end: Date;
}

export interface SourceStats {
  /** HTTP requests made (queries or scrapes). */
  readonly requests: number;
  /** Series (or exposition samples of the contract's metrics) read. */
  readonly series: number;
}

export interface HistoryPoint {
  readonly time: number;
  readonly value: number;
}

export interface MetricSource {
  readonly kind: 'prometheus' | 'scrape';
  /** The URL(s) it reads, for messages and the report. */
  readonly where: string;
  read(req: ReadRequest): Promise<Reading>;
  /** Built-in SLO values over time (Prometheus range queries); absent on a scrape source. */
  history?(
    name: string,
    target: Target,
    windowSeconds: number,
    points: number,
  ): Promise<readonly HistoryPoint[] | Extract<Observation, { kind: 'error' }>>;
  stats(): SourceStats;
}

function errorObservation(err: unknown): Extract<Observation, { kind: 'error' }> {
  const hint = (err as { hint?: unknown }).hint;
  return { kind: 'error', message: errorMessage(err), ...(typeof hint === 'string' ? { hint } : {}) };
}

function describeTarget(t: Target): string {
  return t.version !== undefined ? `${t.model} v${t.version}` : `${t.model} (all versions)`;
}

/** Counts as Prometheus's increase() estimates them: whole from 10 up, one decimal below. */
function round(n: number): string {
  return String(n >= 10 ? Math.round(n) : Math.round(n * 10) / 10);
}

/**
 * A feedback metric's observation from the counts behind it: the value with its numbers, or no
 * data saying how many labelled predictions there were against the minimum.
 */
export function feedbackObservation(
  name: string,
  value: Observation,
  counts: { readonly correct: number; readonly total: number } | undefined,
  minFeedback: number,
  where: string,
): Observation {
  if (value.kind === 'error') return value;
  if (!counts) {
    return value.kind === 'no-data'
      ? { kind: 'no-data', reason: `no feedback counters for ${where} (modelship_feedback_correct_total / _wrong_total)` }
      : value;
  }
  const { correct, total } = counts;
  if (value.kind === 'no-data' || total < minFeedback) {
    return {
      kind: 'no-data',
      reason: `${round(total)} labelled prediction${total === 1 ? '' : 's'} for ${where}, fewer than feedback-min-count ${minFeedback}`,
    };
  }
  const wrong = total - correct;
  return {
    ...value,
    detail:
      name === 'live_error_rate'
        ? `${round(wrong)} of ${round(total)} labelled predictions wrong`
        : `${round(correct)} of ${round(total)} labelled predictions right`,
  };
}

export interface PrometheusSourceOptions {
  readonly url: string;
  readonly fetch?: FetchLike;
  readonly timeoutMs?: number;
  readonly now?: () => Date;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Measures through Prometheus's HTTP API; every query is evaluated at one instant. */
export function prometheusSource(opts: PrometheusSourceOptions): MetricSource {
  const client: PrometheusClient = prometheusClient(opts);
  const now = opts.now ?? (() => new Date());
  let series = 0;

  async function one(query: string, at: Date, none: string, single: boolean): Promise<Observation> {
    try {
      const r = await client.instant(query, at);
      series += r.series.length;
      if (r.series.length === 0) return { kind: 'no-data', reason: none };
      if (single && r.series.length > 1) {
        return {
          kind: 'error',
          message: `the query gave ${r.series.length} series where one was expected: ${query}`,
          hint: 'Aggregate it to one series (sum, max, avg) in monitor.queries.',
        };
      }
      return { kind: 'value', value: r.series[0].value, series: r.series.length, warnings: r.warnings };
    } catch (err) {
      return errorObservation(err);
    }
  }

  return {
    kind: 'prometheus',
    where: client.url,
    async read(req) {
      const end = now();
      const minFeedback = Math.max(1, req.minFeedback ?? 1);
      const scope: QueryScope = { selector: targetSelector(req.target), window: promDuration(req.windowSeconds), minFeedback };
      const none = `no series for ${describeTarget(req.target)} in the last ${scope.window} (no traffic, or Prometheus does not scrape its servers)`;
      const feedbackNames = req.names.filter((n) => sloMetric(n)?.feedback);
      const feedbackCounts = feedbackNames.length
        ? Promise.all([
            one(feedbackCountPromql(scope), end, none, true),
            one(`sum(increase(${METRICS.feedbackCorrect}${matchers(scope.selector)}[${scope.window}]))`, end, none, true),
          ])
        : undefined;
      const entries = await Promise.all(
        req.names.map(async (name): Promise<[string, Observation]> => {
          const slo = sloMetric(name);
          if (slo) return [name, await one(slo.promql(scope), end, none, true)];
          const q = req.custom?.find((c) => c.name === name);
          if (!q) return [name, { kind: 'error', message: `'${name}' is neither an SLO metric nor a query in monitor.queries` }];
          return [
            name,
            await one(customPromql(q, scope), end, `the query '${name}' returned no series for ${describeTarget(req.target)}`, true),
          ];
        }),
      );
      if (feedbackCounts) {
        const [total, correct] = await feedbackCounts;
        const counts = total.kind === 'value' && correct.kind === 'value' ? { total: total.value, correct: correct.value } : undefined;
        const where = `${describeTarget(req.target)} in the last ${scope.window}`;
        for (const e of entries) {
          if (!feedbackNames.includes(e[0])) continue;
          e[1] = total.kind === 'error' ? total : feedbackObservation(e[0], e[1], counts, minFeedback, where);
        }
      }
      let distributions: Reading['distributions'];
      if (req.drift) {
        try {
          const [classes, inputs, examples] = await Promise.all([
            client.instant(DRIFT_QUERIES.classes(scope), end),
            client.instant(DRIFT_QUERIES.inputs(scope), end),
            client.instant(DRIFT_QUERIES.examples(scope), end),
          ]);
          series += classes.series.length + inputs.series.length + examples.series.length;
          distributions = {
            classes: classes.series.length ? Object.fromEntries(classes.series.map((s) => [s.labels['class'] ?? '', s.value])) : undefined,
            inputs: inputs.series.length
              ? inputs.series.map((s) => ({ le: parseSampleValue(s.labels['le'] ?? 'NaN'), count: s.value }))
              : undefined,
            examples: examples.series[0]?.value,
          };
        } catch (err) {
          distributions = errorObservation(err);
        }
      }
      return {
        values: Object.fromEntries(entries),
        ...(distributions ? { distributions } : {}),
        start: new Date(end.getTime() - req.windowSeconds * 1000),
        end,
      };
    },
    async history(name, target, windowSeconds, points) {
      const slo = sloMetric(name);
      if (!slo) return { kind: 'error', message: `no history for '${name}'` };
      const end = now();
      const step = Math.max(1, Math.round(windowSeconds / Math.max(2, points)));
      // Each point covers one step, and at least a minute (or the whole window when shorter), so
      // that a short step still spans several scrapes.
      const scope: QueryScope = { selector: targetSelector(target), window: promDuration(Math.max(step, Math.min(windowSeconds, 60))) };
      try {
        const r = await client.range(slo.promql(scope), new Date(end.getTime() - windowSeconds * 1000), end, step);
        series += r.series.length;
        return (r.series[0]?.points ?? []).map(([time, value]) => ({ time, value }));
      } catch (err) {
        return errorObservation(err);
      }
    },
    stats: () => ({ requests: client.requests, series }),
  };
}

export interface ScrapeSourceOptions {
  /** Server URLs; a URL without a path gets /metrics. */
  readonly endpoints: readonly string[];
  readonly fetch?: FetchLike;
  readonly timeoutMs?: number;
  readonly now?: () => Date;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Ends the wait between two scrapes early (a rollout being aborted need not wait out its window). */
  readonly signal?: AbortSignal;
}

interface Scrape {
  readonly at: number;
  readonly byEndpoint: ReadonlyMap<string, ReadonlyMap<string, MetricFamily>>;
}

/** The /metrics URL of an endpoint. */
export function metricsUrl(endpoint: string): string {
  const u = new URL(endpoint.trim());
  if (u.pathname === '' || u.pathname === '/') u.pathname = '/metrics';
  return u.toString();
}

const CONTRACT = [
  METRICS.requests,
  METRICS.duration,
  METRICS.predictions,
  METRICS.examples,
  METRICS.inputs,
  METRICS.feedbackCorrect,
  METRICS.feedbackWrong,
];

/** Measures from the servers' own /metrics, over the time between two scrapes. */
export function scrapeSource(opts: ScrapeSourceOptions): MetricSource {
  if (opts.endpoints.length === 0) throw new RangeError('a scrape source needs at least one endpoint');
  const urls = opts.endpoints.map(metricsUrl);
  const doFetch = opts.fetch ?? fetch;
  const now = opts.now ?? (() => new Date());
  const sleep = opts.sleep ?? ((ms: number) => wait(ms, undefined, opts.signal ? { signal: opts.signal } : {}).catch(() => undefined));
  const timeoutMs = opts.timeoutMs ?? 10_000;
  let requests = 0;
  let series = 0;
  let previous: Scrape | undefined;

  async function scrapeOne(url: string): Promise<Map<string, MetricFamily>> {
    requests++;
    let res: Response;
    let text: string;
    try {
      res = await doFetch(url, { headers: { accept: 'text/plain;version=0.0.4' }, signal: AbortSignal.timeout(timeoutMs) });
      text = await res.text();
    } catch (err) {
      const e = err as { name?: string; cause?: { code?: string } };
      if (e?.name === 'TimeoutError')
        throw new PrometheusError(`the server at ${url} did not answer within ${timeoutMs / 1000} s.`, {
          url,
          failure: 'timeout',
          hint: 'Check the endpoint input and that the server is running.',
        });
      const what =
        e?.cause?.code === 'ECONNREFUSED' ? 'refused the connection' : `cannot be reached (${e?.cause?.code ?? errorMessage(err)})`;
      throw new PrometheusError(
        `the server at ${url} ${what}.`,
        { url, failure: 'unreachable', hint: 'Check the endpoint input and that the server is running.' },
        { cause: err },
      );
    }
    if (!res.ok) {
      throw new PrometheusError(`the server at ${url} answered HTTP ${res.status} for its metrics.`, {
        url,
        failure: 'http',
        status: res.status,
        hint: 'Check that the endpoint is a modelship server (it serves /metrics).',
      });
    }
    try {
      return parseExposition(text);
    } catch (err) {
      const line = err instanceof ExpositionError ? ` (${err.message})` : '';
      throw new PrometheusError(
        `the metrics at ${url} are not valid Prometheus exposition text${line}.`,
        { url, failure: 'protocol', hint: 'Check that the endpoint is a modelship server.' },
        { cause: err },
      );
    }
  }

  async function scrapeAll(): Promise<Scrape> {
    const at = now().getTime();
    const families = await Promise.all(urls.map(scrapeOne));
    return { at, byEndpoint: new Map(urls.map((u, i) => [u, families[i]])) };
  }

  return {
    kind: 'scrape',
    where: urls.join(', '),
    async read(req) {
      let from: Scrape;
      let to: Scrape;
      try {
        if (!previous) {
          previous = await scrapeAll();
        }
        const wait = previous.at + req.windowSeconds * 1000 - now().getTime();
        if (wait > 0) await sleep(wait);
        to = await scrapeAll();
        from = previous;
        previous = to;
      } catch (err) {
        const e = errorObservation(err);
        return {
          values: Object.fromEntries(req.names.map((n) => [n, e])),
          ...(req.drift ? { distributions: e } : {}),
          start: new Date(previous?.at ?? now().getTime()),
          end: now(),
        };
      }
      const inc = increases(from, to, req.target);
      series += inc.samples;
      const minFeedback = Math.max(1, req.minFeedback ?? 1);
      const counts: WindowCounts = {
        seconds: (to.at - from.at) / 1000,
        requests: inc.requests,
        latency: inc.latency,
        latencyCount: inc.latencyCount,
        ...(inc.feedback ? { feedback: inc.feedback } : {}),
        minFeedback,
      };
      const none = `no series for ${describeTarget(req.target)} in the scrapes of ${urls.join(', ')}`;
      const idle = `no requests to ${describeTarget(req.target)} between the two scrapes`;
      const values = Object.fromEntries(
        req.names.map((name): [string, Observation] => {
          const slo = sloMetric(name);
          if (!slo) {
            return [
              name,
              {
                kind: 'error',
                message: `'${name}' is a PromQL query; it needs Prometheus`,
                hint: 'Give the prometheus input, or drop the query from the rules.',
              },
            ];
          }
          const v = slo.fromCounts(counts);
          if (slo.feedback) {
            const f = inc.feedback;
            const value: Observation =
              v === undefined ? { kind: 'no-data', reason: none } : { kind: 'value', value: v, series: inc.samples, warnings: [] };
            return [
              name,
              feedbackObservation(
                name,
                value,
                f ? { correct: f.correct, total: f.correct + f.wrong } : undefined,
                minFeedback,
                `${describeTarget(req.target)} between the two scrapes`,
              ),
            ];
          }
          if (v === undefined)
            return [name, { kind: 'no-data', reason: inc.requests.length || inc.latencyCount !== undefined ? idle : none }];
          return [name, { kind: 'value', value: v, series: inc.samples, warnings: [] }];
        }),
      );
      return {
        values,
        ...(req.drift ? { distributions: { classes: inc.classes, inputs: inc.inputs, examples: inc.examples } } : {}),
        start: new Date(from.at),
        end: new Date(to.at),
      };
    },
    stats: () => ({ requests, series }),
  };
}

function matches(labels: Labels, t: Target): boolean {
  return labels['model'] === t.model && (t.version === undefined || labels['version'] === t.version);
}

function key(name: string, labels: Labels): string {
  return `${name}${JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))}`;
}

/** Increases of the contract's series between two scrapes, per endpoint, summed over endpoints. */
function increases(from: Scrape, to: Scrape, target: Target) {
  const requests = new Map<string, { api: string; code: string; increase: number }>();
  const latency = new Map<number, number>();
  const inputs = new Map<number, number>();
  const classes: Record<string, number> = {};
  let latencyCount: number | undefined;
  let examples: number | undefined;
  let anyClass = false;
  let feedback: { correct: number; wrong: number } | undefined;
  let samples = 0;
  for (const [url, families] of to.byEndpoint) {
    const before = new Map<string, number>();
    for (const f of from.byEndpoint.get(url)?.values() ?? []) for (const s of f.samples) before.set(key(s.name, s.labels), s.value);
    for (const name of CONTRACT) {
      const f = families.get(name);
      if (!f) continue;
      for (const s of f.samples) {
        if (!matches(s.labels, target)) continue;
        samples++;
        const prev = before.get(key(s.name, s.labels));
        const d = prev === undefined ? s.value : s.value >= prev ? s.value - prev : s.value;
        if (name === METRICS.requests) {
          const api = s.labels['api'] ?? '';
          if (!(INFERENCE_APIS as readonly string[]).includes(api)) continue;
          const code = s.labels['code'] ?? '';
          const k = `${api} ${code}`;
          const r = requests.get(k) ?? { api, code, increase: 0 };
          r.increase += d;
          requests.set(k, r);
        } else if (name === METRICS.duration) {
          if (s.name === `${name}_bucket`) {
            const le = parseSampleValue(s.labels['le'] ?? 'NaN');
            latency.set(le, (latency.get(le) ?? 0) + d);
          } else if (s.name === `${name}_count`) latencyCount = (latencyCount ?? 0) + d;
        } else if (name === METRICS.predictions) {
          const c = s.labels['class'] ?? '';
          classes[c] = (classes[c] ?? 0) + d;
          anyClass = true;
        } else if (name === METRICS.examples) {
          examples = (examples ?? 0) + d;
        } else if (name === METRICS.feedbackCorrect || name === METRICS.feedbackWrong) {
          feedback ??= { correct: 0, wrong: 0 };
          if (name === METRICS.feedbackCorrect) feedback.correct += d;
          else feedback.wrong += d;
        } else if (name === METRICS.inputs && s.name === `${name}_bucket`) {
          const le = parseSampleValue(s.labels['le'] ?? 'NaN');
          inputs.set(le, (inputs.get(le) ?? 0) + d);
        }
      }
    }
  }
  return {
    requests: [...requests.values()],
    latency: [...latency].map(([le, count]) => ({ le, count })),
    latencyCount,
    classes: anyClass ? classes : undefined,
    inputs: inputs.size ? [...inputs].map(([le, count]) => ({ le, count })) : undefined,
    examples,
    feedback,
    samples,
  };
}

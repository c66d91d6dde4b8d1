/**
 * monitor-check's logic, with its services as parameters (a retrainer or none, a clock, a logger,
 * fetch), so the step file stays a thin caller and tests pass fakes. It measures, judges, on a
 * breach asks the retrainer to start retraining with inputs that say why, and writes the report
 * JSON. It knows nothing of GitHub: the step supplies the retrainer (shared/steps/retrain.ts:
 * workflow_dispatch, guarded by the Actions API's list of runs) and renders the summary
 * (shared/report/monitor.ts).
 */
import path from 'node:path';
import type { ThresholdRule } from '../rules/index.ts';
import { ConfigurationError, errorMessage, type Logger, writeJsonAtomic } from '../util/index.ts';
import { parseRetrainInputs, retrainInputs, type RetrainRun } from './dispatch.ts';
import { formatDuration, parseDuration } from '../config/index.ts';
import { promDuration } from './duration.ts';
import { judge, measure, formatValue, type Judgement, type Measurement, type NoDataPolicy } from './measure.ts';
import type { FetchLike } from './prometheus.ts';
import { loadReference, type DriftReference } from './reference.ts';
import { DEFAULT_DRIFT_LIMITS, DEFAULT_SLOS, parseDriftRules, parseSloRules } from './rules.ts';
import { DRIFT_NAMES, FEEDBACK_SLO_NAMES, parseCustomQueries, SLO_NAMES, type Target } from './slo.ts';
import { prometheusSource, scrapeSource, type HistoryPoint, type MetricSource } from './sources.ts';

export const REPORT_SCHEMA_VERSION = 1;
/** The local default when neither prometheus nor endpoint is given: `modelship serve`'s address. */
export const DEFAULT_ENDPOINT = 'http://127.0.0.1:8501';
export const DEFAULT_WINDOW = { prometheus: '1h', scrape: '30s' } as const;
/** With endpoints, the window is a wait between two scrapes: longer than this is refused. */
export const MAX_SCRAPE_WINDOW_SECONDS = 600;
export const DEFAULT_COOLDOWN = '6h';

export type OnBreach = 'fail' | 'dispatch' | 'report';

export interface MonitorCheckOptions {
  readonly prometheus?: string;
  readonly endpoints: readonly string[];
  readonly slos: readonly string[];
  readonly driftLimits: readonly string[];
  readonly reference?: string;
  /** Milliseconds; default 1h with Prometheus, 30s with endpoints. */
  readonly windowMs?: number;
  readonly name: string;
  readonly version?: string;
  readonly noData: NoDataPolicy;
  readonly onBreach: OnBreach;
  readonly retrainWorkflow?: string;
  readonly retrainRef: string;
  readonly retrainInputs?: string;
  /** Milliseconds. */
  readonly cooldownMs: number;
  readonly minCount?: number;
  /** Fewest labelled predictions in the window to judge live_accuracy / live_error_rate. */
  readonly minFeedback?: number;
  /** `name: promql` lines (monitor.queries). */
  readonly queries: readonly string[];
  /** Where report.json goes. */
  readonly reportDir: string;
}

/** What a breach asks for: start `workflow` on `ref` with `inputs`, unless a run is active or within the cool-down. */
export interface RetrainRequest {
  readonly workflow: string;
  readonly ref: string;
  readonly inputs: Readonly<Record<string, string>>;
  readonly cooldownSeconds: number;
  readonly now: Date;
}

/** Starts retraining, or says why not (skipped); throws when the service refuses (the hint on the error). */
export type Retrainer = (request: RetrainRequest) => Promise<Extract<DispatchOutcome, { state: 'dispatched' | 'skipped' }>>;

export interface MonitorServices {
  /** How a breach starts retraining (the step's GitHub workflow_dispatch), or null when it cannot. */
  readonly retrain: Retrainer | null;
  readonly now: () => Date;
  readonly log: Logger;
  readonly fetch?: FetchLike;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly cwd: string;
}

export type DispatchOutcome =
  | { readonly state: 'not-needed' }
  | { readonly state: 'off'; readonly reason: string }
  | { readonly state: 'dispatched'; readonly workflow: string; readonly ref: string; readonly inputs: Readonly<Record<string, string>> }
  | { readonly state: 'skipped'; readonly workflow: string; readonly reason: string; readonly run?: RetrainRun }
  | { readonly state: 'failed'; readonly workflow: string; readonly error: string; readonly hint?: string };

export interface MonitorReport {
  readonly schemaVersion: typeof REPORT_SCHEMA_VERSION;
  readonly kind: 'modelship.monitor-report';
  readonly target: Target;
  readonly window: string;
  readonly measurement: Measurement;
  readonly judgement: Judgement;
  /** Rules by kind, for the summary's grouping. */
  readonly rules: { readonly slo: readonly string[]; readonly drift: readonly string[] };
  readonly reference?: { readonly source: string; readonly digest?: string };
  readonly history: Readonly<Record<string, readonly HistoryPoint[]>>;
  readonly historyNote?: string;
  readonly dispatch: DispatchOutcome;
  readonly onBreach: OnBreach;
  readonly noData: NoDataPolicy;
}

export interface MonitorCheckResult {
  readonly report: MonitorReport;
  readonly reportPath: string;
  /** Set when the step must fail. */
  readonly failure?: string;
  readonly drift: Readonly<Record<string, number | null>>;
}

interface Plan {
  readonly source: MetricSource;
  readonly windowSeconds: number;
  readonly windowText: string;
  readonly rules: { slo: ThresholdRule[]; drift: ThresholdRule[] };
  readonly reference?: DriftReference;
  readonly cooldownSeconds: number;
  readonly extraInputs: Record<string, string | null>;
}

/** Checks every input before anything is measured; mistakes are ConfigurationErrors. */
async function plan(o: MonitorCheckOptions, s: MonitorServices): Promise<Plan> {
  if (o.prometheus && o.endpoints.length) {
    throw new ConfigurationError(
      'both prometheus and endpoint are set.',
      'Give prometheus to ask Prometheus, or endpoint to scrape the servers directly, not both.',
    );
  }
  const custom = parseCustomQueries(o.queries);
  const useScrape = !o.prometheus;
  const windowMs = o.windowMs ?? parseDuration(useScrape ? DEFAULT_WINDOW.scrape : DEFAULT_WINDOW.prometheus)!;
  if (windowMs < 1000 || windowMs % 1000 !== 0)
    throw new ConfigurationError(
      `input 'window' is ${formatDuration(windowMs)}: PromQL ranges are whole seconds.`,
      "Give 'window' in whole seconds or more, e.g. 30s, 5m or 1h.",
    );
  const windowText = formatDuration(windowMs);
  const windowSeconds = windowMs / 1000;
  if (useScrape && windowSeconds > MAX_SCRAPE_WINDOW_SECONDS) {
    throw new ConfigurationError(
      `window ${windowText} with endpoint scraping would wait ${windowText} between two scrapes.`,
      `Give prometheus for long windows, or a window of at most ${MAX_SCRAPE_WINDOW_SECONDS / 60}m with endpoint (e.g. 30s).`,
    );
  }
  const slo = parseSloRules(o.slos.length ? o.slos : DEFAULT_SLOS, custom);
  if (useScrape && custom.length) {
    const used = slo.filter((r) => custom.some((q) => q.name === r.metric));
    if (used.length)
      throw new ConfigurationError(
        `the rule '${used[0].source}' uses a PromQL query, which needs Prometheus.`,
        'Give the prometheus input, or drop the rule.',
      );
  }
  const reference = o.reference ? await loadReference(o.reference, s.cwd) : undefined;
  if (o.driftLimits.length && !reference) {
    throw new ConfigurationError(
      'drift-limits are set but reference is not.',
      "Give reference: setup-data's manifest.json (or dataset-dir), or the model folder.",
    );
  }
  const drift = reference ? parseDriftRules(o.driftLimits.length ? o.driftLimits : DEFAULT_DRIFT_LIMITS) : [];
  const cooldownSeconds = o.cooldownMs / 1000;
  const extraInputs = parseRetrainInputs(o.retrainInputs);
  if (o.onBreach === 'dispatch') {
    if (!o.retrainWorkflow)
      throw new ConfigurationError(
        "on-breach is 'dispatch' but retrain-workflow is not set.",
        'Name the workflow file to start, e.g. retrain-workflow: retrain.yml.',
      );
    if (!s.retrain) {
      throw new ConfigurationError(
        "on-breach is 'dispatch' but there is no GitHub token and repository.",
        'Run it in GitHub Actions with github-token (permissions: actions: write), or set GITHUB_REPOSITORY and --github-token.',
      );
    }
    if (o.retrainRef.trim() === '')
      throw new ConfigurationError('retrain-ref is empty.', 'Give the branch the retraining workflow runs on, e.g. main.');
  }
  const source = o.prometheus
    ? prometheusSource({ url: o.prometheus, ...(s.fetch ? { fetch: s.fetch } : {}), now: s.now })
    : scrapeSource({
        endpoints: o.endpoints.length ? o.endpoints : [DEFAULT_ENDPOINT],
        ...(s.fetch ? { fetch: s.fetch } : {}),
        now: s.now,
        ...(s.sleep ? { sleep: s.sleep } : {}),
      });
  return { source, windowSeconds, windowText, rules: { slo, drift }, ...(reference ? { reference } : {}), cooldownSeconds, extraInputs };
}

/** Runs one check. Throws ConfigurationError for bad inputs; a source that cannot answer fails the check, not the call. */
export async function monitorCheck(o: MonitorCheckOptions, s: MonitorServices): Promise<MonitorCheckResult> {
  const p = await plan(o, s);
  const custom = parseCustomQueries(o.queries);
  const target: Target = { model: o.name, ...(o.version ? { version: o.version } : {}) };
  const who = `${target.model}${target.version ? ` v${target.version}` : ''}`;
  const ruleMetrics = [...p.rules.slo, ...p.rules.drift].map((r) => r.metric);
  // Feedback metrics are measured when a rule names them (most models have no feedback in a window).
  const metrics = [...SLO_NAMES.filter((n) => !FEEDBACK_SLO_NAMES.includes(n)), ...ruleMetrics, ...(p.reference ? DRIFT_NAMES : [])];

  const measurement = await s.log.group(
    `measure ${who} over ${p.windowText} (${p.source.kind === 'prometheus' ? 'Prometheus' : 'scrape'} ${p.source.where})`,
    async () => {
      const m = await measure(p.source, metrics, target, p.windowSeconds, {
        ...(p.reference ? { reference: p.reference } : {}),
        ...(o.minCount !== undefined ? { minCount: o.minCount } : {}),
        ...(o.minFeedback !== undefined ? { minFeedback: o.minFeedback } : {}),
        custom,
      });
      for (const [name, ob] of Object.entries(m.observations)) {
        s.log.info(
          `${name}: ${ob.kind === 'value' ? `${formatValue(name, ob.value)}${ob.detail ? ` (${ob.detail})` : ''}` : ob.kind === 'no-data' ? `no data (${ob.reason})` : `error: ${ob.message}`}`,
        );
      }
      s.log.info(`${m.stats.requests} requests, ${m.stats.series} series, ${m.stats.seconds.toFixed(2)} s`);
      return m;
    },
  );
  const judgement = judge([...p.rules.slo, ...p.rules.drift], measurement.observations, o.noData);
  for (const v of judgement.verdicts) if (v.outcome === 'warn') s.log.warning(`${v.rule}: ${v.reason}`);

  const history: Record<string, HistoryPoint[]> = {};
  let historyNote: string | undefined;
  if (p.source.history && judgement.status !== 'error') {
    for (const name of ['p95_latency_ms', 'error_rate']) {
      const h = await p.source.history(name, target, p.windowSeconds, 30);
      if ('kind' in h) historyNote = `no chart: ${h.message}`;
      else history[name] = [...h];
    }
  } else if (!p.source.history) historyNote = 'no chart: a chart over the window needs Prometheus (scraping sees two points in time)';

  const dispatch = await s.log.group('retraining', () => maybeDispatch(o, s, p, judgement, target));
  const report: MonitorReport = {
    schemaVersion: REPORT_SCHEMA_VERSION,
    kind: 'modelship.monitor-report',
    target,
    window: p.windowText,
    measurement,
    judgement,
    rules: { slo: p.rules.slo.map((r) => r.source), drift: p.rules.drift.map((r) => r.source) },
    ...(p.reference ? { reference: { source: p.reference.source, ...(p.reference.digest ? { digest: p.reference.digest } : {}) } } : {}),
    history,
    ...(historyNote ? { historyNote } : {}),
    dispatch,
    onBreach: o.onBreach,
    noData: o.noData,
  };
  const reportPath = path.resolve(s.cwd, o.reportDir, 'report.json');
  await writeJsonAtomic(reportPath, report);
  const drift = Object.fromEntries(
    DRIFT_NAMES.filter((n) => Object.hasOwn(measurement.observations, n)).map((n) => {
      const ob = measurement.observations[n];
      return [n, ob.kind === 'value' ? ob.value : null];
    }),
  );
  const failure = failureOf(judgement, dispatch, o.onBreach, who);
  return { report, reportPath, drift, ...(failure ? { failure } : {}) };
}

function failureOf(j: Judgement, d: DispatchOutcome, onBreach: OnBreach, who: string): string | undefined {
  const errors = j.verdicts.filter((v) => v.status === 'error');
  if (errors.length) {
    const first = errors[0];
    return `${who} could not be measured: ${first.reason}${first.hint ? ` (${first.hint})` : ''}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}`;
  }
  if (d.state === 'failed') return `retraining could not be dispatched: ${d.error}${d.hint ? ` (${d.hint})` : ''}`;
  const parts: string[] = [];
  if (j.breaches.length && onBreach === 'fail')
    parts.push(`${who} breaches ${j.breaches.map((b) => `${b.rule} (${formatValue(b.metric, b.value)})`).join(', ')}`);
  const noData = j.verdicts.filter((v) => v.status === 'no-data' && v.outcome === 'fail');
  if (noData.length)
    parts.push(`no data for ${noData.map((v) => v.metric).join(', ')}: ${noData[0].reason.replace(/^no data: /, '')} (no-data: fail)`);
  return parts.length ? parts.join('; ') : undefined;
}

async function maybeDispatch(o: MonitorCheckOptions, s: MonitorServices, p: Plan, j: Judgement, target: Target): Promise<DispatchOutcome> {
  if (j.breaches.length === 0) return { state: 'not-needed' };
  if (o.onBreach !== 'dispatch' || !o.retrainWorkflow || !s.retrain) {
    const reason = o.onBreach === 'dispatch' ? 'no workflow or token' : `on-breach is '${o.onBreach}'`;
    s.log.info(`not dispatching: ${reason}`);
    return { state: 'off', reason };
  }
  const workflow = o.retrainWorkflow;
  const inputs = retrainInputs(j.breaches[0], promDuration(p.windowSeconds), target, p.extraInputs, j.breaches.length - 1);
  try {
    const outcome = await s.retrain({ workflow, ref: o.retrainRef, inputs, cooldownSeconds: p.cooldownSeconds, now: s.now() });
    if (outcome.state === 'skipped') s.log.info(`not dispatching ${workflow}: ${outcome.reason}`);
    else
      s.log.info(
        `dispatched ${workflow} on ${o.retrainRef}: ${j.breaches[0].rule} breached, ${inputs['value'] ?? ''} over ${inputs['window'] ?? ''}`,
      );
    return outcome;
  } catch (err) {
    const hint = (err as { hint?: unknown }).hint;
    return { state: 'failed', workflow, error: errorMessage(err), ...(typeof hint === 'string' ? { hint } : {}) };
  }
}

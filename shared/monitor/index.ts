/**
 * The monitor domain: SLOs and drift of a served model, from Prometheus or from the servers'
 * own /metrics, judged by the shared rule language.
 *
 * For deploy-rollout's canary analysis (and anything else that needs a verdict on live traffic):
 *
 *   const source = prometheusSource({ url }) // or scrapeSource({ endpoints: [canaryUrl] })
 *   const rules = parseSloRules(['error_rate <= 0.01', 'p95_latency_ms <= 100'])   // + parseDriftRules([...])
 *   // every analysis interval:
 *   const m = await measure(source, rules.map((r) => r.metric), { model: 'fashion', version: '4' }, 60, { reference })
 *   const j = judge(rules, m.observations, 'fail')   // j.status: healthy | breach | no-data | error
 *
 * - `measure` never throws for a source that cannot answer: each metric then carries an error
 *   observation naming the URL; `judge` turns errors into status 'error' (not a breach, not
 *   healthy) and empty results into 'no-data' (following the no-data policy), never into zero.
 * - A scrape source keeps its last scrape: calling `measure` once per interval on the same source
 *   measures each interval once (the first call waits one window between two scrapes).
 * - `judge` is pure; `Measurement` and `Judgement` are plain data (JSON-safe) for reports.
 */
export {
  measure,
  judge,
  formatValue,
  DEFAULT_MIN_COUNT,
  type Measurement,
  type MeasureOptions,
  type Judgement,
  type RuleVerdict,
  type CheckStatus,
  type NoDataPolicy,
} from './measure.ts';
export {
  prometheusSource,
  scrapeSource,
  metricsUrl,
  feedbackObservation,
  type MetricSource,
  type Observation,
  type Reading,
  type ReadRequest,
  type Distributions,
  type HistoryPoint,
  type PrometheusSourceOptions,
  type ScrapeSourceOptions,
  type SourceStats,
} from './sources.ts';
export {
  prometheusClient,
  parseSampleValue,
  PrometheusError,
  type PrometheusClient,
  type PrometheusClientOptions,
  type InstantSample,
  type RangeSeries,
  type QueryResult,
  type Labels,
  type FetchLike,
} from './prometheus.ts';
export { parseExposition, ExpositionError, type MetricFamily, type MetricType, type ExpositionSample } from './exposition.ts';
export { histogramQuantile, binCounts, type Bucket } from './histogram.ts';
export {
  SLO_METRICS,
  SLO_NAMES,
  FEEDBACK_SLO_NAMES,
  DEFAULT_FEEDBACK_MIN_COUNT,
  feedbackCountPromql,
  DRIFT_NAMES,
  DRIFT_QUERIES,
  METRICS,
  INFERENCE_APIS,
  sloMetric,
  targetSelector,
  promString,
  matchers,
  parseCustomQueries,
  customPromql,
  type SloMetric,
  type QueryScope,
  type Target,
  type CustomQuery,
  type WindowCounts,
} from './slo.ts';
export {
  psi,
  jsDistance,
  chiSquared,
  chiSquaredSurvival,
  gammaincc,
  lnGamma,
  proportions,
  predictionDrift,
  inputDrift,
  DRIFT_EPSILON,
  CHI2_MIN_EXPECTED,
  type ChiSquared,
  type PredictionDrift,
  type InputDrift,
  type Score,
} from './drift.ts';
export { loadReference, type DriftReference } from './reference.ts';
export { parseSloRules, parseDriftRules, DEFAULT_SLOS, DEFAULT_DRIFT_LIMITS } from './rules.ts';
export {
  decideDispatch,
  retrainInputs,
  parseRetrainInputs,
  ACTIVE_STATUSES,
  RETRAIN_INPUT_NAMES,
  type DispatchDecision,
  type RetrainRun,
} from './dispatch.ts';
export { promDuration, humanDuration } from './duration.ts';
export { alertingRules, alertingRulesYaml, alertName, grafanaDashboard, grafanaDashboardJson, type AlertOptions } from './assets.ts';
export {
  monitorCheck,
  DEFAULT_ENDPOINT,
  DEFAULT_WINDOW,
  DEFAULT_COOLDOWN,
  MAX_SCRAPE_WINDOW_SECONDS,
  REPORT_SCHEMA_VERSION,
  type MonitorCheckOptions,
  type MonitorServices,
  type Retrainer,
  type RetrainRequest,
  type MonitorCheckResult,
  type MonitorReport,
  type DispatchOutcome,
  type OnBreach,
} from './check.ts';

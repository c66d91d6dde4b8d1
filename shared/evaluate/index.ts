/**
 * The evaluate domain: metrics (checked against scikit-learn), significance tests, the gate's pure
 * decision and report, and `evaluateGate`, which scores a candidate and its baseline and writes the
 * report. It publishes nothing: the step does.
 */
export { evaluateGate, parseGateRules, type EvaluateGateOptions, type EvaluateGateResult } from './gate-run.ts';
export { decideGate, formatP, type GateDecision, type GateInput, type GateRuleResult } from './gate.ts';
export {
  CLASSIFICATION_METRICS,
  REGRESSION_METRICS,
  accuracyOf,
  classificationMetrics,
  logLoss,
  metricNames,
  regressionMetrics,
  scalarMetrics,
  type Metrics,
} from './metrics.ts';
export { buildGateReport, reportMetrics, type GateReportInput, type ModelIdentity } from './report.ts';
export { mcnemarExact, pairedBootstrap, type BootstrapResult, type McNemarResult } from './significance.ts';

/**
 * SLO lines and drift limits are threshold rules of the shared rule language
 * (`p95_latency_ms <= 100`, `prediction_psi <= 0.2`), parsed by shared/rules/ with the metric
 * names monitor-check knows. Defaults apply when none are given.
 */
import { parseRules, type ThresholdRule } from '../rules/index.ts';
import { DRIFT_DIRECTIONS, DRIFT_NAMES, SLO_METRICS, SLO_NAMES, type CustomQuery } from './slo.ts';

/** SLOs when the slos input and modelship.yml give none. */
export const DEFAULT_SLOS: readonly string[] = ['p95_latency_ms <= 100', 'error_rate <= 0.01'];
/**
 * Drift limits when a reference is given and drift-limits is empty. PSI 0.2 is the usual line
 * between a moderate and a significant shift; JS distance and the chi-squared p-value are measured
 * and reported without a default limit (with thousands of predictions a chi-squared test calls
 * shifts far too small to matter significant).
 */
export const DEFAULT_DRIFT_LIMITS: readonly string[] = ['prediction_psi <= 0.2', 'input_psi <= 0.2'];

const directions = {
  ...Object.fromEntries(SLO_METRICS.map((m) => [m.name, m.direction])),
  ...DRIFT_DIRECTIONS,
};

/** Parses SLO lines (built-in SLO metrics and custom query names). */
export function parseSloRules(lines: readonly string[], custom: readonly CustomQuery[] = [], source = 'slos'): ThresholdRule[] {
  return parseRules(lines, {
    known: [...SLO_NAMES, ...custom.map((q) => q.name)],
    kinds: ['threshold'],
    source,
    directions,
  }) as ThresholdRule[];
}

/** Parses drift limits (drift score names). */
export function parseDriftRules(lines: readonly string[], source = 'drift-limits'): ThresholdRule[] {
  return parseRules(lines, { known: DRIFT_NAMES, kinds: ['threshold'], source, directions }) as ThresholdRule[];
}

/**
 * The one evaluator of the rule language: a pure function from rules and values to verdicts with a
 * reason each. NaN, ±Infinity and missing values never pass; a value exactly at a threshold
 * follows the operator.
 */
import { allowedWorsening, describeRule, type Operator, type RegressionRule, type Rule, type ThresholdRule } from './parse.ts';

export type Verdict = 'pass' | 'fail' | 'skip';

export interface RuleResult {
  readonly rule: Rule;
  readonly metric: string;
  /** The rule in short human form (`≥ 0.9`, `max drop 1 pp`). */
  readonly text: string;
  readonly value: number | null;
  readonly baseline: number | null;
  /** For regression limits: how much worse than the baseline (positive = worse), when known. */
  readonly worsening?: number;
  /** For regression limits: the allowed worsening in the metric's units. */
  readonly allowed?: number;
  readonly verdict: Verdict;
  readonly reason: string;
}

/** Values by metric name; missing keys, null and undefined all count as missing. */
export type MetricValues = Readonly<Record<string, number | null | undefined>>;

export function compare(value: number, op: Operator, limit: number): boolean {
  switch (op) {
    case '>=':
      return value >= limit;
    case '>':
      return value > limit;
    case '<=':
      return value <= limit;
    case '<':
      return value < limit;
    case '==':
      return value === limit;
    case '!=':
      return value !== limit;
  }
}

/** Why a value cannot be used, or undefined when it is a finite number. */
export function unusable(value: number | null | undefined): string | undefined {
  if (value === undefined || value === null) return 'missing';
  if (typeof value !== 'number') return 'not a number';
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value > 0 ? '+Infinity' : '-Infinity';
  return undefined;
}

function get(values: MetricValues | undefined, metric: string): number | null | undefined {
  return values && Object.hasOwn(values, metric) ? values[metric] : undefined;
}

function num(v: number | null | undefined): number | null {
  return typeof v === 'number' ? v : null;
}

export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  return String(Number(n.toPrecision(6)));
}

function evaluateThreshold(rule: ThresholdRule, values: MetricValues): RuleResult {
  const v = get(values, rule.metric);
  const base = { rule, metric: rule.metric, text: describeRule(rule), value: num(v), baseline: null };
  const bad = unusable(v);
  if (bad) return { ...base, verdict: 'fail', reason: `${rule.metric} is ${bad}, so it cannot meet ${rule.source}` };
  const ok = compare(v!, rule.op, rule.value);
  return {
    ...base,
    verdict: ok ? 'pass' : 'fail',
    reason: `${rule.metric} = ${fmt(v!)} ${ok ? 'meets' : 'does not meet'} ${describeRule(rule)}`,
  };
}

function evaluateRegression(rule: RegressionRule, values: MetricValues, baseline: MetricValues | undefined): RuleResult {
  const v = get(values, rule.metric);
  const b = get(baseline, rule.metric);
  const text = describeRule(rule);
  const base = { rule, metric: rule.metric, text, value: num(v), baseline: num(b) };
  const bad = unusable(v);
  if (bad) return { ...base, verdict: 'fail', reason: `${rule.metric} is ${bad}, so it cannot be compared with the baseline` };
  if (baseline === undefined) return { ...base, verdict: 'skip', reason: 'no baseline (first model): only thresholds apply' };
  const badBase = unusable(b);
  if (badBase) return { ...base, verdict: 'fail', reason: `the baseline's ${rule.metric} is ${badBase}, so the change cannot be measured` };
  const worsening = rule.direction === 'higher-is-better' ? b! - v! : v! - b!;
  const allowed = allowedWorsening(rule, b!);
  // A tiny tolerance so that a change exactly at the limit (0.91 - 0.90 vs 0.01) is "at the limit".
  const ok = worsening <= allowed + 1e-12 * Math.max(1, Math.abs(b!));
  const change = worsening > 0 ? `worse by ${fmt(worsening)}` : worsening < 0 ? `better by ${fmt(-worsening)}` : 'unchanged';
  return {
    ...base,
    worsening,
    allowed,
    verdict: ok ? 'pass' : 'fail',
    reason: `${rule.metric} ${change} (${fmt(b!)} → ${fmt(v!)}); ${ok ? 'within' : 'beyond'} ${text} (${fmt(allowed)})`,
  };
}

/**
 * Evaluates every rule. `baseline` undefined means there is none (first model): regression limits
 * are skipped with that reason. A baseline whose value for a limited metric is missing fails.
 */
export function evaluateRules(rules: readonly Rule[], values: MetricValues, baseline?: MetricValues): RuleResult[] {
  return rules.map((r) => (r.kind === 'threshold' ? evaluateThreshold(r, values) : evaluateRegression(r, values, baseline)));
}

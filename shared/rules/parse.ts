/**
 * The one rule language of modelship, parsed in one place into data.
 *
 * Two kinds of line:
 * - a threshold `metric OP number`, OP one of `>= > <= < == !=` (gates, SLOs, drift limits:
 *   `accuracy >= 0.90`, `p95_latency_ms <= 100`, `prediction_psi <= 0.2`);
 * - a regression limit `metric: amount` against a baseline, where amount is absolute (`0.01`),
 *   relative to the baseline (`2%`) or in percentage points (`1pp` = 0.01 absolute).
 *
 * The caller passes the metric names it knows (the gate's metrics, later the SLO metrics); an
 * unknown name is an error that lists them. Which direction is "worse" comes from `metricDirection`.
 */
import { ConfigurationError, lineOf } from '../util/index.ts';

export type Operator = '>=' | '>' | '<=' | '<' | '==' | '!=';
export const OPERATORS: readonly Operator[] = ['>=', '>', '<=', '<', '==', '!='];

/** Which way a metric gets better. */
export type Direction = 'higher-is-better' | 'lower-is-better';

export interface ThresholdRule {
  readonly kind: 'threshold';
  readonly metric: string;
  readonly op: Operator;
  readonly value: number;
  /** The number as written (`0.90`), for display. */
  readonly valueText?: string;
  /** The line as written (trimmed). */
  readonly source: string;
}

export type RegressionUnit = 'absolute' | 'relative' | 'pp';

export interface RegressionRule {
  readonly kind: 'regression';
  readonly metric: string;
  /** The allowed worsening as written: 0.01 (absolute), 2 (relative, percent) or 1 (pp). */
  readonly amount: number;
  readonly unit: RegressionUnit;
  readonly direction: Direction;
  readonly source: string;
}

export type Rule = ThresholdRule | RegressionRule;
export type RuleKind = Rule['kind'];

export interface ParseOptions {
  /** Metric names the caller can evaluate (with `syntaxOnly`, not needed). */
  readonly known?: readonly string[];
  /** Checks only the form of the line (where the metrics are not known yet: reading an input). */
  readonly syntaxOnly?: boolean;
  /** Where the lines come from, for messages: an input name (`thresholds`) or a file. */
  readonly source?: string;
  /** Kinds allowed here (default: both). */
  readonly kinds?: readonly RuleKind[];
  /** Directions for metrics the built-in table does not know (SLO metrics, custom ones). */
  readonly directions?: Readonly<Record<string, Direction>>;
}

const METRIC = '[A-Za-z_][A-Za-z0-9_.]*';
const NUMBER = '[-+]?(?:\\d+\\.?\\d*|\\.\\d+)(?:[eE][-+]?\\d+)?';
const THRESHOLD_RE = new RegExp(`^(${METRIC})\\s*(>=|<=|==|!=|>|<|=>|=<|=|≥|≤|≠)\\s*(\\S.*)$`);
const REGRESSION_RE = new RegExp(`^(${METRIC})\\s*:\\s*(\\S.*)$`);
const AMOUNT_RE = new RegExp(`^(${NUMBER})\\s*(%|pp)?$`);
const NUMBER_RE = new RegExp(`^${NUMBER}$`);

/** Built-in directions, by name pattern. First match wins. */
const DIRECTION_TABLE: readonly (readonly [RegExp, Direction])[] = [
  [/^(accuracy|balanced_accuracy|r2|top_\d+_accuracy)$/, 'higher-is-better'],
  [/^(f1|precision|recall|roc_auc|auc|average_precision)(_|$)/, 'higher-is-better'],
  [/^(success_rate|availability|throughput)(_|$)/, 'higher-is-better'],
  [/^(log_loss|ece|mse|rmse|mae|brier)(_|$)/, 'lower-is-better'],
  [/(^|_)(latency|error_rate|errors|psi|drift|ks|kl|jsd)(_|$)/, 'lower-is-better'],
  [/^p\d+(_|$)/, 'lower-is-better'],
];

/** Which way `metric` gets better, or undefined when neither the table nor `extra` says. */
export function metricDirection(metric: string, extra: Readonly<Record<string, Direction>> = {}): Direction | undefined {
  if (Object.hasOwn(extra, metric)) return extra[metric];
  for (const [re, dir] of DIRECTION_TABLE) if (re.test(metric)) return dir;
  return undefined;
}

function fail(where: string, line: string, what: string, fix: string): never {
  throw new ConfigurationError(`${where}: '${line}' ${what}`, fix);
}

function knownList(known: readonly string[]): string {
  return known.length ? known.join(', ') : '(none)';
}

/** Parses one line. `where` names it in errors (e.g. "thresholds line 2"). */
export function parseRule(line: string, opts: ParseOptions, where = opts.source ?? 'rule'): Rule {
  const text = line.trim();
  const kinds = opts.kinds ?? ['threshold', 'regression'];
  const threshold = THRESHOLD_RE.exec(text);
  const regression = threshold ? null : REGRESSION_RE.exec(text);
  const metric = threshold?.[1] ?? regression?.[1];
  if (metric === undefined) {
    const forms = [
      kinds.includes('threshold') ? "'metric OP number' (e.g. 'accuracy >= 0.90'; OP is one of >= > <= < == !=)" : '',
      kinds.includes('regression') ? "'metric: limit' (e.g. 'accuracy: 0.01', 'f1_macro: 2%', 'accuracy: 1pp')" : '',
    ].filter(Boolean);
    fail(where, text, 'is not a rule.', `Write it as ${forms.join(' or ')}.`);
  }
  if (!opts.syntaxOnly && !(opts.known ?? []).includes(metric)) {
    fail(where, text, `names an unknown metric '${metric}'.`, `Use one of: ${knownList(opts.known ?? [])}.`);
  }
  if (threshold) {
    if (!kinds.includes('threshold')) {
      fail(
        where,
        text,
        'is a threshold, but only regression limits are allowed here.',
        `Write it as '${metric}: 0.01' (largest allowed worsening against the baseline), or move it to the thresholds.`,
      );
    }
    const written = threshold[2];
    const alias: Record<string, Operator> = { '=>': '>=', '=<': '<=', '=': '==', '≥': '>=', '≤': '<=', '≠': '!=' };
    if (Object.hasOwn(alias, written)) {
      fail(
        where,
        text,
        `uses '${written}', which is not an operator here.`,
        `Write '${metric} ${alias[written]} ${threshold[3].trim()}' (operators: ${OPERATORS.join(' ')}).`,
      );
    }
    const rawValue = threshold[3].trim();
    if (!NUMBER_RE.test(rawValue) || !Number.isFinite(Number(rawValue))) {
      const pct = /^([-+]?\d*\.?\d+)\s*%$/.exec(rawValue);
      const hint = pct
        ? `Write the value as a fraction: '${metric} ${written} ${Number(pct[1]) / 100}'.`
        : `Write a finite number after '${written}', e.g. '${metric} ${written} 0.9'.`;
      fail(where, text, `has '${rawValue}' where a number should be.`, hint);
    }
    return { kind: 'threshold', metric, op: written as Operator, value: Number(rawValue), valueText: rawValue, source: text };
  }
  if (!kinds.includes('regression')) {
    fail(
      where,
      text,
      'is a regression limit, but only thresholds are allowed here.',
      `Write a threshold such as '${metric} >= 0.9', or move it to max-regression.`,
    );
  }
  const rawAmount = regression![2].trim();
  const amount = AMOUNT_RE.exec(rawAmount);
  if (!amount || !Number.isFinite(Number(amount[1]))) {
    fail(
      where,
      text,
      `has '${rawAmount}' where a limit should be.`,
      `Write a number, a percentage or percentage points: '${metric}: 0.01', '${metric}: 2%' or '${metric}: 1pp'.`,
    );
  }
  const value = Number(amount[1]);
  if (value < 0) {
    fail(
      where,
      text,
      'has a negative limit.',
      `Write the largest allowed worsening as a positive amount, e.g. '${metric}: ${-value}${amount[2] ?? ''}'.`,
    );
  }
  const direction = metricDirection(metric, opts.directions) ?? (opts.syntaxOnly ? 'higher-is-better' : undefined);
  if (!direction) {
    fail(
      where,
      text,
      `limits '${metric}', whose better direction is not known.`,
      `Use a threshold ('${metric} >= …' or '${metric} <= …') instead, or a metric whose direction is known.`,
    );
  }
  const unit: RegressionUnit = amount[2] === '%' ? 'relative' : amount[2] === 'pp' ? 'pp' : 'absolute';
  return { kind: 'regression', metric, amount: value, unit, direction, source: text };
}

/**
 * Parses lines (blank lines and `#` comments are dropped). Every line is checked; the first
 * problem is thrown as a ConfigurationError naming the line: its number as written, blank and
 * comment lines counted (a list input's values carry the lines they came from, see util/lines.ts).
 * A metric given two regression limits is an error (which one would hold?).
 */
export function parseRules(lines: readonly string[] | string, opts: ParseOptions): Rule[] {
  const list = typeof lines === 'string' ? lines.split(/\r?\n/) : lines;
  const rules: Rule[] = [];
  const limited = new Set<string>();
  list.forEach((raw, i) => {
    const text = raw.replace(/(^|\s)#.*$/, '').trim();
    if (text === '') return;
    const where = `${opts.source ?? 'rules'} line ${lineOf(list, i)}`;
    const rule = parseRule(text, opts, where);
    if (rule.kind === 'regression') {
      if (limited.has(rule.metric)) {
        fail(where, text, `is a second regression limit for '${rule.metric}'.`, `Keep one limit per metric.`);
      }
      limited.add(rule.metric);
    }
    rules.push(rule);
  });
  return rules;
}

/** The allowed worsening in the metric's own units, given the baseline value. */
export function allowedWorsening(rule: RegressionRule, baseline: number): number {
  switch (rule.unit) {
    case 'absolute':
      return rule.amount;
    case 'pp':
      return rule.amount / 100;
    case 'relative':
      return (Math.abs(baseline) * rule.amount) / 100;
  }
}

const OP_TEXT: Readonly<Record<Operator, string>> = { '>=': '≥', '>': '>', '<=': '≤', '<': '<', '==': '=', '!=': '≠' };

/** Short human form: `≥ 0.9`, `max drop 1 pp`, `max rise 5%`. */
export function describeRule(rule: Rule): string {
  if (rule.kind === 'threshold') return `${OP_TEXT[rule.op]} ${rule.valueText ?? String(rule.value)}`;
  const verb = rule.direction === 'higher-is-better' ? 'max drop' : 'max rise';
  const amount = rule.unit === 'relative' ? `${rule.amount}%` : rule.unit === 'pp' ? `${rule.amount} pp` : String(rule.amount);
  return `${verb} ${amount}`;
}

/**
 * The gate verdict: a pure function of the candidate's and the baseline's metrics, their
 * per-example correctness on the same test examples, the rules and the significance level.
 *
 * Policy for a regression beyond its limit:
 * - significant (McNemar p < alpha for accuracy; a paired bootstrap interval of the change that
 *   excludes 0 for other metrics): the rule fails;
 * - not significant: the rule passes with a "within noise" warning, so the gate does not flap on
 *   changes the test set cannot tell from chance;
 * - no paired test available for that metric: the rule fails (the limit is taken literally).
 * Absolute thresholds are always taken literally. NaN, infinite and missing values never pass.
 * Without a baseline the candidate is the first model: regression limits are skipped and only
 * thresholds decide.
 */
import { evaluateRules, fmt, type MetricValues, type Rule, type RuleResult } from '../rules/index.ts';
import { mcnemarExact, type BootstrapResult, type McNemarResult } from './significance.ts';

export interface GateInput {
  readonly candidate: MetricValues;
  /** Undefined when there is no baseline (first model). */
  readonly baseline?: MetricValues;
  /** Per-example correctness of the candidate on the test split (1 = right). */
  readonly candidateCorrect?: ArrayLike<number | boolean>;
  /** The baseline's, on the same examples in the same order. */
  readonly baselineCorrect?: ArrayLike<number | boolean>;
  readonly rules: readonly Rule[];
  readonly significance: {
    /** Significance level, e.g. 0.05. */
    readonly alpha: number;
    /** Paired bootstrap intervals of candidate − baseline, by metric (for metrics other than accuracy). */
    readonly bootstrap?: Readonly<Record<string, BootstrapResult>>;
  };
}

export interface GateRuleResult extends RuleResult {
  /** Set when a regression beyond the limit was let through because it is not significant. */
  readonly note?: 'within-noise';
  /** The paired test behind the verdict of a regression limit, when one was consulted. */
  readonly test?: { readonly name: 'mcnemar-exact' | 'paired-bootstrap'; readonly significant: boolean; readonly detail: string };
}

export interface GateSignificance {
  readonly alpha: number;
  /** McNemar's exact test on accuracy, when both models were scored on the same examples. */
  readonly mcnemar?: McNemarResult & { readonly significant: boolean };
  readonly bootstrap: readonly BootstrapResult[];
}

export interface GateDecision {
  readonly passed: boolean;
  readonly firstModel: boolean;
  readonly rules: readonly GateRuleResult[];
  readonly significance: GateSignificance;
  /** Rules that failed, and rules that passed only as "within noise". */
  readonly failed: number;
  readonly withinNoise: number;
}

function mcnemarDetail(m: McNemarResult, alpha: number): string {
  return `McNemar p = ${formatP(m.pValue)} ${m.pValue < alpha ? '<' : '≥'} ${alpha}`;
}

export function formatP(p: number): string {
  if (!Number.isFinite(p)) return String(p);
  if (p < 0.001) return p.toExponential(1);
  return String(Number(p.toPrecision(2)));
}

function bootstrapDetail(b: BootstrapResult): string {
  return `${Math.round(b.confidence * 100)}% bootstrap interval of the change [${fmt(b.low)}, ${fmt(b.high)}] ${b.significant ? 'excludes' : 'includes'} 0`;
}

export function decideGate(input: GateInput): GateDecision {
  const { alpha } = input.significance;
  const firstModel = input.baseline === undefined;
  let mcnemar: GateSignificance['mcnemar'];
  if (!firstModel && input.candidateCorrect && input.baselineCorrect && input.candidateCorrect.length === input.baselineCorrect.length) {
    const m = mcnemarExact(input.candidateCorrect, input.baselineCorrect);
    mcnemar = { ...m, significant: m.pValue < alpha };
  }
  const bootstrap = input.significance.bootstrap ?? {};
  const results: GateRuleResult[] = evaluateRules(input.rules, input.candidate, input.baseline).map((r) => {
    if (r.rule.kind !== 'regression' || firstModel || r.worsening === undefined) return r;
    let test: GateRuleResult['test'];
    if (r.metric === 'accuracy' && mcnemar) {
      test = { name: 'mcnemar-exact', significant: mcnemar.significant, detail: mcnemarDetail(mcnemar, alpha) };
    } else if (Object.hasOwn(bootstrap, r.metric)) {
      const b = bootstrap[r.metric];
      test = { name: 'paired-bootstrap', significant: b.significant, detail: bootstrapDetail(b) };
    }
    if (r.verdict !== 'fail') return test ? { ...r, test } : r;
    if (!test) return { ...r, reason: `${r.reason}; no paired test for ${r.metric}, so the limit is taken literally` };
    if (test.significant) return { ...r, test, reason: `${r.reason}; significant (${test.detail})` };
    return {
      ...r,
      test,
      verdict: 'pass',
      note: 'within-noise',
      reason: `${r.reason}; within noise (${test.detail}), so it passes with a warning`,
    };
  });
  const failed = results.filter((r) => r.verdict === 'fail').length;
  return {
    passed: failed === 0,
    firstModel,
    rules: results,
    significance: { alpha, ...(mcnemar ? { mcnemar } : {}), bootstrap: Object.values(bootstrap) },
    failed,
    withinNoise: results.filter((r) => r.note === 'within-noise').length,
  };
}

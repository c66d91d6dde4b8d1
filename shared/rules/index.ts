export {
  OPERATORS,
  allowedWorsening,
  describeRule,
  metricDirection,
  parseRule,
  parseRules,
  type Direction,
  type Operator,
  type ParseOptions,
  type RegressionRule,
  type RegressionUnit,
  type Rule,
  type RuleKind,
  type ThresholdRule,
} from './parse.ts';
export { compare, evaluateRules, fmt, unusable, type MetricValues, type RuleResult, type Verdict } from './evaluate.ts';

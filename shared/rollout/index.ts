/**
 * The rollout domain: one state machine for every strategy (a rolling update is the plan [100]),
 * the loop that drives it, and the targets that do what it decides (Kubernetes, local servers).
 */
export {
  nextStep,
  planProblem,
  type MeasurementStatus,
  type RolloutAction,
  type RolloutEvent,
  type RolloutPlan,
  type RolloutState,
  type Transition,
} from './analysis.ts';
export { runRollout, type Measured, type RolloutOutcome, type RolloutRun, type StepRecord } from './run.ts';
export type { Readiness, RolloutTarget, ServedVersion, Serving, TargetContext } from './target.ts';

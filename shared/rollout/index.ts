/**
 * The rollout domain: one state machine for every strategy (a rolling update is the plan [100]),
 * the loop that drives it, `deployRollout` (deploy-rollout's work), and the targets that do what
 * it decides: Kubernetes (Deployments, a Service, an HTTPRoute where there is one) and local
 * (model server processes behind a traffic-splitting proxy). The Kubernetes target loads the
 * Kubernetes client on first use.
 */
import type * as Kubernetes from './kubernetes.ts';

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
export {
  CONSECUTIVE_ERROR_LIMIT,
  DEFAULT_STEPS,
  deployRollout,
  type DeployAction,
  type DeployOptions,
  type DeployResult,
  type DeployServices,
  type DeployStatus,
} from './deploy.ts';
export {
  deployDir,
  localStatus,
  localTarget,
  readState as readLocalState,
  stopLocal,
  type LocalState,
  type LocalTargetOptions,
} from './local.ts';
export { canaryReplicas, replicaShare, serverDeployment, type Role, type ServerSettings } from './manifests.ts';
export { SESSION_HEADER, chooseBackend, parseRoutes, startProxy, type Backend, type ProxyOptions, type RunningProxy } from './proxy.ts';
export { runRollout, type Measured, type RolloutOutcome, type RolloutRun, type StepRecord } from './run.ts';
export type { Readiness, RolloutTarget, ServedVersion, Serving, TargetContext } from './target.ts';
export type { KubernetesTargetOptions } from './kubernetes.ts';

export async function kubernetesTarget(
  ...a: Parameters<typeof Kubernetes.kubernetesTarget>
): ReturnType<typeof Kubernetes.kubernetesTarget> {
  return (await import('./kubernetes.ts')).kubernetesTarget(...a);
}

/** A fetch through the API server with a client's credentials (the pod proxy's /metrics). */
export async function kubeFetch(...a: Parameters<typeof Kubernetes.kubeFetch>): Promise<ReturnType<typeof Kubernetes.kubeFetch>> {
  return (await import('./kubernetes.ts')).kubeFetch(...a);
}

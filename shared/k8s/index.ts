/** Kubernetes for modelship: the only module that talks to a cluster. */
export { loadKubeConfig, type KubeTarget, type LoadedKubeConfig } from './config.ts';
export {
  FIELD_MANAGER,
  KubeClient,
  WATCHED,
  jobPodSelector,
  labelSelector,
  type DeploymentJson,
  type JobJson,
  type PodJson,
  type WaitOptions,
  type WatchedKind,
  type WatchedObject,
} from './client.ts';
export { apiStatus, isNotFound, kubeError, type ApiStatus } from './errors.ts';
export {
  containerStarted,
  containerTerminated,
  explainPodFailure,
  jobState,
  type JobLike,
  type JobState,
  type PodLike,
  type PodProblem,
  type PodProblemKind,
} from './explain.ts';
export { followPodLog, splitTimestamp, type FollowLogOptions, type FollowLogResult } from './logs.ts';
export { abortError, watchUntil, type WatchEventType, type WatchUntilOptions } from './watch.ts';
export { JobRunError, describeProblem, runJob, type JobOutcome, type RunJobOptions } from './job.ts';
export { PROGRESS_DEADLINE_EXCEEDED, deploymentProgress, type DeploymentLike, type DeploymentProgress } from './deployment.ts';

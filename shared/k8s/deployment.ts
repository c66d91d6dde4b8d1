/**
 * Whether a Deployment's rollout is done, as `kubectl rollout status` decides it (pure): wait while
 * the controller has not observed the latest spec; fail on ProgressDeadlineExceeded; done only when
 * every replica is updated, no old replica remains, and every updated replica is available.
 */

/** The fields of a Deployment the decision reads (plain JSON, as watches deliver them). */
export interface DeploymentLike {
  readonly metadata?: { readonly name?: string; readonly generation?: number };
  readonly spec?: { readonly replicas?: number };
  readonly status?: {
    readonly observedGeneration?: number;
    readonly replicas?: number;
    readonly updatedReplicas?: number;
    readonly availableReplicas?: number;
    readonly readyReplicas?: number;
    readonly conditions?: readonly {
      readonly type?: string;
      readonly status?: string;
      readonly reason?: string;
      readonly message?: string;
    }[];
  };
}

export type DeploymentProgress =
  | { readonly state: 'waiting'; readonly message: string }
  | { readonly state: 'complete'; readonly message: string }
  | { readonly state: 'failed'; readonly reason: string; readonly message: string };

/** The reason the Deployment controller gives when a rollout made no progress within progressDeadlineSeconds. */
export const PROGRESS_DEADLINE_EXCEEDED = 'ProgressDeadlineExceeded';

export function deploymentProgress(d: DeploymentLike): DeploymentProgress {
  const name = d.metadata?.name ?? 'deployment';
  const generation = d.metadata?.generation ?? 0;
  const s = d.status ?? {};
  if (generation > (s.observedGeneration ?? 0)) return { state: 'waiting', message: `waiting for the ${name} spec update to be observed` };
  const progressing = s.conditions?.find((c) => c.type === 'Progressing');
  if (progressing?.reason === PROGRESS_DEADLINE_EXCEEDED)
    return {
      state: 'failed',
      reason: PROGRESS_DEADLINE_EXCEEDED,
      message: `${name} exceeded its progress deadline${progressing.message ? `: ${progressing.message}` : ''}`,
    };
  const want = d.spec?.replicas ?? 1;
  const updated = s.updatedReplicas ?? 0;
  const total = s.replicas ?? 0;
  const available = s.availableReplicas ?? 0;
  if (updated < want) return { state: 'waiting', message: `${name}: ${updated} of ${want} new replicas updated` };
  if (total > updated) return { state: 'waiting', message: `${name}: ${total - updated} old replicas pending termination` };
  if (available < updated) return { state: 'waiting', message: `${name}: ${available} of ${updated} updated replicas available` };
  return { state: 'complete', message: `${name} successfully rolled out` };
}

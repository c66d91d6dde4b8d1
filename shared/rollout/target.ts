/**
 * Where a rollout happens: the one interface both targets implement (Kubernetes, local server
 * processes behind a proxy). The state machine in analysis.ts decides; a target only does.
 */
import type { Logger } from '../util/index.ts';

/** A model version as a target serves it. */
export interface ServedVersion {
  readonly name: string;
  readonly version: number;
  /** The registry manifest digest: what "the same version" means. */
  readonly digest: string;
  /** The full reference (registry, name, version, digest). */
  readonly ref: string;
}

/** What a target serves now. */
export interface Serving {
  readonly stable?: ServedVersion;
  /** A canary left in progress (by an interrupted rollout), with its weight. */
  readonly canary?: ServedVersion & { readonly weight: number };
  /** Where clients reach the model (the Service, the proxy). */
  readonly url?: string;
}

export type Readiness = { readonly ready: true } | { readonly ready: false; readonly reason: string };

export interface RolloutTarget {
  readonly kind: 'kubernetes' | 'local';
  /** How people see where it goes (`namespace ml, Deployment fashion`, `.modelship/deploy/fashion`). */
  readonly where: string;
  serving(): Promise<Serving>;
  /**
   * Sends `weight`% of the traffic to `version` as the canary (deploying it first when it is not
   * there) and waits until it is ready at that weight, or cannot be. A weight of 100 in a rolling
   * update replaces the stable version in place.
   */
  setWeight(version: ServedVersion, weight: number, signal: AbortSignal): Promise<Readiness>;
  /** Makes the canary the stable version, with no request lost; the canary goes to zero. */
  promote(version: ServedVersion): Promise<void>;
  /** All traffic back on the stable version at once; the canary removed (a rolling update: the previous revision back). */
  abort(reason: string): Promise<void>;
  /** The canary's own /metrics, for analysis without Prometheus. */
  canaryEndpoints(): Promise<readonly string[]>;
  /** The series labels that select the canary in Prometheus. */
  canarySelector(version: ServedVersion): { readonly model: string; readonly version: string };
  /** Releases what the target holds (watches, locks); the servers keep running. */
  close(): Promise<void>;
}

export interface TargetContext {
  readonly log: Logger;
  readonly cwd: string;
  readonly now: () => Date;
}

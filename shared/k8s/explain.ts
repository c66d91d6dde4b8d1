/**
 * Why a pod or a Job is not doing what it should, from its status alone (pure functions over the
 * JSON the API returns, so they work on watch events and on typed objects alike).
 */

export interface ContainerStateLike {
  readonly waiting?: { readonly reason?: string; readonly message?: string } | null;
  readonly running?: unknown;
  readonly terminated?: { readonly exitCode: number; readonly reason?: string; readonly message?: string; readonly signal?: number } | null;
}

export interface PodLike {
  readonly metadata?: { readonly name?: string; readonly deletionTimestamp?: unknown };
  readonly spec?: { readonly containers?: readonly { readonly name: string; readonly image?: string }[] };
  readonly status?: {
    readonly phase?: string;
    readonly reason?: string;
    readonly message?: string;
    readonly conditions?: readonly {
      readonly type: string;
      readonly status: string;
      readonly reason?: string;
      readonly message?: string;
    }[];
    readonly containerStatuses?: readonly ContainerStatusLike[];
    /** Init containers run first, one after the other; a pod whose init container fails never starts the others. */
    readonly initContainerStatuses?: readonly ContainerStatusLike[];
  };
}

export interface ContainerStatusLike {
  readonly name: string;
  readonly image?: string;
  readonly restartCount?: number;
  readonly state?: ContainerStateLike;
  readonly lastState?: ContainerStateLike;
}

export interface JobLike {
  readonly metadata?: { readonly name?: string; readonly uid?: string };
  readonly status?: {
    readonly active?: number;
    readonly succeeded?: number;
    readonly failed?: number;
    readonly conditions?: readonly {
      readonly type: string;
      readonly status: string;
      readonly reason?: string;
      readonly message?: string;
    }[];
  };
}

export type PodProblemKind =
  'Unschedulable' | 'ImagePull' | 'ContainerConfig' | 'CrashLoopBackOff' | 'OOMKilled' | 'ExitCode' | 'Evicted' | 'DeadlineExceeded';

export interface PodProblem {
  readonly kind: PodProblemKind;
  /** The Kubernetes reason word: Unschedulable, ImagePullBackOff, OOMKilled, Error, ... */
  readonly reason: string;
  readonly container?: string;
  readonly exitCode?: number;
  /** One line for people: "container trainer OOMKilled (exit 137)". */
  readonly summary: string;
  /** Kubernetes' own message, when it gave one. */
  readonly detail?: string;
  /** True when waiting longer cannot help (the pod will not get better by itself). */
  readonly terminal: boolean;
}

const IMAGE_PULL = new Set(['ImagePullBackOff', 'ErrImagePull', 'InvalidImageName', 'ErrImageNeverPull', 'RegistryUnavailable']);
const CONFIG = new Set(['CreateContainerConfigError', 'CreateContainerError', 'RunContainerError']);

function terminatedProblem(
  container: string,
  t: NonNullable<ContainerStateLike['terminated']>,
  restarts: number | undefined,
  what = `container ${container}`,
): PodProblem | undefined {
  if (t.exitCode === 0 && t.reason !== 'OOMKilled') return undefined;
  const again = restarts ? `, restarted ${restarts} time${restarts === 1 ? '' : 's'}` : '';
  if (t.reason === 'OOMKilled')
    return {
      kind: 'OOMKilled',
      reason: 'OOMKilled',
      container,
      exitCode: t.exitCode,
      summary: `${what} OOMKilled (exit ${t.exitCode}${again})`,
      terminal: true,
    };
  const reason = t.reason ?? 'Error';
  const detail = t.message?.trim();
  return {
    kind: 'ExitCode',
    reason,
    container,
    exitCode: t.exitCode,
    summary: `${what} exited with code ${t.exitCode}${reason !== 'Error' ? ` (${reason})` : ''}${again}`,
    ...(detail ? { detail } : {}),
    terminal: true,
  };
}

/**
 * The most telling problem of a pod, or undefined when nothing is wrong (yet): scheduling first,
 * then each container's waiting reason, then how it terminated.
 */
export function explainPodFailure(pod: PodLike): PodProblem | undefined {
  const status = pod.status ?? {};
  if (status.reason === 'Evicted')
    return {
      kind: 'Evicted',
      reason: 'Evicted',
      summary: 'pod was evicted',
      ...(status.message ? { detail: status.message } : {}),
      terminal: true,
    };
  if (status.reason === 'DeadlineExceeded')
    return {
      kind: 'DeadlineExceeded',
      reason: 'DeadlineExceeded',
      summary: 'pod ran past its activeDeadlineSeconds',
      ...(status.message ? { detail: status.message } : {}),
      terminal: true,
    };
  const scheduled = status.conditions?.find((c) => c.type === 'PodScheduled');
  if (status.phase === 'Pending' && scheduled?.status === 'False' && scheduled.reason === 'Unschedulable')
    return {
      kind: 'Unschedulable',
      reason: 'Unschedulable',
      summary: 'pod cannot be scheduled',
      ...(scheduled.message ? { detail: scheduled.message } : {}),
      terminal: false,
    };
  // Init containers first: while one fails, the others have not started.
  const all = [
    ...(status.initContainerStatuses ?? []).map((c) => ({ c, what: `init container ${c.name}` })),
    ...(status.containerStatuses ?? []).map((c) => ({ c, what: `container ${c.name}` })),
  ];
  for (const { c, what } of all) {
    const w = c.state?.waiting;
    if (w?.reason && IMAGE_PULL.has(w.reason)) {
      const image = c.image || pod.spec?.containers?.find((x) => x.name === c.name)?.image || '?';
      return {
        kind: 'ImagePull',
        reason: w.reason,
        container: c.name,
        summary: `${what} cannot pull image "${image}" (${w.reason})`,
        ...(w.message ? { detail: w.message } : {}),
        terminal: w.reason !== 'ErrImagePull',
      };
    }
    if (w?.reason && CONFIG.has(w.reason))
      return {
        kind: 'ContainerConfig',
        reason: w.reason,
        container: c.name,
        summary: `${what} cannot start (${w.reason})`,
        ...(w.message ? { detail: w.message } : {}),
        terminal: true,
      };
    if (w?.reason === 'CrashLoopBackOff') {
      const last = c.lastState?.terminated;
      const code = last ? `, last exit ${last.exitCode}${last.reason && last.reason !== 'Error' ? ` ${last.reason}` : ''}` : '';
      return {
        kind: 'CrashLoopBackOff',
        reason: 'CrashLoopBackOff',
        container: c.name,
        ...(last ? { exitCode: last.exitCode } : {}),
        summary: `${what} keeps crashing (CrashLoopBackOff${code}, restarted ${c.restartCount ?? 0} times)`,
        terminal: true,
      };
    }
  }
  for (const { c, what } of all) {
    const t = c.state?.terminated;
    if (t) {
      const p = terminatedProblem(c.name, t, c.restartCount, what);
      if (p) return p;
    }
  }
  return undefined;
}

export type JobState =
  | { readonly state: 'active' }
  | { readonly state: 'complete' }
  | { readonly state: 'failed'; readonly reason: string; readonly message: string };

/** Whether a Job has finished, from its Complete / Failed conditions. */
export function jobState(job: JobLike): JobState {
  for (const c of job.status?.conditions ?? []) {
    if (c.status !== 'True') continue;
    if (c.type === 'Complete') return { state: 'complete' };
    if (c.type === 'Failed') return { state: 'failed', reason: c.reason ?? 'Failed', message: c.message ?? '' };
  }
  return { state: 'active' };
}

/** Whether a container of the pod has produced a log to read (running or terminated). */
export function containerStarted(pod: PodLike, container: string): boolean {
  const s = pod.status?.containerStatuses?.find((c) => c.name === container);
  return Boolean(s?.state?.running || s?.state?.terminated || s?.lastState?.terminated);
}

export function containerTerminated(pod: PodLike, container: string): boolean {
  const s = pod.status?.containerStatuses?.find((c) => c.name === container);
  return Boolean(s?.state?.terminated);
}

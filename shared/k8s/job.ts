/**
 * Running a Job to its end, for any step that needs one (training today): create it, stream one
 * container's log in order while it runs, fail fast on a pod that cannot start or stays
 * unschedulable, and delete the Job on a timeout, an interrupt or a stuck pod, so that none is left
 * behind. Interrupts are handled from before the Job exists: one that comes first creates nothing.
 * Completion comes from watches (see watch.ts), never from a stale read.
 */
import type { V1Job } from '@kubernetes/client-node';
import { ModelshipError, errorMessage } from '../util/index.ts';
import { jobPodSelector, type JobJson, type KubeClient, type PodJson } from './client.ts';
import { containerStarted, explainPodFailure, jobState, type JobState, type PodProblem } from './explain.ts';

export interface RunJobOptions {
  readonly namespace: string;
  /** The container whose log is streamed to `onLine`. */
  readonly container: string;
  readonly onLine: (line: string) => void;
  /** Told the Job's name as soon as it exists. */
  readonly onCreated?: (name: string) => void;
  /** Runs the wait inside this (e.g. a log group named after the Job). */
  readonly around?: <T>(name: string, wait: () => Promise<T>) => Promise<T>;
  /** Give up (and delete the Job) after this long. */
  readonly timeoutMs: number;
  /** How long a pod may stay unschedulable. */
  readonly pendingTimeoutMs: number;
  readonly signal?: AbortSignal;
  /** Stop (and delete the Job) on SIGINT/SIGTERM; default true when no `signal` is given. */
  readonly handleSignals?: boolean;
  /** How long the log streams may drain after the Job ended (default 10 s). */
  readonly drainMs?: number;
}

export interface JobOutcome {
  readonly name: string;
  readonly job: JobJson;
  readonly state: JobState;
  /** The Job's last pod, when it had one. */
  readonly pod?: PodJson;
  /** Why it failed, from its pod (or its deadline), when it failed. */
  readonly problem?: PodProblem;
}

/** A Job run that ended before the Job did: timed out, interrupted, or a pod that cannot run. */
export class JobRunError extends ModelshipError {
  readonly reason: 'timeout' | 'interrupted' | 'stuck';
  /** Undefined when it ended before the Job was created. */
  readonly jobName: string | undefined;
  /** What became of the Job, for the message: deleted, or the command to delete it. */
  readonly cleanup: string;
  readonly problem: PodProblem | undefined;
  constructor(reason: JobRunError['reason'], detail: string, jobName: string | undefined, cleanup: string, problem?: PodProblem) {
    super(jobName ? `Job ${jobName}: ${detail}. ${cleanup}`.trim() : `${detail} before the Job was created.`);
    this.reason = reason;
    this.jobName = jobName;
    this.cleanup = cleanup;
    this.problem = problem;
  }
}

/** Ends the wait: an interrupt, the timeout, or a pod stuck for good. */
class Stop extends Error {
  readonly reason: JobRunError['reason'];
  readonly problem: PodProblem | undefined;
  constructor(reason: JobRunError['reason'], message: string, problem?: PodProblem) {
    super(message);
    this.reason = reason;
    this.problem = problem;
  }
}

export function describeProblem(p: PodProblem): string {
  return p.detail ? `${p.summary}: ${p.detail.replace(/[.\s]+$/, '')}` : p.summary;
}

function deadlineProblem(message: string): PodProblem {
  return {
    kind: 'DeadlineExceeded',
    reason: 'DeadlineExceeded',
    summary: 'the Job ran past its deadline',
    ...(message ? { detail: message } : {}),
    terminal: true,
  };
}

/** Creates the Job and follows it to its end. Resolves when it completed or failed; throws JobRunError when the wait ended first. */
export async function runJob(client: KubeClient, manifest: V1Job, opts: RunJobOptions): Promise<JobOutcome> {
  const stop = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => stop.abort(new Stop('interrupted', `interrupted by ${sig}`));
  const onAbort = (): void => stop.abort(new Stop('interrupted', 'interrupted'));
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  if (opts.signal?.aborted) onAbort();
  const handleSignals = opts.handleSignals ?? !opts.signal;
  if (handleSignals) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  const timer = setTimeout(
    () => stop.abort(new Stop('timeout', `did not finish within ${Math.round(opts.timeoutMs / 1000)} s`)),
    opts.timeoutMs,
  );
  let name: string | undefined;
  try {
    if (stop.signal.aborted) throw stop.signal.reason;
    const created = await client.createJob(manifest, opts.namespace);
    name = created.metadata?.name ?? '?';
    opts.onCreated?.(name);
    if (stop.signal.aborted) throw stop.signal.reason;
    const jobName = name;
    const wait = (): Promise<{ job: JobJson; pod?: PodJson }> => followJob(client, created, opts, stop.signal);
    const { job, pod } = await (opts.around ? opts.around(jobName, wait) : wait());
    const state = jobState(job);
    const problem =
      state.state === 'failed'
        ? ((pod ? explainPodFailure(pod) : undefined) ?? (state.reason === 'DeadlineExceeded' ? deadlineProblem(state.message) : undefined))
        : undefined;
    return { name: jobName, job, state, ...(pod ? { pod } : {}), ...(problem ? { problem } : {}) };
  } catch (err) {
    const reason: unknown = stop.signal.aborted ? stop.signal.reason : err;
    if (!(reason instanceof Stop)) {
      if (name !== undefined) await client.deleteJob(name, opts.namespace).catch(() => false);
      throw err;
    }
    let cleanup = '';
    if (name !== undefined) {
      const deleted = await client.deleteJob(name, opts.namespace).catch(() => false);
      cleanup = deleted ? `Job ${name} deleted.` : `Job ${name} may still exist: kubectl delete job ${name} -n ${opts.namespace}.`;
    }
    throw new JobRunError(reason.reason, reason.message, name, cleanup, reason.problem);
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
    if (handleSignals) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }
}

/**
 * Follows the Job to its end: the pods' watch starts the log stream once the container runs and
 * fails fast on a pod that cannot start; the Job's watch says when it finished.
 */
async function followJob(
  client: KubeClient,
  job: V1Job,
  opts: RunJobOptions,
  signal: AbortSignal,
): Promise<{ job: JobJson; pod?: PodJson }> {
  const { namespace, container, onLine } = opts;
  const name = job.metadata?.name ?? '';
  const inner = new AbortController();
  const cancel = (): void => inner.abort(signal.reason);
  signal.addEventListener('abort', cancel, { once: true });
  const followers = new Map<string, Promise<unknown>>();
  let lastPod: PodJson | undefined;
  let pendingTimer: NodeJS.Timeout | undefined;
  const stuck = new Promise<never>((_, reject) => {
    const fail = (problem: PodProblem): void => reject(new Stop('stuck', `failed: ${describeProblem(problem)}`, problem));
    client
      .watch(
        'pods',
        (type, pod) => {
          const podName = pod.metadata?.name ?? '';
          if (type !== 'DELETED') lastPod = pod;
          if (type !== 'DELETED' && !followers.has(podName) && containerStarted(pod, container))
            followers.set(
              podName,
              client.followLogs(podName, container, onLine, { namespace, signal: inner.signal }).catch((err: unknown) => {
                if (!inner.signal.aborted) onLine(`(modelship: the log of pod ${podName} stopped: ${errorMessage(err)})`);
              }),
            );
          const problem = type === 'DELETED' ? undefined : explainPodFailure(pod);
          if (problem?.kind === 'Unschedulable') {
            pendingTimer ??= setTimeout(() => fail(problem), opts.pendingTimeoutMs);
          } else if (pendingTimer) {
            clearTimeout(pendingTimer);
            pendingTimer = undefined;
          }
          // Failures the Job controller will see itself (exit codes, OOM) end through the Job's watch.
          if (problem?.terminal && problem.kind !== 'OOMKilled' && problem.kind !== 'ExitCode') return problem;
          return undefined;
        },
        { labelSelector: jobPodSelector(job), namespace, signal: inner.signal },
      )
      .then(fail, reject);
  });
  stuck.catch(() => undefined);
  try {
    const finished = await Promise.race([client.waitForJob(name, { namespace, signal: inner.signal }), stuck]);
    // Let the log streams drain what the container wrote before it ended (bounded).
    await Promise.race([Promise.allSettled(followers.values()), new Promise((r) => setTimeout(r, opts.drainMs ?? 10_000).unref())]);
    let pod = lastPod;
    if (jobState(finished).state === 'failed' && (!pod || !explainPodFailure(pod))) {
      const pods = await client.findJobPods(job, namespace).catch(() => []);
      const latest = pods.at(-1);
      if (latest) pod = latest;
    }
    return { job: finished, ...(pod ? { pod } : {}) };
  } finally {
    if (pendingTimer) clearTimeout(pendingTimer);
    signal.removeEventListener('abort', cancel);
    inner.abort(new Stop('interrupted', 'finished'));
  }
}

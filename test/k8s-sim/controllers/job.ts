/**
 * The Job controller (batch/v1, NonIndexed completion mode): creates the Job's pods from its
 * template, counts succeeded and failed pods, retries up to backoffLimit, enforces
 * activeDeadlineSeconds, sets the conditions Kubernetes 1.31+ sets (SuccessCriteriaMet + Complete,
 * FailureTarget + Failed with reason BackoffLimitExceeded or DeadlineExceeded), and deletes finished
 * Jobs after ttlSecondsAfterFinished (the TTL-after-finished controller).
 */
import { podType, jobType, type ResourceType } from '../resources/index.ts';
import { rfc3339, type Store, type StoreEvent } from '../store.ts';
import type { Condition, Job, JobStatus, KubeObject, Pod } from '../types.ts';
import { deleteWithPropagation } from './gc.ts';

export interface JobControllerOptions {
  /** Delay before replacing a failed pod (Kubernetes starts at 10 s and doubles). */
  readonly backoffMs: number;
  /** Multiplies ttlSecondsAfterFinished and activeDeadlineSeconds (1 = real seconds). */
  readonly timeScale: number;
}

const terminal = (p: Pod): boolean => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';

export function jobFinished(job: Job): 'Complete' | 'Failed' | undefined {
  for (const c of job.status?.conditions ?? []) if ((c.type === 'Complete' || c.type === 'Failed') && c.status === 'True') return c.type;
  return undefined;
}

function ownerUid(o: KubeObject): string | undefined {
  return o.metadata.ownerReferences?.find((r) => r.controller && r.kind === 'Job')?.uid;
}

export class JobController {
  private readonly store: Store;
  private readonly types: () => readonly ResourceType[];
  private readonly options: JobControllerOptions;
  private readonly pending = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Pods counted as failed or succeeded, by Job uid (the real controller uses a finalizer). */
  private readonly counted = new Map<string, { succeeded: Set<string>; failed: Set<string> }>();
  private readonly deadlines = new Set<string>();
  private readonly jobsByUid = new Map<string, { ns: string; name: string }>();
  private unsubscribe: (() => void) | undefined;

  constructor(store: Store, types: () => readonly ResourceType[], options: JobControllerOptions) {
    this.store = store;
    this.types = types;
    this.options = options;
  }

  start(): void {
    this.unsubscribe = this.store.subscribe((e) => this.onEvent(e));
  }

  stop(): void {
    this.unsubscribe?.();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private onEvent(e: StoreEvent): void {
    if (e.resource === jobType) {
      const uid = e.object.metadata.uid!;
      if (e.type === 'DELETED') {
        this.jobsByUid.delete(uid);
        this.counted.delete(uid);
        return;
      }
      this.jobsByUid.set(uid, { ns: e.object.metadata.namespace!, name: e.object.metadata.name! });
      this.enqueue(uid);
    } else if (e.resource === podType) {
      const uid = ownerUid(e.object) ?? (e.previous ? ownerUid(e.previous) : undefined);
      if (!uid || !this.jobsByUid.has(uid)) return;
      const pod = e.object as Pod;
      const counts = this.countsFor(uid);
      // A pod deleted before it finished counts as failed, as with podReplacementPolicy TerminatingOrFailed.
      if (e.type === 'DELETED' && !terminal(pod)) counts.failed.add(pod.metadata.uid!);
      this.enqueue(uid);
    }
  }

  private countsFor(uid: string): { succeeded: Set<string>; failed: Set<string> } {
    let c = this.counted.get(uid);
    if (!c) {
      c = { succeeded: new Set(), failed: new Set() };
      this.counted.set(uid, c);
    }
    return c;
  }

  private enqueue(uid: string): void {
    if (this.pending.has(uid)) return;
    this.pending.add(uid);
    setImmediate(() => {
      this.pending.delete(uid);
      const where = this.jobsByUid.get(uid);
      if (where) this.sync(where.ns, where.name);
    });
  }

  private sync(ns: string, name: string): void {
    const job = this.store.find(jobType, ns, name) as Job | undefined;
    if (!job) return;
    const uid = job.metadata.uid!;
    if (jobFinished(job)) return;
    const spec = job.spec;
    const now = this.store.now();
    const pods = this.store.list(podType, ns, (p) => ownerUid(p) === uid) as Pod[];
    const counts = this.countsFor(uid);
    for (const p of pods) {
      if (p.status?.phase === 'Succeeded') counts.succeeded.add(p.metadata.uid!);
      if (p.status?.phase === 'Failed') counts.failed.add(p.metadata.uid!);
    }
    const active = pods.filter((p) => !terminal(p) && !p.metadata.deletionTimestamp);
    const restarts =
      spec.template.spec.restartPolicy === 'OnFailure'
        ? active.reduce((n, p) => n + (p.status?.containerStatuses ?? []).reduce((m, s) => m + s.restartCount, 0), 0)
        : 0;
    const failed = counts.failed.size;
    const succeeded = counts.succeeded.size;
    const status: JobStatus = { ...job.status };
    const startTime = status.startTime ?? rfc3339(now);
    status.startTime = startTime;
    status.failed = failed || undefined;
    status.succeeded = succeeded || undefined;
    status.terminating = 0;
    status.uncountedTerminatedPods = {};
    const stamp = rfc3339(now);
    const condition = (type: string, reason: string, message: string): Condition => ({
      type,
      status: 'True',
      reason,
      message,
      lastProbeTime: stamp,
      lastTransitionTime: stamp,
    });

    const deadline = spec.activeDeadlineSeconds;
    const elapsedMs = now.getTime() - Date.parse(startTime);
    const deadlineMs = deadline !== undefined ? deadline * 1000 * this.options.timeScale : undefined;
    let failure: [string, string] | undefined;
    if (failed + restarts > (spec.backoffLimit ?? 6)) failure = ['BackoffLimitExceeded', 'Job has reached the specified backoff limit'];
    else if (deadlineMs !== undefined && elapsedMs >= deadlineMs)
      failure = ['DeadlineExceeded', 'Job was active longer than specified deadline'];

    if (failure) {
      for (const p of active) if (this.store.find(podType, ns, p.metadata.name!)) this.store.remove(podType, ns, p.metadata.name!);
      status.active = 0;
      status.ready = 0;
      status.conditions = [...(status.conditions ?? []), condition('FailureTarget', ...failure), condition('Failed', ...failure)];
      this.write(job, status);
      this.scheduleTtl(job);
      return;
    }
    if (succeeded >= (spec.completions ?? 1)) {
      status.active = 0;
      status.ready = 0;
      status.completionTime = stamp;
      status.conditions = [
        ...(status.conditions ?? []),
        condition('SuccessCriteriaMet', 'CompletionsReached', 'Reached expected number of succeeded pods'),
        condition('Complete', 'CompletionsReached', 'Reached expected number of succeeded pods'),
      ];
      this.write(job, status);
      this.scheduleTtl(job);
      return;
    }
    if (deadlineMs !== undefined && !this.deadlines.has(uid)) {
      this.deadlines.add(uid);
      this.later(Math.max(0, deadlineMs - elapsedMs), () => this.enqueue(uid));
    }
    const want = Math.min(spec.parallelism ?? 1, (spec.completions ?? 1) - succeeded) - active.length;
    status.active = active.length;
    status.ready = active.filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')).length;
    if (want > 0 && !spec.suspend) {
      const create = (): void => {
        const current = this.store.find(jobType, ns, name) as Job | undefined;
        if (!current || current.metadata.uid !== uid || jobFinished(current)) return;
        const stillActive = this.store.list(podType, ns, (p) => ownerUid(p) === uid && !terminal(p as Pod)).length;
        const n = Math.min(spec.parallelism ?? 1, (spec.completions ?? 1) - this.countsFor(uid).succeeded.size) - stillActive;
        for (let i = 0; i < n; i++) this.createPod(current);
        this.enqueue(uid);
      };
      if (failed > 0 && this.options.backoffMs > 0) this.later(this.options.backoffMs, create);
      else {
        // The sync that follows the pod's creation writes startTime and active together.
        create();
        return;
      }
    }
    this.write(job, status);
  }

  private write(job: Job, status: JobStatus): void {
    for (const k of Object.keys(status) as (keyof JobStatus)[]) if (status[k] === undefined) delete status[k];
    this.store.mutate(jobType, job.metadata.namespace, job.metadata.name!, (o) => (o.status = status), 'status');
  }

  private createPod(job: Job): void {
    const tpl = structuredClone(job.spec.template);
    const pod: Pod = {
      metadata: {
        ...tpl.metadata,
        generateName: `${job.metadata.name}-`,
        namespace: job.metadata.namespace,
        labels: { ...tpl.metadata?.labels },
        ownerReferences: [
          {
            apiVersion: 'batch/v1',
            kind: 'Job',
            name: job.metadata.name!,
            uid: job.metadata.uid!,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: tpl.spec,
    };
    delete pod.metadata.name;
    this.store.create(podType, job.metadata.namespace, pod);
  }

  private scheduleTtl(job: Job): void {
    const ttl = job.spec.ttlSecondsAfterFinished;
    if (ttl === undefined) return;
    this.later(ttl * 1000 * this.options.timeScale, () => {
      const current = this.store.find(jobType, job.metadata.namespace, job.metadata.name!);
      if (current?.metadata.uid === job.metadata.uid)
        deleteWithPropagation(this.store, this.types(), jobType, job.metadata.namespace, job.metadata.name!, 'Background');
    });
  }
}

/**
 * The scheduler and kubelet of a one-node cluster, scriptable.
 *
 * Tests say what a container does with rules matched on image, pod or container (later rules win):
 * run a JS function or a local command that writes log lines and exits with a code, fail to pull
 * its image, be OOMKilled, or never be scheduled. The kubelet then moves the pod through the phases
 * and container states Kubernetes reports (Pending/ContainerCreating → Running → Succeeded/Failed,
 * waiting ErrImagePull → ImagePullBackOff, restarts with CrashLoopBackOff for restartPolicy
 * Always/OnFailure), writing pod status through the store as a real kubelet does through the API.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ContainerLog, LogBook } from './logs.ts';
import { podType } from './resources/index.ts';
import { rfc3339, type Store, type StoreEvent } from './store.ts';
import type { Condition, Container, ContainerState, ContainerStatus, KubeObject, Pod, PodStatus } from './types.ts';

export interface ContainerRun {
  readonly pod: Pod;
  readonly container: Container;
  /** 0 for the first run, then the container's restartCount. */
  readonly attempt: number;
  /** The container's environment (its `env` values; `valueFrom` is not resolved). */
  readonly env: Readonly<Record<string, string>>;
  /** Aborted when the pod is deleted. */
  readonly signal: AbortSignal;
  /** Appends to the container log (split on newlines). */
  log(line: string): void;
  /**
   * Where a path inside the container lives on this machine, through the container's volume
   * mounts: hostPath volumes map to their path, PVCs to the directories given in the simulator's
   * `pvcs` option. Undefined when the path is on no such mount.
   */
  hostPath(containerPath: string): string | undefined;
}

/** An exit code, or an exit code with the reason the kubelet reports (e.g. OOMKilled). */
export type ContainerExit = number | { exitCode: number; reason?: string; message?: string };

export type Behaviour =
  | { readonly kind: 'run'; run(c: ContainerRun): ContainerExit | Promise<ContainerExit> }
  | { readonly kind: 'imagePullBackOff'; readonly message?: string }
  | { readonly kind: 'unschedulable'; readonly message?: string };

export type Match =
  | {
      readonly image?: string | RegExp;
      readonly pod?: string | RegExp;
      readonly container?: string;
      readonly labels?: Readonly<Record<string, string>>;
    }
  | ((pod: Pod, container: Container) => boolean);

const test = (want: string | RegExp | undefined, value: string | undefined): boolean =>
  want === undefined || (typeof want === 'string' ? want === value : value !== undefined && want.test(value));

function matches(m: Match, pod: Pod, c: Container): boolean {
  if (typeof m === 'function') return m(pod, c);
  return (
    test(m.image, c.image) &&
    test(m.pod, pod.metadata.name) &&
    test(m.container, c.name) &&
    Object.entries(m.labels ?? {}).every(([k, v]) => pod.metadata.labels?.[k] === v)
  );
}

/** Waits `ms`, or rejects when the signal aborts. */
function wait(ms: number, signal: AbortSignal): Promise<void> {
  return sleep(ms, undefined, { signal });
}

/** Ready-made behaviours. */
export const behaviours = {
  /** Runs `fn`; its return value is the exit code (a throw is exit 1 with the message logged). */
  fn(run: (c: ContainerRun) => ContainerExit | Promise<ContainerExit>): Behaviour {
    return { kind: 'run', run };
  },
  /** Writes `lines` (one every `intervalMs`) and exits with `exitCode`. */
  logs(lines: readonly string[], exitCode = 0, intervalMs = 0): Behaviour {
    return behaviours.fn(async (c) => {
      for (const l of lines) {
        c.log(l);
        if (intervalMs > 0) await wait(intervalMs, c.signal);
      }
      return exitCode;
    });
  },
  /** Writes `lines`, then is killed for exceeding its memory limit (exit 137, reason OOMKilled). */
  oomKilled(lines: readonly string[] = []): Behaviour {
    return behaviours.fn((c) => {
      for (const l of lines) c.log(l);
      return { exitCode: 137, reason: 'OOMKilled' };
    });
  },
  /** Runs until the pod is deleted (a server), writing `lines` first. */
  forever(lines: readonly string[] = []): Behaviour {
    return behaviours.fn(async (c) => {
      for (const l of lines) c.log(l);
      await new Promise<void>((resolve) => c.signal.addEventListener('abort', () => resolve(), { once: true }));
      return 143;
    });
  },
  /**
   * Runs a local command (no shell) chosen from the pod: stdout and stderr become the log, its exit
   * code the container's. Deleting the pod sends SIGTERM.
   */
  exec(choose: (c: ContainerRun) => { command: string; args?: readonly string[]; cwd?: string; env?: Record<string, string> }): Behaviour {
    return behaviours.fn(
      (c) =>
        new Promise<ContainerExit>((resolve) => {
          const { command, args = [], cwd, env } = choose(c);
          const child = spawn(command, [...args], {
            cwd,
            env: { ...process.env, ...c.env, ...env },
            stdio: ['ignore', 'pipe', 'pipe'],
            shell: false,
          });
          const onAbort = (): void => {
            child.kill('SIGTERM');
          };
          c.signal.addEventListener('abort', onAbort, { once: true });
          let open = 2;
          let code: number | undefined;
          const finish = (): void => {
            if (open === 0 && code !== undefined) {
              c.signal.removeEventListener('abort', onAbort);
              resolve(code);
            }
          };
          for (const stream of [child.stdout, child.stderr]) {
            const rl = createInterface({ input: stream });
            rl.on('line', (l) => c.log(l));
            rl.on('close', () => {
              open--;
              finish();
            });
          }
          child.on('error', (err) => {
            c.log(`exec ${command}: ${err.message}`);
            code = 127;
            open = 0;
            finish();
          });
          child.on('close', (exit, sig) => {
            code = exit ?? 128 + (sig === 'SIGKILL' ? 9 : 15);
            finish();
          });
        }),
    );
  },
  /** The image cannot be pulled: ErrImagePull, then ImagePullBackOff, forever. */
  imagePullBackOff(message?: string): Behaviour {
    return { kind: 'imagePullBackOff', ...(message ? { message } : {}) };
  },
  /** No node fits the pod: PodScheduled=False, reason Unschedulable, forever Pending. */
  unschedulable(
    message = '0/1 nodes are available: 1 Insufficient memory. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.',
  ): Behaviour {
    return { kind: 'unschedulable', message };
  },
};

export interface KubeletTiming {
  /** Between binding a pod and starting its containers (ContainerCreating is visible meanwhile). */
  readonly startDelayMs: number;
  /** Between ErrImagePull and ImagePullBackOff. */
  readonly pullBackoffMs: number;
  /** The CrashLoopBackOff wait before a restart. */
  readonly restartBackoffMs: number;
}

export interface KubeletOptions {
  readonly nodeName: string;
  /** Local directories standing in for persistent volume claims, by claim name. */
  readonly pvcs: Readonly<Record<string, string>>;
  readonly timing: KubeletTiming;
}

interface PodRun {
  readonly abort: AbortController;
  readonly statuses: ContainerStatus[];
  startTime?: string;
  podIP?: string;
  done: boolean;
}

export class Kubelet {
  private readonly rules: { match: Match; behaviour: Behaviour }[] = [];
  private readonly pods = new Map<string, PodRun>();
  private readonly store: Store;
  private readonly logs: LogBook;
  private readonly options: KubeletOptions;
  private unsubscribe: (() => void) | undefined;
  private ipCounter = 10;
  /** Default behaviour when no rule matches: exit 0 for run-to-completion pods, run forever otherwise. */
  fallback: (pod: Pod) => Behaviour = (pod) => (pod.spec.restartPolicy === 'Always' ? behaviours.forever() : behaviours.logs([], 0));

  constructor(store: Store, logs: LogBook, options: KubeletOptions) {
    this.store = store;
    this.logs = logs;
    this.options = options;
  }

  /** Adds a rule; rules added later take precedence. */
  when(match: Match, behaviour: Behaviour): this {
    this.rules.push({ match, behaviour });
    return this;
  }

  /** Removes every rule. */
  reset(): void {
    this.rules.length = 0;
  }

  behaviourFor(pod: Pod, c: Container): Behaviour {
    for (let i = this.rules.length - 1; i >= 0; i--) if (matches(this.rules[i].match, pod, c)) return this.rules[i].behaviour;
    return this.fallback(pod);
  }

  start(): void {
    this.unsubscribe = this.store.subscribe((e) => this.onEvent(e));
  }

  stop(): void {
    this.unsubscribe?.();
    for (const run of this.pods.values()) run.abort.abort();
    this.pods.clear();
  }

  private onEvent(e: StoreEvent): void {
    if (e.resource !== podType) return;
    const uid = e.object.metadata.uid!;
    if (e.type === 'ADDED') {
      const run: PodRun = { abort: new AbortController(), statuses: [], done: false };
      this.pods.set(uid, run);
      setImmediate(() => {
        this.runPod(e.object as Pod, run).catch(() => undefined);
      });
    } else if (e.type === 'DELETED') {
      this.pods.get(uid)?.abort.abort();
      this.pods.delete(uid);
      this.logs.drop(uid);
    }
  }

  private publish(pod: Pod, run: PodRun, extra: Partial<PodStatus> = {}): void {
    if (run.abort.signal.aborted) return;
    const now = rfc3339(this.store.now());
    const statuses = run.statuses;
    const allTerminated = statuses.length > 0 && statuses.every((s) => s.state.terminated);
    const phase: PodStatus['phase'] = run.done
      ? statuses.every((s) => s.state.terminated?.exitCode === 0)
        ? 'Succeeded'
        : 'Failed'
      : statuses.some((s) => s.state.running || s.restartCount > 0 || s.state.terminated)
        ? 'Running'
        : 'Pending';
    const ready = statuses.length > 0 && statuses.every((s) => s.ready);
    const why = run.done ? (phase === 'Succeeded' ? 'PodCompleted' : 'PodFailed') : 'ContainersNotReady';
    const notReady = statuses.filter((s) => !s.ready).map((s) => s.name);
    const readyCondition = (type: string): Condition =>
      ready
        ? { type, status: 'True', lastProbeTime: null, lastTransitionTime: now }
        : {
            type,
            status: 'False',
            lastProbeTime: null,
            lastTransitionTime: now,
            reason: why,
            ...(why === 'ContainersNotReady' ? { message: `containers with unready status: [${notReady.join(' ')}]` } : {}),
          };
    this.store.mutate(
      podType,
      pod.metadata.namespace,
      pod.metadata.name!,
      (o: KubeObject) => {
        const prev = (o as Pod).status ?? {};
        const keep = (c: Condition): Condition => {
          const old = prev.conditions?.find((x) => x.type === c.type);
          return old && old.status === c.status && old.reason === c.reason ? old : c;
        };
        const status: PodStatus = {
          ...prev,
          phase,
          conditions: [
            keep({
              type: 'Initialized',
              status: 'True',
              lastProbeTime: null,
              lastTransitionTime: now,
              ...(allTerminated && run.done ? { reason: 'PodCompleted' } : {}),
            }),
            keep(readyCondition('Ready')),
            keep(readyCondition('ContainersReady')),
            keep({ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: now }),
          ],
          hostIP: '10.244.0.1',
          ...(run.podIP ? { podIP: run.podIP } : {}),
          ...(run.startTime ? { startTime: run.startTime } : {}),
          containerStatuses: structuredClone(statuses),
          ...extra,
        };
        o.status = status;
      },
      'status',
    );
  }

  private async runPod(pod: Pod, run: PodRun): Promise<void> {
    const { signal } = run.abort;
    const containers = pod.spec.containers;
    const chosen = containers.map((c) => this.behaviourFor(pod, c));
    const unschedulable = chosen.find((b) => b.kind === 'unschedulable');
    if (unschedulable) {
      this.store.mutate(
        podType,
        pod.metadata.namespace,
        pod.metadata.name!,
        (o) => {
          o.status = {
            ...(o as Pod).status,
            phase: 'Pending',
            conditions: [
              {
                type: 'PodScheduled',
                status: 'False',
                lastProbeTime: null,
                lastTransitionTime: rfc3339(this.store.now()),
                reason: 'Unschedulable',
                message: unschedulable.message,
              },
            ],
          };
        },
        'status',
      );
      return;
    }
    // Binding (the scheduler's write) then the kubelet's first status.
    this.store.mutate(podType, pod.metadata.namespace, pod.metadata.name!, (o) => {
      (o as Pod).spec.nodeName = this.options.nodeName;
    });
    run.startTime = rfc3339(this.store.now());
    for (const c of containers)
      run.statuses.push({
        name: c.name,
        image: c.image ?? '',
        imageID: '',
        ready: false,
        started: false,
        restartCount: 0,
        state: { waiting: { reason: 'ContainerCreating' } },
        lastState: {},
      });
    this.publish(pod, run);
    await wait(this.options.timing.startDelayMs, signal);
    run.podIP = `10.244.0.${this.ipCounter++ % 250}`;
    await Promise.all(containers.map((c, i) => this.runContainer(pod, run, c, i, chosen[i])));
    if (signal.aborted) return;
    run.done = true;
    this.publish(pod, run);
  }

  private async runContainer(pod: Pod, run: PodRun, c: Container, i: number, behaviour: Behaviour): Promise<void> {
    const { signal } = run.abort;
    const status = run.statuses[i];
    if (behaviour.kind === 'imagePullBackOff') {
      const image = c.image ?? '';
      status.state = {
        waiting: {
          reason: 'ErrImagePull',
          message:
            behaviour.message ??
            `failed to pull and unpack image "${image}": failed to resolve reference "${image}": pull access denied, repository does not exist or may require authorization`,
        },
      };
      this.publish(pod, run);
      await wait(this.options.timing.pullBackoffMs, signal).catch(() => undefined);
      status.state = { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}"` } };
      this.publish(pod, run);
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      return;
    }
    if (behaviour.kind !== 'run') return;
    for (;;) {
      if (signal.aborted) return;
      const started = rfc3339(this.store.now());
      const containerID = `containerd://${pod.metadata.uid!.replace(/-/g, '')}${i}${status.restartCount}`;
      status.state = { running: { startedAt: started } };
      status.ready = true;
      status.started = true;
      status.containerID = containerID;
      status.imageID = `${c.image ?? ''}@sha256:${'0'.repeat(64)}`;
      const log = this.logs.start(pod.metadata.uid!, c.name);
      this.publish(pod, run);
      const exit = await this.execute(pod, c, status.restartCount, log, signal, behaviour);
      log.end();
      if (signal.aborted) return;
      const terminated: ContainerState['terminated'] = {
        exitCode: exit.exitCode,
        reason: exit.reason ?? (exit.exitCode === 0 ? 'Completed' : 'Error'),
        ...(exit.message ? { message: exit.message } : {}),
        startedAt: started,
        finishedAt: rfc3339(this.store.now()),
        containerID,
      } as ContainerState['terminated'];
      status.ready = false;
      status.started = false;
      const policy = pod.spec.restartPolicy ?? 'Always';
      const restart = policy === 'Always' || (policy === 'OnFailure' && exit.exitCode !== 0);
      if (!restart) {
        status.state = { terminated };
        return;
      }
      status.lastState = { terminated };
      status.restartCount++;
      status.state = {
        waiting: {
          reason: 'CrashLoopBackOff',
          message: `back-off 10s restarting failed container=${c.name} pod=${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})`,
        },
      };
      this.publish(pod, run);
      await wait(this.options.timing.restartBackoffMs, signal).catch(() => undefined);
    }
  }

  private async execute(
    pod: Pod,
    c: Container,
    attempt: number,
    log: ContainerLog,
    signal: AbortSignal,
    b: Behaviour & { kind: 'run' },
  ): Promise<{ exitCode: number; reason?: string; message?: string }> {
    const env: Record<string, string> = {};
    for (const e of c.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
    const ctx: ContainerRun = {
      pod,
      container: c,
      attempt,
      env,
      signal,
      log: (line) => log.append(line),
      hostPath: (p) => this.hostPath(pod, c, p),
    };
    try {
      const r = await b.run(ctx);
      return typeof r === 'number' ? { exitCode: r } : r;
    } catch (err) {
      if (signal.aborted) return { exitCode: 143 };
      log.append(`simulator: container behaviour threw: ${err instanceof Error ? err.message : String(err)}`);
      return { exitCode: 1 };
    }
  }

  private hostPath(pod: Pod, c: Container, containerPath: string): string | undefined {
    const p = path.posix.normalize(containerPath);
    const mounts = [...(c.volumeMounts ?? [])].sort((a, b) => b.mountPath.length - a.mountPath.length);
    for (const m of mounts) {
      const rel = path.posix.relative(m.mountPath, p);
      if (rel.startsWith('..') || path.posix.isAbsolute(rel)) continue;
      const v = pod.spec.volumes?.find((x) => x.name === m.name);
      const root = v?.hostPath?.path ?? (v?.persistentVolumeClaim ? this.options.pvcs[v.persistentVolumeClaim.claimName] : undefined);
      if (root === undefined) return undefined;
      return path.join(root, m.subPath ?? '', rel);
    }
    return undefined;
  }
}

/**
 * The scheduler and kubelet of a one-node cluster, scriptable.
 *
 * Tests say what a container does with rules matched on image, pod, container or labels (later
 * rules win): run a JS function or a local command that writes log lines and exits with a code,
 * answer its probes, serve HTTP on its ports, fail to pull its image, be OOMKilled, or never be
 * scheduled. The kubelet then moves the pod through what Kubernetes reports: Pending
 * (ContainerCreating, PodInitializing while init containers run) → Running → Succeeded/Failed;
 * init containers one by one (Init:Error / Init:CrashLoopBackOff as kubectl shows them); readiness,
 * liveness and startup probes on their schedule; restarts with CrashLoopBackOff; waiting
 * ErrImagePull → ImagePullBackOff; CreateContainerConfigError for a missing Secret; graceful
 * termination when a pod is deleted. It writes pod status through the store as a real kubelet does
 * through the API, and Events as a real kubelet records them.
 */
import { createServer, get, type RequestListener, type Server } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  behaviours,
  probeFailure,
  type Behaviour,
  type ContainerExit,
  type ContainerRun,
  type ProbeKind,
  type ProbeResult,
} from './behaviours.ts';
import type { EventRecorder } from './controllers/events.ts';
import type { ContainerLog, LogBook } from './logs.ts';
import { podType, type ResourceType } from './resources/index.ts';
import { rfc3339, type Store, type StoreEvent } from './store.ts';
import type { Condition, Container, ContainerState, ContainerStatus, KubeObject, Pod, PodStatus, Probe } from './types.ts';
import { PodVolumes, resolveEnv } from './volumes.ts';

export { behaviours, probeFailure } from './behaviours.ts';
export type { Behaviour, ContainerExit, ContainerRun, ProbeAnswer, ProbeContext, ProbeKind, ProbeResult } from './behaviours.ts';

export type Match =
  | {
      readonly image?: string | RegExp;
      readonly pod?: string | RegExp;
      readonly container?: string;
      readonly labels?: Readonly<Record<string, string>>;
      readonly namespace?: string;
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
    test(m.namespace, pod.metadata.namespace) &&
    Object.entries(m.labels ?? {}).every(([k, v]) => pod.metadata.labels?.[k] === v)
  );
}

/** Waits `ms`, or rejects when the signal aborts. */
function wait(ms: number, signal: AbortSignal): Promise<void> {
  return sleep(ms, undefined, { signal });
}

const quietly = (p: Promise<unknown>): Promise<void> =>
  p.then(
    () => undefined,
    () => undefined,
  );

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export interface KubeletTiming {
  /** Between binding a pod and starting its containers (ContainerCreating is visible meanwhile). */
  readonly startDelayMs: number;
  /** Between ErrImagePull and ImagePullBackOff, and between retries of a failed mount. */
  readonly pullBackoffMs: number;
  /** The CrashLoopBackOff wait before the first restart (the kubelet's 10 s); it doubles per restart up to 30× (5 min). */
  readonly restartBackoffMs: number;
  /** Multiplies probe seconds (initialDelaySeconds, periodSeconds, timeoutSeconds) and grace periods; 1 = real seconds. */
  readonly timeScale: number;
  /** The least time between stopping a deleted pod's containers and its removal (Terminating is visible meanwhile). */
  readonly shutdownMs: number;
}

export interface KubeletOptions {
  readonly nodeName: string;
  /** Local directories standing in for persistent volume claims, by claim name. */
  readonly pvcs: Readonly<Record<string, string>>;
  readonly timing: KubeletTiming;
  /** The kinds served (Secrets and ConfigMaps are looked up for env and volumes). */
  readonly types: () => readonly ResourceType[];
  readonly events?: EventRecorder;
}

/** A rule that can be taken back (a fault switched off). */
export interface Rule {
  remove(): void;
}

interface RunningContainer {
  readonly spec: Container;
  readonly init: boolean;
  readonly status: ContainerStatus;
  /** containerPort → local port, and port names → containerPort. */
  readonly ports: Map<number, number>;
  readonly portNames: Map<string, number>;
  /** Container ports served for real (by `serve` or a process). */
  readonly live: Set<number>;
  readonly servers: Server[];
  stop?: AbortController;
  startedAt: number;
  killedByProbe?: ProbeKind;
  /** The last run's exit, shown in lastState once the container restarts. */
  lastExit?: ContainerState['terminated'];
  /** The current restart back-off in (real) seconds; undefined until the first restart. */
  backoff?: number;
}

interface PodRun {
  readonly uid: string;
  readonly ns: string;
  readonly name: string;
  pod: Pod;
  readonly abort: AbortController;
  readonly init: RunningContainer[];
  readonly main: RunningContainer[];
  readonly volumes: PodVolumes;
  initDone: boolean;
  failedInit: boolean;
  sandbox: boolean;
  done: boolean;
  terminating: boolean;
  deleted: boolean;
  startTime?: string;
  podIP?: string;
  finished?: Promise<void>;
}

function containerRef(c: RunningContainer): string {
  return `${c.init ? 'spec.initContainers' : 'spec.containers'}{${c.spec.name}}`;
}

export class Kubelet {
  private readonly rules: { match: Match; behaviour: Behaviour }[] = [];
  private readonly pods = new Map<string, PodRun>();
  private readonly store: Store;
  private readonly logs: LogBook;
  private readonly options: KubeletOptions;
  private unsubscribe: (() => void) | undefined;
  /** Pod IPs in use (10.244.x.y), handed out in turn (skipping those in use) and released when the pod goes. */
  private readonly ips = new Set<string>();
  private nextIp = 0;

  private allocateIp(): string {
    for (let i = 0; i < 64_000; i++) {
      const n = (this.nextIp + i) % 64_000;
      const ip = `10.244.${Math.floor(n / 250)}.${(n % 250) + 2}`;
      if (!this.ips.has(ip)) {
        this.ips.add(ip);
        this.nextIp = n + 1;
        return ip;
      }
    }
    throw new Error('k8s-sim: no pod IP left');
  }
  /**
   * Default behaviour when no rule matches: init containers and run-to-completion pods exit 0,
   * `restartPolicy: Always` pods run forever (a server whose probes pass).
   */
  fallback: (pod: Pod, container: Container, init: boolean) => Behaviour = (pod, _c, init) =>
    !init && (pod.spec.restartPolicy ?? 'Always') === 'Always' ? behaviours.forever() : behaviours.logs([], 0);

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

  /** Adds a rule and returns a handle that removes it (pods started meanwhile keep what they chose per run). */
  rule(match: Match, behaviour: Behaviour): Rule {
    const r = { match, behaviour };
    this.rules.push(r);
    return {
      remove: () => {
        const i = this.rules.indexOf(r);
        if (i >= 0) this.rules.splice(i, 1);
      },
    };
  }

  /** Removes every rule. */
  reset(): void {
    this.rules.length = 0;
  }

  behaviourFor(pod: Pod, c: Container, init = false): Behaviour {
    for (let i = this.rules.length - 1; i >= 0; i--) if (matches(this.rules[i].match, pod, c)) return this.rules[i].behaviour;
    return this.fallback(pod, c, init);
  }

  /**
   * The local port (127.0.0.1) standing in for a pod's container port, by number or name, while
   * the container runs; undefined otherwise. This is what the API server's pod proxy connects to.
   */
  hostPort(namespace: string, pod: string, port: number | string, container?: string): number | undefined {
    for (const run of this.pods.values()) {
      if (run.ns !== namespace || run.name !== pod) continue;
      for (const c of run.main) {
        if (container && c.spec.name !== container) continue;
        const n = typeof port === 'number' ? port : c.portNames.get(port);
        const local = n === undefined ? undefined : c.ports.get(n);
        if (local !== undefined && c.status.state.running) return local;
      }
    }
    return undefined;
  }

  start(): void {
    this.unsubscribe = this.store.subscribe((e) => this.onEvent(e));
  }

  stop(): void {
    this.unsubscribe?.();
    for (const run of this.pods.values()) {
      run.deleted = true;
      run.abort.abort();
      void this.cleanup(run);
    }
    this.pods.clear();
  }

  private get scale(): number {
    return this.options.timing.timeScale;
  }

  private scaled(seconds: number, floor = 1): number {
    return Math.max(floor, seconds * 1000 * this.scale);
  }

  private event(run: PodRun, type: 'Normal' | 'Warning', reason: string, message: string, c?: RunningContainer): void {
    const ev = this.options.events;
    if (!ev || run.deleted) return;
    const pod = this.store.find(podType, run.ns, run.name);
    if (!pod || pod.metadata.uid !== run.uid) return;
    ev.record({ component: 'kubelet', host: this.options.nodeName }, pod, type, reason, message, c ? containerRef(c) : undefined);
  }

  private onEvent(e: StoreEvent): void {
    if (e.resource !== podType) return;
    const uid = e.object.metadata.uid!;
    if (e.type === 'ADDED') {
      const pod = e.object as Pod;
      const status = (c: Container, waiting: string): ContainerStatus => ({
        name: c.name,
        image: c.image ?? '',
        imageID: '',
        ready: false,
        started: false,
        restartCount: 0,
        state: { waiting: { reason: waiting } },
        lastState: {},
      });
      const hasInit = (pod.spec.initContainers ?? []).length > 0;
      const mk = (c: Container, init: boolean): RunningContainer => ({
        spec: c,
        init,
        status: status(c, init || hasInit ? 'PodInitializing' : 'ContainerCreating'),
        ports: new Map(),
        portNames: new Map(),
        live: new Set(),
        servers: [],
        startedAt: 0,
      });
      const run: PodRun = {
        uid,
        ns: pod.metadata.namespace ?? 'default',
        name: pod.metadata.name!,
        pod,
        abort: new AbortController(),
        init: (pod.spec.initContainers ?? []).map((c) => mk(c, true)),
        main: pod.spec.containers.map((c) => mk(c, false)),
        volumes: new PodVolumes(),
        initDone: !hasInit,
        failedInit: false,
        sandbox: false,
        done: false,
        terminating: false,
        deleted: false,
      };
      this.pods.set(uid, run);
      setImmediate(() => {
        run.finished = this.runPod(run).catch(() => undefined);
      });
    } else if (e.type === 'MODIFIED') {
      const run = this.pods.get(uid);
      if (!run) return;
      run.pod = e.object as Pod;
      if (e.object.metadata.deletionTimestamp && !run.terminating) void this.terminate(run);
    } else if (e.type === 'DELETED') {
      const run = this.pods.get(uid);
      if (run) {
        run.deleted = true;
        run.abort.abort();
        void this.cleanup(run);
      }
      this.pods.delete(uid);
      this.logs.drop(uid);
    }
  }

  /** Graceful deletion: SIGTERM every container, wait for them (at most the grace period), remove the pod. */
  private async terminate(run: PodRun): Promise<void> {
    run.terminating = true;
    const graceSeconds = run.pod.metadata.deletionGracePeriodSeconds ?? run.pod.spec.terminationGracePeriodSeconds ?? 30;
    for (const c of [...run.init, ...run.main])
      if (c.status.state.running) this.event(run, 'Normal', 'Killing', `Stopping container ${c.spec.name}`, c);
    run.abort.abort();
    const cancel = new AbortController();
    const grace = quietly(sleep(this.scaled(graceSeconds, 0), undefined, { signal: cancel.signal }));
    await Promise.race([Promise.all([run.finished ?? Promise.resolve(), sleep(this.options.timing.shutdownMs)]), grace]);
    cancel.abort();
    const current = this.store.find(podType, run.ns, run.name);
    if (current?.metadata.uid === run.uid) this.store.remove(podType, run.ns, run.name);
  }

  private async cleanup(run: PodRun): Promise<void> {
    if (run.podIP) this.ips.delete(run.podIP);
    for (const c of [...run.init, ...run.main]) for (const s of c.servers.splice(0)) s.close();
    await run.volumes.cleanup().catch(() => undefined);
  }

  private publish(run: PodRun, extra: Partial<PodStatus> = {}): void {
    if (run.deleted) return;
    const current = this.store.find(podType, run.ns, run.name);
    if (!current || current.metadata.uid !== run.uid) return;
    const now = rfc3339(this.store.now());
    const main = run.main.map((c) => c.status);
    const policy = run.pod.spec.restartPolicy ?? 'Always';
    const allExited = main.length > 0 && main.every((s) => s.state.terminated);
    const finished =
      run.done ||
      (run.initDone &&
        allExited &&
        (policy === 'Never' || (policy === 'OnFailure' && main.every((s) => s.state.terminated?.exitCode === 0))));
    const phase: PodStatus['phase'] = run.failedInit
      ? 'Failed'
      : !run.initDone
        ? 'Pending'
        : finished
          ? main.every((s) => s.state.terminated?.exitCode === 0)
            ? 'Succeeded'
            : 'Failed'
          : main.some((s) => s.state.running || s.restartCount > 0 || s.state.terminated)
            ? 'Running'
            : 'Pending';
    const ready = run.initDone && main.length > 0 && main.every((s) => s.ready);
    const why = finished || run.failedInit ? (phase === 'Succeeded' ? 'PodCompleted' : 'PodFailed') : 'ContainersNotReady';
    const notReady = main.filter((s) => !s.ready).map((s) => s.name);
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
    const incomplete = run.init.filter((c) => c.status.state.terminated?.exitCode !== 0).map((c) => c.spec.name);
    const initialized: Condition = run.initDone
      ? {
          type: 'Initialized',
          status: 'True',
          lastProbeTime: null,
          lastTransitionTime: now,
          ...(finished && allExited && run.init.length === 0 ? { reason: 'PodCompleted' } : {}),
        }
      : {
          type: 'Initialized',
          status: 'False',
          lastProbeTime: null,
          lastTransitionTime: now,
          reason: 'ContainersNotInitialized',
          message: `containers with incomplete status: [${incomplete.join(' ')}]`,
        };
    this.store.mutate(
      podType,
      run.ns,
      run.name,
      (o: KubeObject) => {
        const prev = (o as Pod).status ?? {};
        const keep = (c: Condition): Condition => {
          const old = prev.conditions?.find((x) => x.type === c.type);
          return old && old.status === c.status && old.reason === c.reason && old.message === c.message ? old : c;
        };
        const status: PodStatus = {
          ...prev,
          phase,
          conditions: [
            keep({
              type: 'PodReadyToStartContainers',
              status: run.sandbox ? 'True' : 'False',
              lastProbeTime: null,
              lastTransitionTime: now,
            }),
            keep(initialized),
            keep(readyCondition('Ready')),
            keep(readyCondition('ContainersReady')),
            keep({ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: now }),
          ],
          hostIP: '10.244.0.1',
          ...(run.podIP ? { podIP: run.podIP, podIPs: [{ ip: run.podIP }] } : {}),
          ...(run.startTime ? { startTime: run.startTime } : {}),
          ...(run.init.length > 0 ? { initContainerStatuses: structuredClone(run.init.map((c) => c.status)) } : {}),
          containerStatuses: structuredClone(main),
          ...extra,
        };
        o.status = status;
      },
      'status',
      { manager: 'kubelet', subresource: 'status' },
    );
  }

  private async runPod(run: PodRun): Promise<void> {
    const { signal } = run.abort;
    const pod = run.pod;
    const chosen = pod.spec.containers.map((c) => this.behaviourFor(pod, c));
    const unschedulable = chosen.find((b) => b.kind === 'unschedulable');
    if (unschedulable) {
      this.store.mutate(
        podType,
        run.ns,
        run.name,
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
      const p = this.store.find(podType, run.ns, run.name);
      if (p)
        this.options.events?.record(
          { component: 'default-scheduler' },
          p,
          'Warning',
          'FailedScheduling',
          unschedulable.message ?? 'unschedulable',
        );
      return;
    }
    // Binding (the scheduler's write) then the kubelet's first status.
    this.store.mutate(podType, run.ns, run.name, (o) => {
      (o as Pod).spec.nodeName = this.options.nodeName;
    });
    const bound = this.store.find(podType, run.ns, run.name);
    if (bound)
      this.options.events?.record(
        { component: 'default-scheduler' },
        bound,
        'Normal',
        'Scheduled',
        `Successfully assigned ${run.ns}/${run.name} to ${this.options.nodeName}`,
      );
    run.startTime = rfc3339(this.store.now());
    this.publish(run);
    for (;;) {
      const problem = await run.volumes.prepare(this.store, this.options.types(), run.pod);
      if (!problem) break;
      this.event(run, 'Warning', 'FailedMount', problem);
      await wait(this.options.timing.pullBackoffMs, signal);
    }
    await wait(this.options.timing.startDelayMs, signal);
    run.podIP = this.allocateIp();
    run.sandbox = true;
    for (const c of run.init) {
      const ok = await this.runContainer(run, c);
      if (!ok) return;
    }
    if (run.init.length > 0) {
      run.initDone = true;
      for (const c of run.main) c.status.state = { waiting: { reason: 'ContainerCreating' } };
    }
    this.publish(run);
    await Promise.all(run.main.map((c) => this.runContainer(run, c)));
    if (signal.aborted) return;
    run.done = true;
    this.publish(run);
  }

  /** Allocates the local ports of a container's declared ports and probe ports. */
  private async allocatePorts(c: RunningContainer): Promise<void> {
    const wanted = new Set<number>();
    for (const p of c.spec.ports ?? []) {
      wanted.add(p.containerPort);
      if (p.name) c.portNames.set(p.name, p.containerPort);
    }
    for (const probe of [c.spec.readinessProbe, c.spec.livenessProbe, c.spec.startupProbe]) {
      const port = probe?.httpGet?.port ?? probe?.tcpSocket?.port;
      if (typeof port === 'number') wanted.add(port);
    }
    for (const n of wanted) if (!c.ports.has(n)) c.ports.set(n, await freePort());
  }

  private resolvePort(c: RunningContainer, port: number | string): number {
    const n = typeof port === 'number' ? port : c.portNames.get(port);
    const local = n === undefined ? undefined : c.ports.get(n);
    if (local === undefined)
      throw new Error(`k8s-sim: container ${c.spec.name} declares no port ${String(port)} (declare it in ports, or probe it)`);
    return local;
  }

  /**
   * Runs a container until it completes for good (true), the pod fails (false) or stops (false),
   * restarting it as the restart policy says.
   */
  private async runContainer(run: PodRun, c: RunningContainer): Promise<boolean> {
    const { signal } = run.abort;
    const status = c.status;
    const policy = run.pod.spec.restartPolicy ?? 'Always';
    const image = c.spec.image ?? '';
    for (;;) {
      if (signal.aborted) return false;
      const behaviour = this.behaviourFor(run.pod, c.spec, c.init);
      if (behaviour.kind === 'imagePullBackOff') {
        const message =
          behaviour.message ??
          `failed to pull and unpack image "${image}": failed to resolve reference "${image}": pull access denied, repository does not exist or may require authorization`;
        status.state = { waiting: { reason: 'ErrImagePull', message } };
        this.event(run, 'Normal', 'Pulling', `Pulling image "${image}"`, c);
        this.event(run, 'Warning', 'Failed', `Failed to pull image "${image}": ${message}`, c);
        this.event(run, 'Warning', 'Failed', 'Error: ErrImagePull', c);
        this.publish(run);
        await quietly(wait(this.options.timing.pullBackoffMs, signal));
        if (signal.aborted) return false;
        status.state = { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}"` } };
        this.event(run, 'Normal', 'BackOff', `Back-off pulling image "${image}"`, c);
        this.event(run, 'Warning', 'Failed', 'Error: ImagePullBackOff', c);
        this.publish(run);
        while (!signal.aborted && this.behaviourFor(run.pod, c.spec, c.init).kind === 'imagePullBackOff')
          await quietly(wait(this.options.timing.pullBackoffMs, signal));
        continue;
      }
      const b = behaviour.kind === 'run' ? behaviour : this.fallback(run.pod, c.spec, c.init);
      if (b.kind !== 'run') return false;
      const resolved = resolveEnv(this.store, this.options.types(), run.pod, c.spec);
      if ('error' in resolved) {
        status.state = { waiting: { reason: 'CreateContainerConfigError', message: resolved.error } };
        this.event(run, 'Warning', 'Failed', `Error: ${resolved.error}`, c);
        this.publish(run);
        await quietly(wait(this.options.timing.restartBackoffMs, signal));
        continue;
      }
      await this.allocatePorts(c);
      if (signal.aborted) return false;
      const stop = new AbortController();
      const onPodStop = (): void => stop.abort();
      signal.addEventListener('abort', onPodStop, { once: true });
      c.stop = stop;
      c.killedByProbe = undefined;
      if (b.process) for (const n of c.ports.keys()) c.live.add(n);
      const started = rfc3339(this.store.now());
      c.startedAt = Date.now();
      if (c.lastExit) {
        status.lastState = { terminated: c.lastExit };
        status.restartCount++;
        c.lastExit = undefined;
      }
      const containerID = `containerd://${run.uid.replace(/-/g, '')}${c.init ? 'i' : 'c'}${c.spec.name.length}${status.restartCount}`;
      const probed = !c.init && (c.spec.readinessProbe || c.spec.startupProbe);
      status.state = { running: { startedAt: started } };
      status.ready = !c.init && !probed;
      status.started = !c.init && !c.spec.startupProbe;
      status.containerID = containerID;
      status.imageID = `${image.split('@')[0]}@sha256:${'0'.repeat(64)}`;
      if (status.restartCount === 0) this.event(run, 'Normal', 'Pulled', `Container image "${image}" already present on machine`, c);
      this.event(run, 'Normal', 'Created', `Created container: ${c.spec.name}`, c);
      this.event(run, 'Normal', 'Started', `Started container ${c.spec.name}`, c);
      const log = this.logs.start(run.uid, c.spec.name, containerID);
      this.publish(run);
      const probing = c.init ? Promise.resolve() : this.probe(run, c, b, stop.signal);
      const graceSeconds = run.pod.spec.terminationGracePeriodSeconds ?? 30;
      const exit = await this.execute(run, c, status.restartCount, log, stop.signal, b, resolved.env, this.scaled(graceSeconds, 10));
      signal.removeEventListener('abort', onPodStop);
      stop.abort();
      await probing;
      log.end();
      for (const s of c.servers.splice(0)) s.close();
      c.live.clear();
      const terminated: ContainerState['terminated'] = {
        exitCode: exit.exitCode,
        reason: exit.reason ?? (exit.exitCode === 0 ? 'Completed' : 'Error'),
        ...(exit.message ? { message: exit.message } : {}),
        startedAt: started,
        finishedAt: rfc3339(this.store.now()),
        containerID,
      } as ContainerState['terminated'];
      status.ready = c.init && exit.exitCode === 0;
      status.started = false;
      if (signal.aborted) {
        status.state = { terminated };
        this.publish(run);
        return false;
      }
      const failed = exit.exitCode !== 0 || c.killedByProbe !== undefined;
      if (c.init && !failed) {
        status.state = { terminated };
        this.publish(run);
        return true;
      }
      const restart = c.init ? policy !== 'Never' : policy === 'Always' || (policy === 'OnFailure' && failed);
      if (!restart) {
        status.state = { terminated };
        if (c.init) run.failedInit = true;
        this.publish(run);
        return !c.init;
      }
      // Exited (kubectl: Error / Completed) until the kubelet restarts it: the first restart at
      // once, the next ones after a back-off of 10 s doubling up to 5 min (restartBackoffMs
      // stands for the 10 s), reset after 10 min of running.
      status.state = { terminated };
      this.publish(run);
      c.lastExit = terminated;
      const unit = this.options.timing.restartBackoffMs;
      if (c.backoff !== undefined && Date.now() - c.startedAt > unit * 60) c.backoff = undefined;
      if (c.backoff === undefined) {
        c.backoff = 10;
        continue;
      }
      const shown = c.backoff;
      const backoff = shown >= 60 ? `${Math.floor(shown / 60)}m${shown % 60}s` : `${shown}s`;
      status.lastState = { terminated };
      status.state = {
        waiting: {
          reason: 'CrashLoopBackOff',
          message: `back-off ${backoff} restarting failed container=${c.spec.name} pod=${run.name}_${run.ns}(${run.uid})`,
        },
      };
      this.event(
        run,
        'Warning',
        'BackOff',
        `Back-off restarting failed container ${c.spec.name} in pod ${run.name}_${run.ns}(${run.uid})`,
        c,
      );
      this.publish(run);
      await quietly(wait((unit * shown) / 10, signal));
      c.backoff = Math.min(shown * 2, 300);
    }
  }

  private async execute(
    run: PodRun,
    c: RunningContainer,
    attempt: number,
    log: ContainerLog,
    signal: AbortSignal,
    b: Behaviour & { kind: 'run' },
    env: Record<string, string>,
    graceMs: number,
  ): Promise<{ exitCode: number; reason?: string; message?: string }> {
    const ctx: ContainerRun = {
      pod: run.pod,
      container: c.spec,
      attempt,
      init: c.init,
      env,
      signal,
      graceMs,
      podIP: run.podIP ?? '',
      log: (line) => log.append(line),
      hostPath: (p) => this.hostPath(run, c.spec, p),
      port: (p) => this.resolvePort(c, p),
      serve: (p, handler) => this.serve(c, p, handler),
    };
    const settle = async (): Promise<{ exitCode: number; reason?: string; message?: string }> => {
      try {
        const r: ContainerExit = await b.run(ctx);
        return typeof r === 'number' ? { exitCode: r } : r;
      } catch (err) {
        if (signal.aborted) return { exitCode: 143 };
        log.append(`simulator: container behaviour threw: ${err instanceof Error ? err.message : String(err)}`);
        return { exitCode: 1 };
      }
    };
    const running = settle();
    // A stopped container that does not exit within its grace period is killed (SIGKILL: 137).
    const killed = new Promise<{ exitCode: number }>((resolve) => {
      const onStop = (): void => {
        const t = setTimeout(() => resolve({ exitCode: 137 }), graceMs);
        void running.finally(() => clearTimeout(t));
      };
      if (signal.aborted) onStop();
      else signal.addEventListener('abort', onStop, { once: true });
    });
    return Promise.race([running, killed]);
  }

  private async serve(c: RunningContainer, port: number | string, handler: RequestListener): Promise<void> {
    const n = typeof port === 'number' ? port : c.portNames.get(port);
    if (n === undefined) throw new Error(`k8s-sim: container ${c.spec.name} has no port named ${port}`);
    if (!c.ports.has(n)) c.ports.set(n, await freePort());
    const server = createServer(handler);
    const listen = (p: number): Promise<void> =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(p, '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      });
    await listen(c.ports.get(n)!).catch(async () => {
      await listen(0);
      c.ports.set(n, (server.address() as AddressInfo).port);
    });
    c.servers.push(server);
    c.live.add(n);
  }

  /** The probe workers of one container run: startup first, then readiness and liveness. */
  private async probe(run: PodRun, c: RunningContainer, b: Behaviour & { kind: 'run' }, signal: AbortSignal): Promise<void> {
    const spec = c.spec;
    const status = c.status;
    const once = async (kind: ProbeKind, probe: Probe, count: number): Promise<{ ok: boolean; message: string }> => {
      // Probes follow the rules as they are now (a fault switched off heals running containers).
      const current = this.behaviourFor(run.pod, spec, false);
      const answer = (current.kind === 'run' ? current : b).probes?.[kind];
      const port = probe.httpGet?.port ?? probe.tcpSocket?.port;
      const n = port === undefined ? undefined : typeof port === 'number' ? port : c.portNames.get(port);
      let r: ProbeResult;
      if (answer)
        r = await answer({
          pod: run.pod,
          container: spec,
          probe,
          attempt: status.restartCount,
          sinceStartMs: Date.now() - c.startedAt,
          count,
        });
      else if (n !== undefined && c.live.has(n)) return this.realProbe(run, probe, n, c.ports.get(n)!);
      else r = true;
      if (typeof r === 'boolean') return { ok: r, message: r ? '' : probeFailure(probe, run.podIP ?? '') };
      return { ok: r.ok, message: r.message ?? (r.ok ? '' : probeFailure(probe, run.podIP ?? '')) };
    };
    const pause = (ms: number): Promise<boolean> =>
      wait(ms, signal).then(
        () => true,
        () => false,
      );
    const period = (p: Probe): number => this.scaled(p.periodSeconds ?? 10, 5);
    const kill = (kind: ProbeKind): void => {
      c.killedByProbe = kind;
      this.event(run, 'Normal', 'Killing', `Container ${spec.name} failed ${kind} probe, will be restarted`, c);
      c.stop?.abort();
    };
    if (spec.startupProbe) {
      const p = spec.startupProbe;
      if (!(await pause(this.scaled(p.initialDelaySeconds ?? 0, 0)))) return;
      let failures = 0;
      for (let count = 1; ; count++) {
        const r = await once('startup', p, count);
        if (signal.aborted) return;
        if (r.ok) break;
        failures++;
        this.event(run, 'Warning', 'Unhealthy', `Startup probe failed: ${r.message}`, c);
        if (failures >= (p.failureThreshold ?? 3)) return kill('startup');
        if (!(await pause(period(p)))) return;
      }
      status.started = true;
      if (!spec.readinessProbe) status.ready = true;
      this.publish(run);
    }
    const readiness = async (): Promise<void> => {
      const p = spec.readinessProbe;
      if (!p) return;
      if (!(await pause(this.scaled(p.initialDelaySeconds ?? 0, 0)))) return;
      let ok = 0;
      let bad = 0;
      for (let count = 1; ; count++) {
        const r = await once('readiness', p, count);
        if (signal.aborted) return;
        if (r.ok) {
          ok++;
          bad = 0;
          if (!status.ready && ok >= (p.successThreshold ?? 1)) {
            status.ready = true;
            this.publish(run);
          }
        } else {
          bad++;
          ok = 0;
          this.event(run, 'Warning', 'Unhealthy', `Readiness probe failed: ${r.message}`, c);
          if (status.ready && bad >= (p.failureThreshold ?? 3)) {
            status.ready = false;
            this.publish(run);
          }
        }
        if (!(await pause(period(p)))) return;
      }
    };
    const liveness = async (): Promise<void> => {
      const p = spec.livenessProbe;
      if (!p) return;
      if (!(await pause(this.scaled(p.initialDelaySeconds ?? 0, 0)))) return;
      let bad = 0;
      for (let count = 1; ; count++) {
        const r = await once('liveness', p, count);
        if (signal.aborted) return;
        if (r.ok) bad = 0;
        else {
          bad++;
          this.event(run, 'Warning', 'Unhealthy', `Liveness probe failed: ${r.message}`, c);
          if (bad >= (p.failureThreshold ?? 3)) return kill('liveness');
        }
        if (!(await pause(period(p)))) return;
      }
    };
    await Promise.all([readiness(), liveness()]);
  }

  /** An httpGet or tcpSocket probe against the local port that stands in for the container port. */
  private realProbe(run: PodRun, probe: Probe, containerPort: number, local: number): Promise<{ ok: boolean; message: string }> {
    const ip = run.podIP ?? '';
    const timeout = Math.max(500, this.scaled(probe.timeoutSeconds ?? 1));
    if (probe.tcpSocket)
      return new Promise((resolve) => {
        const s = connect({ host: '127.0.0.1', port: local, timeout });
        s.once('connect', () => {
          s.destroy();
          resolve({ ok: true, message: '' });
        });
        s.once('timeout', () => {
          s.destroy();
          resolve({ ok: false, message: `dial tcp ${ip}:${containerPort}: i/o timeout` });
        });
        s.once('error', () => resolve({ ok: false, message: `dial tcp ${ip}:${containerPort}: connect: connection refused` }));
      });
    const target = probe.httpGet?.path ?? '/';
    const url = `http://${ip}:${containerPort}${target}`;
    return new Promise((resolve) => {
      const req = get(
        { host: '127.0.0.1', port: local, path: target, timeout, headers: { 'User-Agent': 'kube-probe/1.31', Accept: '*/*' } },
        (res) => {
          res.resume();
          const code = res.statusCode ?? 0;
          resolve(
            code >= 200 && code < 400 ? { ok: true, message: '' } : { ok: false, message: `HTTP probe failed with statuscode: ${code}` },
          );
        },
      );
      req.once('timeout', () => {
        req.destroy();
        resolve({ ok: false, message: `Get "${url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)` });
      });
      req.once('error', () =>
        resolve({ ok: false, message: `Get "${url}": dial tcp ${ip}:${containerPort}: connect: connection refused` }),
      );
    });
  }

  private hostPath(run: PodRun, c: Container, containerPath: string): string | undefined {
    const p = path.posix.normalize(containerPath);
    const mounts = [...(c.volumeMounts ?? [])].sort((a, b) => b.mountPath.length - a.mountPath.length);
    for (const m of mounts) {
      const rel = path.posix.relative(m.mountPath, p);
      if (rel.startsWith('..') || path.posix.isAbsolute(rel)) continue;
      const v = run.pod.spec.volumes?.find((x) => x.name === m.name);
      const root =
        v?.hostPath?.path ??
        (v?.persistentVolumeClaim ? this.options.pvcs[v.persistentVolumeClaim.claimName] : undefined) ??
        (v ? run.volumes.dirs.get(v.name) : undefined);
      if (root === undefined) return undefined;
      return path.join(root, m.subPath ?? '', rel);
    }
    return undefined;
  }
}

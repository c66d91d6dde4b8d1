/**
 * What a simulated container does: a JS function or a local process that writes log lines and
 * exits with a code, how it answers its probes, or an image that cannot be pulled, or a pod that
 * cannot be scheduled. Tests pick behaviours with rules on the kubelet (`sim.kubelet.when`).
 */
import { spawn } from 'node:child_process';
import type { RequestListener } from 'node:http';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Container, Pod, Probe } from './types.ts';

export interface ContainerRun {
  readonly pod: Pod;
  readonly container: Container;
  /** 0 for the first run, then the container's restartCount. */
  readonly attempt: number;
  /** True for an init container. */
  readonly init: boolean;
  /** The container's environment: `env` values, `valueFrom` (secrets, fieldRef) and `envFrom` resolved. */
  readonly env: Readonly<Record<string, string>>;
  /** Aborted when the container is stopped: pod deletion (SIGTERM) or a failed liveness probe. */
  readonly signal: AbortSignal;
  /** The termination grace period (scaled by timeScale): how long a stop may take before SIGKILL. */
  readonly graceMs: number;
  /** The pod's IP as the API shows it (10.244.0.x; not reachable: use `port()` for real traffic). */
  readonly podIP: string;
  /** Appends to the container log (split on newlines). */
  log(line: string): void;
  /**
   * Where a path inside the container lives on this machine, through the container's volume
   * mounts: hostPath volumes map to their path, PVCs to the directories given in the simulator's
   * `pvcs` option, emptyDir/secret/configMap volumes to a directory the kubelet made for the pod.
   * Undefined when the path is on no such mount.
   */
  hostPath(containerPath: string): string | undefined;
  /**
   * The local port (on 127.0.0.1) standing in for a container port, by number or by name: a
   * process the container runs listens there; httpGet/tcpSocket probes and the API server's pod
   * and service proxy connect there. Every declared container port and probe port has one.
   */
  port(containerPort: number | string): number;
  /** Serves HTTP on a container port from this process (closed when the container stops). */
  serve(containerPort: number | string, handler: RequestListener): Promise<void>;
}

/** An exit code, or an exit code with the reason the kubelet reports (e.g. OOMKilled). */
export type ContainerExit = number | { exitCode: number; reason?: string; message?: string };

export type ProbeKind = 'readiness' | 'liveness' | 'startup';

export interface ProbeContext {
  readonly pod: Pod;
  readonly container: Container;
  readonly probe: Probe;
  /** The container's restart count. */
  readonly attempt: number;
  /** Milliseconds since the container started. */
  readonly sinceStartMs: number;
  /** 1 for the first probe of this kind in this container run. */
  readonly count: number;
}

/** A probe's outcome: true passes; a message says why it failed (the kubelet's Unhealthy event). */
export type ProbeResult = boolean | { readonly ok: boolean; readonly message?: string };
export type ProbeAnswer = (c: ProbeContext) => ProbeResult | Promise<ProbeResult>;

export type Behaviour =
  | {
      readonly kind: 'run';
      run(c: ContainerRun): ContainerExit | Promise<ContainerExit>;
      /**
       * How probes are answered. A missing answer passes, unless the container serves the probed
       * port for real (`serve`, `exec`): then the kubelet really connects.
       */
      readonly probes?: Partial<Record<ProbeKind, ProbeAnswer>>;
      /** A local process serves the container's ports: probes without an answer connect for real. */
      readonly process?: boolean;
    }
  | { readonly kind: 'imagePullBackOff'; readonly message?: string }
  | { readonly kind: 'unschedulable'; readonly message?: string };

/** Waits `ms`, or rejects when the signal aborts. */
function wait(ms: number, signal: AbortSignal): Promise<void> {
  return sleep(ms, undefined, { signal });
}

function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/** What a failing probe of this shape says, as the kubelet words it. */
export function probeFailure(probe: Probe, podIP: string): string {
  if (probe.httpGet) return 'HTTP probe failed with statuscode: 503';
  if (probe.tcpSocket) return `dial tcp ${podIP}:${String(probe.tcpSocket.port)}: connect: connection refused`;
  if (probe.grpc) return `timeout: failed to connect service ":${probe.grpc.port}" within 1s: context deadline exceeded`;
  return 'command terminated with exit code 1';
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
  /**
   * Writes `lines` and exits with `exitCode` after `afterMs`: with restartPolicy Always this is a
   * crash loop (CrashLoopBackOff, restartCount, the lines in `/log?previous=true`).
   */
  crash(lines: readonly string[] = [], exitCode = 1, afterMs = 0): Behaviour {
    return behaviours.fn(async (c) => {
      for (const l of lines) c.log(l);
      if (afterMs > 0) await wait(afterMs, c.signal).catch(() => undefined);
      return exitCode;
    });
  },
  /** Writes `lines`, then is killed for exceeding its memory limit (exit 137, reason OOMKilled). */
  oomKilled(lines: readonly string[] = [], afterMs = 0): Behaviour {
    return behaviours.fn(async (c) => {
      for (const l of lines) c.log(l);
      if (afterMs > 0) await wait(afterMs, c.signal).catch(() => undefined);
      return { exitCode: 137, reason: 'OOMKilled' };
    });
  },
  /**
   * Runs until stopped (a server), writing `lines` first; probes pass. `shutdownMs`: how long it
   * takes to exit after SIGTERM (the pod stays Terminating meanwhile).
   */
  forever(lines: readonly string[] = [], options: { shutdownMs?: number } = {}): Behaviour {
    return behaviours.fn(async (c) => {
      for (const l of lines) c.log(l);
      await untilAborted(c.signal);
      if (options.shutdownMs) await sleep(options.shutdownMs);
      return 143;
    });
  },
  /** Serves `handler` on a container port until stopped; httpGet probes on that port really reach it. */
  serve(containerPort: number | string, handler: RequestListener, lines: readonly string[] = []): Behaviour {
    return behaviours.fn(async (c) => {
      await c.serve(containerPort, handler);
      for (const l of lines) c.log(l);
      await untilAborted(c.signal);
      return 143;
    });
  },
  /** Replaces how `base` answers its probes (the others keep theirs). */
  withProbes(base: Behaviour, answers: Partial<Record<ProbeKind, ProbeAnswer>>): Behaviour {
    if (base.kind !== 'run') throw new Error('k8s-sim: only running behaviours answer probes');
    return { ...base, probes: { ...base.probes, ...answers } };
  },
  /** Runs, but its readiness probe never passes (a pod without a readinessProbe is ready anyway, as in Kubernetes). */
  neverReady(lines: readonly string[] = []): Behaviour {
    return behaviours.withProbes(behaviours.forever(lines), { readiness: () => false });
  },
  /** Readiness passes only from `ms` after the container started. */
  readyAfter(ms: number, lines: readonly string[] = []): Behaviour {
    return behaviours.withProbes(behaviours.forever(lines), { readiness: (p) => p.sinceStartMs >= ms });
  },
  /** Readiness alternates: passes for `periodMs`, fails for `periodMs`, and so on. */
  flapping(periodMs: number, lines: readonly string[] = []): Behaviour {
    return behaviours.withProbes(behaviours.forever(lines), { readiness: (p) => Math.floor(p.sinceStartMs / periodMs) % 2 === 0 });
  },
  /**
   * The liveness probe starts failing `afterMs` after each start: the kubelet kills and restarts
   * the container (restartCount grows, lastState terminated, Unhealthy and Killing events).
   */
  livenessFails(afterMs = 0, lines: readonly string[] = []): Behaviour {
    return behaviours.withProbes(behaviours.forever(lines), { liveness: (p) => p.sinceStartMs < afterMs });
  },
  /**
   * Runs a local command (no shell) chosen from the container: stdout and stderr become the log,
   * its exit code the container's. Stopping sends SIGTERM, then SIGKILL after the grace period.
   * `c.port(8080)` tells the process where to listen; probes then really connect to it.
   */
  exec(choose: (c: ContainerRun) => { command: string; args?: readonly string[]; cwd?: string; env?: Record<string, string> }): Behaviour {
    const b = behaviours.fn(
      (c) =>
        new Promise<ContainerExit>((resolve) => {
          const { command, args = [], cwd, env } = choose(c);
          const child = spawn(command, [...args], {
            cwd,
            env: { ...process.env, ...c.env, ...env },
            stdio: ['ignore', 'pipe', 'pipe'],
            shell: false,
          });
          let killer: NodeJS.Timeout | undefined;
          const onAbort = (): void => {
            child.kill('SIGTERM');
            killer = setTimeout(() => child.kill('SIGKILL'), c.graceMs);
          };
          if (c.signal.aborted) onAbort();
          else c.signal.addEventListener('abort', onAbort, { once: true });
          let open = 2;
          let code: number | undefined;
          const finish = (): void => {
            if (open === 0 && code !== undefined) {
              c.signal.removeEventListener('abort', onAbort);
              if (killer) clearTimeout(killer);
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
    return { ...b, process: true } as Behaviour;
  },
  /** The image cannot be pulled: ErrImagePull, then ImagePullBackOff, until the rule goes away. */
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

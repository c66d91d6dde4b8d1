/**
 * The core's one door to Kubernetes: typed helpers over @kubernetes/client-node for what the steps
 * need (Jobs and their pods now; Deployments and Services join for deploy-rollout). Every API
 * failure comes out as a ModelshipError naming what was attempted and the server's answer.
 */
import http from 'node:http';
import https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  BatchV1Api,
  CoreV1Api,
  KubernetesObjectApi,
  PatchStrategy,
  type KubeConfig,
  type KubernetesObject,
  type V1Job,
  type V1Pod,
} from '@kubernetes/client-node';
import { ModelshipError } from '../util/index.ts';
import { loadKubeConfig, type KubeTarget } from './config.ts';
import { apiStatus, isNotFound, kubeError } from './errors.ts';
import type { DeploymentLike } from './deployment.ts';
import { containerTerminated, jobState, type JobLike, type PodLike } from './explain.ts';
import { followPodLog, type FollowLogResult } from './logs.ts';
import { watchUntil, type WatchEventType } from './watch.ts';

const ns = (namespace: string): string => encodeURIComponent(namespace);

/** The kinds the client watches: their collection path and how messages name them. */
export const WATCHED = {
  jobs: { path: (namespace: string) => `/apis/batch/v1/namespaces/${ns(namespace)}/jobs`, label: 'Job' },
  pods: { path: (namespace: string) => `/api/v1/namespaces/${ns(namespace)}/pods`, label: 'pods' },
  deployments: { path: (namespace: string) => `/apis/apps/v1/namespaces/${ns(namespace)}/deployments`, label: 'Deployment' },
} as const;

/** The field manager modelship's server-side applies write as. */
export const FIELD_MANAGER = 'modelship';

/** API answers worth trying again: conflicts on a write, throttling, and the server's transient failures. */
const TRANSIENT = new Set([409, 429, 500, 502, 503, 504]);
export type WatchedKind = keyof typeof WATCHED;

/** A Job or pod as watch events deliver it: plain JSON (timestamps are strings). */
export type JobJson = JobLike & { metadata?: { name?: string; uid?: string; resourceVersion?: string } };
export type PodJson = PodLike & { metadata?: { name?: string; uid?: string; resourceVersion?: string; labels?: Record<string, string> } };

/** A Deployment as watches deliver it (the fields rollouts read). */
export type DeploymentJson = DeploymentLike & {
  metadata?: { name?: string; uid?: string; resourceVersion?: string; generation?: number; annotations?: Record<string, string> };
};

/** What each watched kind delivers. */
export interface WatchedObject {
  readonly jobs: JobJson;
  readonly pods: PodJson;
  readonly deployments: DeploymentJson;
}

/** `a=b,c=d` from a matchLabels map. */
export function labelSelector(labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/** The selector of a Job's pods: its spec.selector as the server defaulted it, else job-name. */
export function jobPodSelector(job: V1Job): string {
  const match = job.spec?.selector?.matchLabels;
  if (match && Object.keys(match).length > 0) return labelSelector(match);
  return `job-name=${job.metadata?.name ?? ''}`;
}

export interface WaitOptions {
  readonly signal?: AbortSignal;
  /** Gives up after this long with a ModelshipError (default: no limit). */
  readonly timeoutMs?: number;
  readonly onReconnect?: (reason: string) => void;
  /** Reconnect a watch silent this long (default: the client's 30 s). */
  readonly idleTimeoutMs?: number;
}

export class KubeClient {
  readonly kc: KubeConfig;
  readonly namespace: string;
  readonly server: string;
  private readonly batch: BatchV1Api;
  private readonly core: CoreV1Api;
  private readonly objects: KubernetesObjectApi;
  /** Tries per API call that may be repeated (writes that conflict, transient 5xx); tests shorten the delay. */
  retry = { attempts: 5, delayMs: 200 };

  constructor(kc: KubeConfig, namespace: string) {
    this.kc = kc;
    this.namespace = namespace;
    this.server = kc.getCurrentCluster()?.server ?? '';
    this.batch = kc.makeApiClient(BatchV1Api);
    this.core = kc.makeApiClient(CoreV1Api);
    this.objects = KubernetesObjectApi.makeApiClient(kc);
  }

  /** From a kubeconfig path, $KUBECONFIG, ~/.kube/config or in-cluster (see loadKubeConfig). */
  static connect(target: KubeTarget = {}, env?: Readonly<Record<string, string | undefined>>, cwd?: string): KubeClient {
    const loaded = loadKubeConfig(target, env, cwd);
    return new KubeClient(loaded.kc, loaded.namespace);
  }

  private async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw kubeError(what, err, this.server);
    }
  }

  createJob(job: V1Job, namespace = this.namespace): Promise<V1Job> {
    const name = job.metadata?.name ?? `${job.metadata?.generateName ?? ''}…`;
    return this.call(`create Job ${name} in namespace ${namespace}`, () => this.batch.createNamespacedJob({ namespace, body: job }));
  }

  /** The Job, or undefined when there is none by that name. */
  async getJob(name: string, namespace = this.namespace): Promise<V1Job | undefined> {
    try {
      return await this.batch.readNamespacedJob({ name, namespace });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw kubeError(`read Job ${name} in namespace ${namespace}`, err, this.server);
    }
  }

  /**
   * Deletes a Job and (by default) its pods in the background. False when it was already gone.
   * (batch/v1 orphans the pods when no policy is sent, so one is always sent.)
   */
  async deleteJob(
    name: string,
    namespace = this.namespace,
    propagationPolicy: 'Background' | 'Foreground' | 'Orphan' = 'Background',
  ): Promise<boolean> {
    try {
      await this.batch.deleteNamespacedJob({ name, namespace, propagationPolicy });
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw kubeError(`delete Job ${name} in namespace ${namespace}`, err, this.server);
    }
  }

  async listPods(namespace = this.namespace, selectors: { labelSelector?: string; fieldSelector?: string } = {}): Promise<V1Pod[]> {
    const list = await this.call(`list pods in namespace ${namespace}`, () => this.core.listNamespacedPod({ namespace, ...selectors }));
    return list.items;
  }

  async getPod(name: string, namespace = this.namespace): Promise<V1Pod | undefined> {
    try {
      return await this.core.readNamespacedPod({ name, namespace });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw kubeError(`read pod ${name} in namespace ${namespace}`, err, this.server);
    }
  }

  /** The pods of a Job, oldest first. */
  async findJobPods(job: V1Job, namespace = job.metadata?.namespace ?? this.namespace): Promise<V1Pod[]> {
    const pods = await this.listPods(namespace, { labelSelector: jobPodSelector(job) });
    return pods.sort((a, b) => (a.metadata?.creationTimestamp?.getTime() ?? 0) - (b.metadata?.creationTimestamp?.getTime() ?? 0));
  }

  /**
   * Watches one kind of object in a namespace until `onEvent` returns a value (see watchUntil:
   * reconnects, resumes, re-lists after 410 Gone). `name` narrows it to one object, `labelSelector`
   * to a set.
   */
  watch<K extends WatchedKind, R>(
    kind: K,
    onEvent: (type: WatchEventType, object: WatchedObject[K]) => R | undefined,
    opts: WaitOptions & { name?: string; labelSelector?: string; namespace?: string } = {},
  ): Promise<R> {
    const namespace = opts.namespace ?? this.namespace;
    const { path, label } = WATCHED[kind];
    const what = `watch ${label}${opts.name ? ` ${opts.name}` : ''}${opts.labelSelector ? ` (${opts.labelSelector})` : ''} in namespace ${namespace}`;
    return this.withTimeout(opts, what, (signal) =>
      watchUntil<WatchedObject[K], R>(this.kc, {
        path: path(namespace),
        query: { fieldSelector: opts.name ? `metadata.name=${opts.name}` : undefined, labelSelector: opts.labelSelector },
        signal,
        onEvent,
        what,
        ...(opts.onReconnect ? { onReconnect: opts.onReconnect } : {}),
        ...(opts.idleTimeoutMs !== undefined ? { idleTimeoutMs: opts.idleTimeoutMs } : {}),
      }),
    );
  }

  /** Runs `fn`, again after a conflict, throttling or a transient server failure (bounded), as API clients should. */
  private async repeatable<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const code = apiStatus(err)?.code;
        if (code === undefined || !TRANSIENT.has(code) || attempt >= this.retry.attempts) throw kubeError(what, err, this.server);
        await sleep(this.retry.delayMs * 2 ** (attempt - 1));
      }
    }
  }

  /**
   * Server-side apply (field manager `modelship`, taking over fields others set): creates the object
   * or brings the fields modelship owns to what `obj` says. Returns the object as stored.
   */
  apply<T extends KubernetesObject>(obj: T): Promise<T> {
    const namespace = obj.metadata?.namespace ?? this.namespace;
    const body = { ...obj, metadata: { ...obj.metadata, namespace } };
    return this.repeatable(`apply ${obj.kind ?? 'object'} ${obj.metadata?.name ?? ''} in namespace ${namespace}`, () =>
      this.objects.patch(body, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply),
    );
  }

  /** The object, or undefined when there is none. */
  async read<T extends KubernetesObject>(
    apiVersion: string,
    kind: string,
    name: string,
    namespace = this.namespace,
  ): Promise<T | undefined> {
    try {
      return await this.objects.read<T>({ apiVersion, kind, metadata: { name, namespace } });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw kubeError(`read ${kind} ${name} in namespace ${namespace}`, err, this.server);
    }
  }

  /** Deletes an object (its dependents in the background). False when it was already gone. */
  async remove(apiVersion: string, kind: string, name: string, namespace = this.namespace): Promise<boolean> {
    try {
      await this.repeatable(`delete ${kind} ${name} in namespace ${namespace}`, () =>
        this.objects.delete({ apiVersion, kind, metadata: { name, namespace } }, undefined, undefined, undefined, undefined, 'Background'),
      );
      return true;
    } catch (err) {
      if (isNotFound((err as { cause?: unknown }).cause) || isNotFound(err)) return false;
      throw err;
    }
  }

  /**
   * A GET on any API server path with this client's credentials and TLS settings (discovery, the
   * pod proxy). Resolves with the status and the body (at most 4 MiB); rejects on network errors.
   */
  async get(apiPath: string, opts: { timeoutMs?: number } = {}): Promise<{ status: number; body: string }> {
    const server = this.kc.getCurrentCluster()?.server;
    if (!server) throw new ModelshipError('the kubeconfig names no cluster server.');
    const url = new URL(server.replace(/\/+$/, '') + apiPath);
    const options: https.RequestOptions = { method: 'GET', headers: { Accept: 'application/json, text/plain, */*' } };
    await this.kc.applyToHTTPSOptions(options);
    const timeoutMs = opts.timeoutMs ?? 30_000;
    return new Promise((resolve, reject) => {
      const onResponse = (res: http.IncomingMessage): void => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > 4 * 1024 * 1024) req.destroy(new Error(`the answer to GET ${apiPath} is larger than 4 MiB`));
          else chunks.push(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      };
      const req = url.protocol === 'http:' ? http.request(url, options, onResponse) : https.request(url, options, onResponse);
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${apiPath}: no answer within ${Math.round(timeoutMs / 1000)} s`)));
      req.on('error', reject);
      req.end();
    });
  }

  /** True when the cluster serves an API group (e.g. gateway.networking.k8s.io, the Gateway API). */
  async servesGroup(group: string): Promise<boolean> {
    let res;
    try {
      res = await this.get(`/apis/${encodeURIComponent(group)}`);
    } catch (err) {
      throw kubeError(`discover the API group ${group}`, err, this.server);
    }
    if (res.status === 404) return false;
    if (res.status >= 400) throw new ModelshipError(`cannot discover the API group ${group} at ${this.server}: HTTP ${res.status}.`);
    return true;
  }

  /** The API server path that reaches a pod's port through its proxy (`get(path + '/metrics')`). */
  podProxyPath(pod: string, port: number, namespace = this.namespace): string {
    return `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${encodeURIComponent(pod)}:${port}/proxy`;
  }

  /** The last lines a container wrote (of its previous run, after a crash). Empty when there are none. */
  async logTail(pod: string, container: string, opts: { namespace?: string; previous?: boolean; lines?: number } = {}): Promise<string[]> {
    const namespace = opts.namespace ?? this.namespace;
    try {
      const text = await this.core.readNamespacedPodLog({
        name: pod,
        namespace,
        container,
        previous: opts.previous ?? false,
        tailLines: opts.lines ?? 10,
      });
      return String(text)
        .split('\n')
        .filter((l) => l !== '');
    } catch {
      return [];
    }
  }

  /** Waits until the Job has the Complete or Failed condition; resolves with it either way. */
  waitForJob(name: string, opts: WaitOptions & { namespace?: string } = {}): Promise<JobJson> {
    return this.watch(
      'jobs',
      (type, job) => {
        if (type === 'DELETED')
          throw new ModelshipError(
            `Job ${name} was deleted before it finished.`,
            'Someone or something (a TTL, a cleanup) deleted it; run again.',
          );
        return jobState(job).state === 'active' ? undefined : job;
      },
      { ...opts, name },
    );
  }

  /**
   * Streams a container's log line by line until the container terminates (following across
   * cut connections). Start it once the container is running or has terminated.
   */
  followLogs(
    pod: string,
    container: string,
    onLine: (line: string) => void,
    opts: { namespace?: string; signal?: AbortSignal } = {},
  ): Promise<FollowLogResult> {
    const namespace = opts.namespace ?? this.namespace;
    return followPodLog(this.kc, {
      namespace,
      pod,
      container,
      onLine,
      ...(opts.signal ? { signal: opts.signal } : {}),
      stillRunning: async () => {
        const p = await this.getPod(pod, namespace);
        return p !== undefined && !containerTerminated(p, container);
      },
    });
  }

  private async withTimeout<R>(opts: WaitOptions, what: string, run: (signal: AbortSignal) => Promise<R>): Promise<R> {
    if (opts.timeoutMs === undefined) return run(opts.signal ?? new AbortController().signal);
    const ctrl = new AbortController();
    const timeout = new ModelshipError(`${what}: gave up after ${Math.round(opts.timeoutMs / 1000)} s.`);
    const timer = setTimeout(() => ctrl.abort(timeout), opts.timeoutMs);
    const onAbort = (): void => ctrl.abort(opts.signal?.reason);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await run(ctrl.signal);
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    }
  }
}

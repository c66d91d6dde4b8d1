/**
 * A Kubernetes API simulator for tests: a loopback HTTP server speaking the real REST paths,
 * verbs, watch streams, pod logs and Status errors, with a Job controller, a garbage collector and
 * a scriptable kubelet. This is a simulator, not Kubernetes: see README.md for what it covers.
 *
 *   const sim = await startSimulator();
 *   sim.kubelet.when({ image: 'trainer:1' }, behaviours.logs(['epoch 1/1'], 0));
 *   const kc = sim.kubeConfig();            // a real @kubernetes/client-node KubeConfig
 *   ...
 *   await sim.close();
 */
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { JobController } from './controllers/job.ts';
import { Kubelet, type KubeletTiming } from './kubelet.ts';
import { LogBook } from './logs.ts';
import { builtinResources, type ResourceType } from './resources/index.ts';
import { createHandler, type OpenStream, type RequestRecord, type ServerContext } from './server.ts';
import { Store } from './store.ts';

export { behaviours, Kubelet, type Behaviour, type ContainerExit, type ContainerRun, type Match } from './kubelet.ts';
export { Store, type StoreEvent } from './store.ts';
export { jobType, podType, type ResourceType } from './resources/index.ts';
export { deleteWithPropagation } from './controllers/gc.ts';
export type * from './types.ts';

/** A reconciler over the store (the Job controller is one): subscribe in start(), clean up in stop(). */
export interface Controller {
  start(): void;
  stop(): void;
}

export interface SimulatorOptions {
  /** The node pods are bound to. */
  readonly nodeName?: string;
  /** Local directories standing in for PersistentVolumeClaims, by claim name (see ContainerRun.hostPath). */
  readonly pvcs?: Readonly<Record<string, string>>;
  /** When set, every request must carry `Authorization: Bearer <token>` (401 otherwise). */
  readonly token?: string;
  readonly timing?: Partial<KubeletTiming> & {
    /** Delay before a Job replaces a failed pod. */
    readonly jobBackoffMs?: number;
    /** Multiplies ttlSecondsAfterFinished and activeDeadlineSeconds (default 1: real seconds). */
    readonly timeScale?: number;
  };
}

export interface Simulator {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly store: Store;
  readonly kubelet: Kubelet;
  /** Every request received, in order (method, path, query). */
  readonly requests: RequestRecord[];
  /** The kinds served. */
  readonly resources: readonly ResourceType[];
  /** Serves another kind (e.g. Deployments for deploy-rollout) through the same REST layer. */
  addResource(type: ResourceType): void;
  /** Starts a controller over the store; it is stopped by close(). */
  addController(make: (store: Store, resources: () => readonly ResourceType[]) => Controller): Controller;
  /** A KubeConfig for the real client: this server, skipTLSVerify, the given namespace. */
  kubeConfig(namespace?: string): KubeConfig;
  /** The same as kubeconfig YAML text (JSON is YAML), for KUBECONFIG files. */
  kubeconfigText(namespace?: string): string;
  writeKubeconfig(file: string, namespace?: string): Promise<void>;
  /** How many watches are open now (on paths ending with `pathSuffix`, e.g. '/jobs'). */
  openWatches(pathSuffix?: string): number;
  /** Ends open watches (all, or on paths ending with `pathSuffix`), as an API server restart does; returns how many. */
  closeWatches(pathSuffix?: string): number;
  /** Ends open follow=true log streams; returns how many. */
  closeLogStreams(): number;
  /** Forgets the event history: watches from an older resourceVersion get 410 Gone. */
  compact(): void;
  close(): Promise<void>;
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const store = new Store();
  const logs = new LogBook();
  const resources: ResourceType[] = [...builtinResources];
  const t = options.timing ?? {};
  const kubelet = new Kubelet(store, logs, {
    nodeName: options.nodeName ?? 'sim-node',
    pvcs: options.pvcs ?? {},
    timing: { startDelayMs: t.startDelayMs ?? 5, pullBackoffMs: t.pullBackoffMs ?? 20, restartBackoffMs: t.restartBackoffMs ?? 20 },
  });
  const jobs = new JobController(store, () => resources, { backoffMs: t.jobBackoffMs ?? 10, timeScale: t.timeScale ?? 1 });
  const controllers: Controller[] = [kubelet, jobs];
  for (const c of controllers) c.start();
  const ctx: ServerContext = { store, logs, resources: () => resources, token: options.token, streams: new Set(), requests: [] };
  const server: Server = createServer(createHandler(ctx));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  const config = (namespace = 'default') => ({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'sim', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'sim', user: options.token ? { token: options.token } : {} }],
    contexts: [{ name: 'sim', context: { cluster: 'sim', user: 'sim', namespace } }],
    'current-context': 'sim',
  });
  const streams = (kind: 'watch' | 'log', suffix = ''): OpenStream[] =>
    [...ctx.streams].filter((s) => s.kind === kind && s.path.endsWith(suffix));
  const closeKind = (kind: 'watch' | 'log', suffix?: string): number => {
    const open = streams(kind, suffix);
    for (const s of open) s.end();
    return open.length;
  };
  return {
    url,
    store,
    kubelet,
    requests: ctx.requests,
    resources,
    addResource(type) {
      if (resources.some((t) => t.group === type.group && t.version === type.version && t.plural === type.plural))
        throw new Error(`k8s-sim: ${type.plural}.${type.group} is already served`);
      resources.push(type);
    },
    addController(make) {
      const c = make(store, () => resources);
      controllers.push(c);
      c.start();
      return c;
    },
    kubeConfig(namespace) {
      const kc = new KubeConfig();
      kc.loadFromString(JSON.stringify(config(namespace)));
      return kc;
    },
    kubeconfigText: (namespace) => JSON.stringify(config(namespace), null, 2),
    writeKubeconfig: (file, namespace) => writeFile(file, JSON.stringify(config(namespace), null, 2)),
    openWatches: (suffix) => streams('watch', suffix).length,
    closeWatches: (suffix) => closeKind('watch', suffix),
    closeLogStreams: () => closeKind('log'),
    compact: () => store.compact(),
    async close() {
      for (const c of controllers) c.stop();
      for (const s of [...ctx.streams]) s.end();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

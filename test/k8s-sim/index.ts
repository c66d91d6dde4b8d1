/**
 * A Kubernetes API simulator for tests: a loopback HTTP server speaking the real REST paths,
 * verbs, discovery, server-side apply, watch streams, pod logs and Status errors, with the Job,
 * Deployment, ReplicaSet and EndpointSlice controllers, a garbage collector, a scriptable kubelet
 * (probes, init containers, restarts, graceful termination) and fault injection. This is a
 * simulator, not Kubernetes: see README.md for what it covers.
 *
 *   const sim = await startSimulator({ timing: { timeScale: 0.01 } });
 *   sim.kubelet.when({ image: 'trainer:1' }, behaviours.logs(['epoch 1/1'], 0));
 *   const kc = sim.kubeConfig();            // a real @kubernetes/client-node KubeConfig
 *   sim.faults.fail({ path: '/deployments', code: 503 });
 *   ...
 *   await sim.close();
 */
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { DeploymentController } from './controllers/deployment.ts';
import { EndpointSliceController } from './controllers/endpointslice.ts';
import { Control } from './control.ts';
import { EventRecorder } from './controllers/events.ts';
import { HttpRouteController } from './controllers/gateway.ts';
import { JobController } from './controllers/job.ts';
import { NamespaceController } from './controllers/namespace.ts';
import { ReadyClock, ReplicaSetController } from './controllers/replicaset.ts';
import { Faults } from './faults.ts';
import { Kubelet, type KubeletTiming } from './kubelet.ts';
import { LogBook } from './logs.ts';
import { builtinResources, httpRouteType, type ResourceType } from './resources/index.ts';
import { createHandler, type OpenStream, type RequestRecord, type ServerContext } from './server.ts';
import { Store } from './store.ts';

export {
  behaviours,
  Kubelet,
  probeFailure,
  type Behaviour,
  type ContainerExit,
  type ContainerRun,
  type Match,
  type ProbeAnswer,
  type ProbeContext,
  type ProbeKind,
  type ProbeResult,
  type Rule,
} from './kubelet.ts';
export { Faults, type FaultHandle, type Injected, type RequestMatch } from './faults.ts';
export { Store, type StoreEvent, type WriteOptions } from './store.ts';
export {
  configMapType,
  deploymentType,
  endpointSliceType,
  eventType,
  httpRouteType,
  jobType,
  namespaceType,
  podType,
  replicaSetType,
  secretType,
  selectorString,
  serviceType,
  type BackendRef,
  type HTTPRoute,
  type ResourceType,
} from './resources/index.ts';
export { deleteWithPropagation } from './controllers/gc.ts';
export {
  computeHash,
  maxSurge,
  maxUnavailable,
  resolveFenceposts,
  scaledValue,
  POD_TEMPLATE_HASH,
  REVISION,
  REVISION_HISTORY,
} from './controllers/deployment.ts';
export { CONTROLLER_NAME as ENDPOINTSLICE_CONTROLLER, SERVICE_NAME_LABEL } from './controllers/endpointslice.ts';
export { GATEWAY_CONTROLLER_NAME } from './controllers/gateway.ts';
export { apply as serverSideApply, fieldSetOf, pathString, toFieldsV1, type ManagerIdentity } from './managed.ts';
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
  /** The port to listen on (default: a free one) and the address (default 127.0.0.1). */
  readonly port?: number;
  readonly host?: string;
  /** Serve the Gateway API (HTTPRoute) from the start; `setGatewayApi` switches it later. Default off. */
  readonly gatewayApi?: boolean;
  /** Record v1 Events (kubelet, controllers). Default on. */
  readonly events?: boolean;
  /** Serve the control paths under /k8s-sim/ (faults from another process; see control.ts). Default off. */
  readonly control?: boolean;
  readonly timing?: Partial<KubeletTiming> & {
    /** Delay before a Job replaces a failed pod. */
    readonly jobBackoffMs?: number;
    /**
     * Multiplies every duration the API states in seconds: probe delays and periods, grace
     * periods, minReadySeconds, progressDeadlineSeconds, activeDeadlineSeconds,
     * ttlSecondsAfterFinished (default 1: real seconds; 0.001 turns seconds into milliseconds).
     */
    readonly timeScale?: number;
  };
}

export interface Simulator {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly store: Store;
  readonly kubelet: Kubelet;
  /** Faults to switch on and off: API errors, 409s, 410 on watch, cut connections, container failures. */
  readonly faults: Faults;
  /** Every request received, in order (method, path, query). */
  readonly requests: RequestRecord[];
  /** The kinds served. */
  readonly resources: readonly ResourceType[];
  /** Whether the Gateway API (HTTPRoute) is served. */
  readonly gatewayApi: boolean;
  /** Installs or removes the Gateway API, as installing or deleting its CRDs does (removing deletes every HTTPRoute). */
  setGatewayApi(on: boolean): void;
  /** Serves another kind through the same REST layer. */
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
  /**
   * Resolves with `check()`'s first truthy result, checked now and after every store change (and
   * every 20 ms); rejects after `timeoutMs` with `what` in the message. For the simulator's state,
   * not the code under test.
   */
  waitFor<T>(check: () => T | undefined | null | false, timeoutMs?: number, what?: string): Promise<T>;
  close(): Promise<void>;
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const store = new Store();
  const logs = new LogBook();
  const resources: ResourceType[] = [...builtinResources];
  const t = options.timing ?? {};
  const timeScale = t.timeScale ?? 1;
  const events = options.events === false ? undefined : new EventRecorder(store, timeScale);
  const kubelet = new Kubelet(store, logs, {
    nodeName: options.nodeName ?? 'sim-node',
    pvcs: options.pvcs ?? {},
    types: () => resources,
    ...(events ? { events } : {}),
    timing: {
      startDelayMs: t.startDelayMs ?? 5,
      pullBackoffMs: t.pullBackoffMs ?? 20,
      restartBackoffMs: t.restartBackoffMs ?? 20,
      shutdownMs: t.shutdownMs ?? 5,
      timeScale,
    },
  });
  const clock = new ReadyClock();
  const stopClock = store.subscribe((e) => clock.observe(e));
  const jobs = new JobController(store, () => resources, { backoffMs: t.jobBackoffMs ?? 10, timeScale });
  const controllers: Controller[] = [
    kubelet,
    jobs,
    new ReplicaSetController(store, { timeScale, clock, ...(events ? { events } : {}) }),
    new DeploymentController(store, () => resources, { timeScale, ...(events ? { events } : {}) }),
    new EndpointSliceController(store),
    new NamespaceController(store, () => resources),
  ];
  for (const c of controllers) c.start();
  const streams = new Set<OpenStream>();
  const pick = (kind: 'watch' | 'log', suffix = ''): OpenStream[] => [...streams].filter((s) => s.kind === kind && s.path.endsWith(suffix));
  const faults = new Faults(kubelet, (suffix) => {
    const open = pick('watch', suffix);
    for (const s of open) s.destroy();
    return open.length;
  });
  let address = '';
  const ctx: ServerContext = {
    store,
    logs,
    resources: () => resources,
    token: options.token,
    streams,
    requests: [],
    faults,
    kubelet,
    serverAddress: () => address,
  };
  const server: Server = createServer(createHandler(ctx));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { port, address: host } = server.address() as AddressInfo;
  address = `${host}:${port}`;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const config = (namespace = 'default') => ({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'sim', cluster: { server: url, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'sim', user: options.token ? { token: options.token } : {} }],
    contexts: [{ name: 'sim', context: { cluster: 'sim', user: 'sim', namespace } }],
    'current-context': 'sim',
  });
  const closeKind = (kind: 'watch' | 'log', suffix?: string): number => {
    const open = pick(kind, suffix);
    for (const s of open) s.end();
    return open.length;
  };
  let gateway: Controller | undefined;
  const setGatewayApi = (on: boolean): void => {
    if (on && !gateway) {
      resources.push(httpRouteType);
      gateway = new HttpRouteController(store);
      gateway.start();
    } else if (!on && gateway) {
      gateway.stop();
      gateway = undefined;
      resources.splice(resources.indexOf(httpRouteType), 1);
      for (const r of store.list(httpRouteType)) store.remove(httpRouteType, r.metadata.namespace, r.metadata.name!);
    }
  };
  if (options.gatewayApi) setGatewayApi(true);
  if (options.control)
    ctx.control = new Control({
      faults,
      closeWatches: (suffix) => closeKind('watch', suffix),
      compact: () => store.compact(),
      setGatewayApi,
    });
  return {
    url,
    store,
    kubelet,
    faults,
    requests: ctx.requests,
    resources,
    get gatewayApi() {
      return gateway !== undefined;
    },
    setGatewayApi,
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
    openWatches: (suffix) => pick('watch', suffix).length,
    closeWatches: (suffix) => closeKind('watch', suffix),
    closeLogStreams: () => closeKind('log'),
    compact: () => store.compact(),
    waitFor<T>(check: () => T | undefined | null | false, timeoutMs = 10_000, what = 'condition'): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        let done = false;
        const finish = (fn: () => void): void => {
          if (done) return;
          done = true;
          off();
          clearInterval(poll);
          clearTimeout(timer);
          fn();
        };
        const attempt = (): void => {
          if (done) return;
          try {
            const v = check();
            if (v) finish(() => resolve(v));
          } catch (err) {
            finish(() => reject(err instanceof Error ? err : new Error(String(err))));
          }
        };
        const off = store.subscribe(() => setImmediate(attempt));
        const poll = setInterval(attempt, 20);
        const timer = setTimeout(() => finish(() => reject(new Error(`k8s-sim: ${what} not reached within ${timeoutMs} ms`))), timeoutMs);
        attempt();
      });
    },
    async close() {
      for (const c of controllers) c.stop();
      gateway?.stop();
      stopClock();
      for (const s of [...streams]) s.end();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

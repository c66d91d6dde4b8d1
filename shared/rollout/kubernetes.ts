/**
 * The Kubernetes target: the model server as Deployments (stable, canary) behind one Service,
 * applied with server-side apply. Traffic follows the canary's weight through the replica ratio
 * behind the Service, or through an HTTPRoute's weights where the Gateway API is served and the
 * route exists. Readiness is decided as `kubectl rollout status` decides it, from watches that
 * survive 410 Gone and cut connections; a canary that crashes, cannot pull its image or never gets
 * ready is reported with the reason from its pods (and the last lines a crashed container wrote).
 */
import type { V1Deployment } from '@kubernetes/client-node';
import {
  deploymentProgress,
  explainPodFailure,
  labelSelector,
  type DeploymentJson,
  type KubeClient,
  type PodJson,
  type PodProblem,
} from '../k8s/index.ts';
import { errorMessage, type Logger } from '../util/index.ts';
import {
  ANNOTATION,
  LABEL,
  SERVER_PORT,
  canaryReplicas,
  clientService,
  deploymentName,
  replicaShare,
  roleService,
  roleServiceName,
  selectorLabels,
  serverDeployment,
  type Role,
  type ServerSettings,
} from './manifests.ts';
import type { Readiness, RolloutTarget, ServedVersion, Serving } from './target.ts';

export const GATEWAY_GROUP = 'gateway.networking.k8s.io';
/** The canary Deployment's annotation: the weight it is at (or being moved to). */
const WEIGHT = 'modelship.dev/weight';
const HTTPROUTE = { apiVersion: `${GATEWAY_GROUP}/v1`, kind: 'HTTPRoute' } as const;

export interface KubernetesTargetOptions extends ServerSettings {
  readonly client: KubeClient;
  readonly replicas: number;
  /** rolling: the new version replaces stable in place; canary: a canary Deployment beside it. */
  readonly strategy: 'rolling' | 'canary';
  readonly log: Logger;
}

interface RouteRule {
  backendRefs?: { name?: string; port?: number; weight?: number; [k: string]: unknown }[];
  [k: string]: unknown;
}
interface HttpRoute {
  apiVersion: string;
  kind: string;
  metadata?: { name?: string; namespace?: string };
  spec?: { rules?: RouteRule[]; [k: string]: unknown };
}

/** The version a Deployment serves, from the labels and annotations modelship wrote. */
export function servedBy(d: V1Deployment | undefined): ServedVersion | undefined {
  const labels = d?.metadata?.labels ?? {};
  const a = d?.metadata?.annotations ?? {};
  const version = Number(labels[LABEL.version]);
  if (!d || !labels[LABEL.model] || !Number.isInteger(version) || !a[ANNOTATION.digest] || !a[ANNOTATION.revision]) return undefined;
  return { name: labels[LABEL.model], version, digest: a[ANNOTATION.digest], ref: a[ANNOTATION.revision] };
}

/** A pod problem as one line, with the last lines a crashed container wrote. */
export function describePodProblem(pod: string, p: PodProblem, lastLines: readonly string[]): string {
  const tail = lastLines.length ? `; its last lines: ${lastLines.slice(-5).join(' | ')}` : '';
  return `pod ${pod}: ${p.summary}${p.detail ? ` (${p.detail.replace(/[.\s]+$/, '')})` : ''}${tail}`;
}

export async function kubernetesTarget(o: KubernetesTargetOptions): Promise<RolloutTarget> {
  const { client, log } = o;
  const ns = o.namespace;
  const read = (role: Role): Promise<V1Deployment | undefined> =>
    client.read<V1Deployment>('apps/v1', 'Deployment', deploymentName(o, role), ns);
  // Weighted routing needs the Gateway API and a route the cluster's owner made (with its parentRefs).
  const route =
    o.strategy === 'canary' && (await client.servesGroup(GATEWAY_GROUP))
      ? await client.read<HttpRoute>(HTTPROUTE.apiVersion, HTTPROUTE.kind, o.name, ns)
      : undefined;
  log.info(
    route
      ? `traffic: HTTPRoute ${o.name} weights between Services ${roleServiceName(o, 'stable')} and ${roleServiceName(o, 'canary')}`
      : `traffic: the replica ratio behind Service ${o.name}${o.strategy === 'canary' ? ' (no HTTPRoute of that name, or no Gateway API)' : ''}`,
  );

  const setRouteWeight = async (canaryWeight: number): Promise<void> => {
    if (!route) return;
    const current = (await client.read<HttpRoute>(HTTPROUTE.apiVersion, HTTPROUTE.kind, o.name, ns)) ?? route;
    const stableName = roleServiceName(o, 'stable');
    const canaryName = roleServiceName(o, 'canary');
    const rules = (current.spec?.rules ?? [{}]).map((rule) => ({
      ...rule,
      backendRefs: [
        { name: stableName, port: SERVER_PORT, weight: 100 - canaryWeight },
        { name: canaryName, port: SERVER_PORT, weight: canaryWeight },
      ],
    }));
    await client.apply({ ...HTTPROUTE, metadata: { name: o.name, namespace: ns }, spec: { ...current.spec, rules } });
  };

  /** Waits until the Deployment has rolled out, or a pod of it shows it cannot. */
  const waitReady = async (role: Role, version: ServedVersion, applied: V1Deployment, signal: AbortSignal): Promise<Readiness> => {
    const name = deploymentName(o, role);
    const generation = applied.metadata?.generation ?? 0;
    const inner = new AbortController();
    const stop = (): void => inner.abort(signal.reason);
    signal.addEventListener('abort', stop, { once: true });
    const podsOf = labelSelector({ ...selectorLabels(o, role), [LABEL.version]: String(version.version) });
    try {
      const rollout = client
        .watch(
          'deployments',
          (_type, d: DeploymentJson): Readiness | undefined => {
            if ((d.metadata?.generation ?? 0) < generation) return undefined; // an older object: never success from stale state
            const p = deploymentProgress(d);
            if (p.state === 'complete') return { ready: true };
            if (p.state === 'failed') return { ready: false, reason: `readiness never reached: ${p.message}` };
            return undefined;
          },
          { name, namespace: ns, signal: inner.signal },
        )
        .then(async (r) => (r.ready ? r : { ready: false as const, reason: await withPodReason(r.reason) }));
      const pods = client.watch(
        'pods',
        (type, pod: PodJson): PodProblemSeen | undefined => {
          if (type === 'DELETED') return undefined;
          const problem = explainPodFailure(pod);
          // A server that exits once is restarted by the kubelet; it is broken when it keeps crashing.
          if (!problem?.terminal || problem.kind === 'ExitCode' || problem.kind === 'OOMKilled') return undefined;
          return { pod: pod.metadata?.name ?? '?', problem };
        },
        { labelSelector: podsOf, namespace: ns, signal: inner.signal },
      );
      const stuck = pods.then(async (seen): Promise<Readiness> => {
        const lines = seen.problem.container
          ? await client.logTail(seen.pod, seen.problem.container, {
              namespace: ns,
              previous: seen.problem.kind === 'CrashLoopBackOff',
              lines: 5,
            })
          : [];
        return { ready: false, reason: describePodProblem(seen.pod, seen.problem, lines) };
      });
      stuck.catch(() => undefined);
      rollout.catch(() => undefined);
      return await Promise.race([rollout, stuck]);
    } finally {
      signal.removeEventListener('abort', stop);
      inner.abort(new Error('done'));
    }

    /** Adds what a pod says about not being ready (its Ready condition) to a deadline failure. */
    async function withPodReason(reason: string): Promise<string> {
      const pods = await client.listPods(ns, { labelSelector: podsOf }).catch(() => []);
      for (const p of pods) {
        const ready = p.status?.conditions?.find((c) => c.type === 'Ready');
        if (ready?.status !== 'True')
          return `${reason} (pod ${p.metadata?.name ?? '?'}: ${ready?.message ?? ready?.reason ?? 'not ready'})`;
      }
      return reason;
    }
  };

  /** Applies a role's whole Deployment (server-side apply owns exactly what it applies, so it is always whole). */
  const applyRole = async (
    role: Role,
    version: ServedVersion,
    replicas: number,
    opts: { previous?: ServedVersion; weight?: number } = {},
  ): Promise<V1Deployment> => {
    const d = serverDeployment(o, role, version, replicas, opts.previous);
    if (opts.weight !== undefined) d.metadata!.annotations = { ...d.metadata!.annotations, [WEIGHT]: String(opts.weight) };
    return client.apply(d);
  };

  const ensureServices = async (): Promise<void> => {
    await client.apply(clientService(o));
    if (route) {
      await client.apply(roleService(o, 'stable'));
      await client.apply(roleService(o, 'canary'));
    }
  };

  let previousStable: ServedVersion | undefined;

  return {
    kind: 'kubernetes',
    where: `namespace ${ns}, Deployment ${o.name} (${client.server})`,
    async serving(): Promise<Serving> {
      const [stable, canary] = await Promise.all([read('stable'), read('canary')]);
      const s = servedBy(stable);
      const c = servedBy(canary);
      const weight = Number(canary?.metadata?.annotations?.[WEIGHT] ?? 0);
      return {
        ...(s ? { stable: s } : {}),
        ...(c ? { canary: { ...c, weight } } : {}),
        url: `http://${o.name}.${ns}.svc:${SERVER_PORT}`,
      };
    },
    async setWeight(version, weight, signal) {
      await ensureServices();
      const stable = await read('stable');
      const current = servedBy(stable);
      if (o.strategy === 'rolling' || !current) {
        // A rolling update (or the first version): stable itself takes the new version.
        previousStable = current;
        const applied = await applyRole('stable', version, o.replicas, current ? { previous: current } : {});
        return waitReady('stable', version, applied, signal);
      }
      const stableReplicas = stable?.spec?.replicas ?? o.replicas;
      const replicas = route ? Math.max(1, Math.ceil((stableReplicas * weight) / 100)) : canaryReplicas(stableReplicas, weight);
      const applied = await applyRole('canary', version, replicas, { weight });
      const ready = await waitReady('canary', version, applied, signal);
      if (!ready.ready) return ready;
      await setRouteWeight(weight);
      if (!route)
        log.info(`replicas: stable ${stableReplicas}, canary ${replicas} (about ${replicaShare(stableReplicas, replicas)}% to the canary)`);
      return ready;
    },
    async promote(version) {
      const stable = await read('stable');
      const current = servedBy(stable);
      if (current?.digest !== version.digest) {
        // Stable takes the new version while the canary still serves: no request without a ready pod.
        const applied = await applyRole('stable', version, o.replicas, current ? { previous: current } : {});
        const ready = await waitReady('stable', version, applied, new AbortController().signal);
        if (!ready.ready) throw new Error(`promoting ${version.name}:${version.version}: stable did not roll out: ${ready.reason}`);
      }
      await setRouteWeight(0);
      await client.remove('apps/v1', 'Deployment', deploymentName(o, 'canary'), ns);
    },
    async abort(reason) {
      if (o.strategy === 'rolling') {
        if (!previousStable) {
          log.warning(`nothing to roll back to (no earlier version was serving); the Deployment stays as it is: ${reason}`);
          return;
        }
        const applied = await applyRole('stable', previousStable, o.replicas);
        const ready = await waitReady('stable', previousStable, applied, new AbortController().signal);
        if (!ready.ready)
          log.warning(`the rollback to ${previousStable.name}:${previousStable.version} is not ready either: ${ready.reason}`);
        return;
      }
      // Stable kept all its replicas: moving the route and removing the canary puts all traffic on it at once.
      await setRouteWeight(0);
      await client.remove('apps/v1', 'Deployment', deploymentName(o, 'canary'), ns);
    },
    async canaryEndpoints() {
      const role: Role = o.strategy === 'rolling' ? 'stable' : 'canary';
      const pods = await client.listPods(ns, { labelSelector: labelSelector(selectorLabels(o, role)) });
      const server = client.server.replace(/\/+$/, '');
      return pods
        .filter((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'))
        .map((p) => `${server}${client.podProxyPath(p.metadata?.name ?? '', SERVER_PORT, ns)}/metrics`);
    },
    canarySelector: (v) => ({ model: v.name, version: String(v.version) }),
    async close() {
      await Promise.resolve();
    },
  };
}

interface PodProblemSeen {
  readonly pod: string;
  readonly problem: PodProblem;
}

/** A fetch that goes through the API server with the client's credentials (for the pod proxy's /metrics). */
export function kubeFetch(client: KubeClient): (input: string) => Promise<Response> {
  const server = client.server.replace(/\/+$/, '');
  return async (input) => {
    const path = input.startsWith(server) ? input.slice(server.length) : new URL(input).pathname;
    try {
      const r = await client.get(path, { timeoutMs: 10_000 });
      return new Response(r.body, { status: r.status });
    } catch (err) {
      throw new Error(`GET ${input}: ${errorMessage(err)}`);
    }
  };
}

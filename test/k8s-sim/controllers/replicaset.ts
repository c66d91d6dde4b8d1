/**
 * The ReplicaSet controller (pkg/controller/replicaset): keeps `spec.replicas` active pods that
 * match the selector, adopting orphans and releasing pods that stopped matching; creates pods
 * `<rs>-<5 chars>` from the template with a controller ownerReference; deletes the least valuable
 * pods first when scaling down (unscheduled, pending, not ready, most recently ready, most
 * restarts, newest), gracefully; and writes status as the real one does: `replicas` (active pods,
 * terminating ones excluded), `fullyLabeledReplicas`, `readyReplicas`, `availableReplicas` (ready
 * for minReadySeconds), `observedGeneration`, from the pods it saw before acting.
 */
import { podType, replicaSetType } from '../resources/index.ts';
import { matchesRequirements, selectorRequirements } from '../selectors.ts';
import type { Store, StoreEvent } from '../store.ts';
import type { KubeObject, OwnerReference, Pod, ReplicaSet, ReplicaSetStatus } from '../types.ts';
import { canonical } from '../managed.ts';
import type { EventRecorder } from './events.ts';
import { removeOrTerminate } from './gc.ts';
import { keyOf, Reconciler, splitKey } from './queue.ts';

export const MANAGER = 'kube-controller-manager';

export function controllerRef(o: KubeObject): OwnerReference | undefined {
  return o.metadata.ownerReferences?.find((r) => r.controller === true);
}

export function isPodReady(p: Pod): boolean {
  return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}

const active = (p: Pod): boolean => p.status?.phase !== 'Succeeded' && p.status?.phase !== 'Failed' && !p.metadata.deletionTimestamp;

/** When each pod's Ready condition turned True, to the millisecond (the status has whole seconds). */
export class ReadyClock {
  private readonly since = new Map<string, number>();

  observe(e: StoreEvent): void {
    if (e.resource !== podType) return;
    const uid = e.object.metadata.uid!;
    if (e.type === 'DELETED' || !isPodReady(e.object as Pod)) this.since.delete(uid);
    else if (!this.since.has(uid)) this.since.set(uid, Date.now());
  }

  readySince(p: Pod): number | undefined {
    if (!isPodReady(p)) return undefined;
    const known = this.since.get(p.metadata.uid!);
    if (known !== undefined) return known;
    const t = p.status?.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime;
    return t ? Date.parse(t) : undefined;
  }

  /** IsPodAvailable: ready for at least minReadySeconds (scaled). */
  available(p: Pod, minReadyMs: number, now = Date.now()): boolean {
    const since = this.readySince(p);
    if (since === undefined) return false;
    return minReadyMs === 0 || since + minReadyMs <= now;
  }
}

export interface ReplicaSetControllerOptions {
  readonly timeScale: number;
  readonly events?: EventRecorder;
  readonly clock: ReadyClock;
}

export class ReplicaSetController extends Reconciler {
  private readonly options: ReplicaSetControllerOptions;

  constructor(store: Store, options: ReplicaSetControllerOptions) {
    super(store);
    this.options = options;
  }

  protected observe(e: StoreEvent): void {
    if (e.resource === replicaSetType) {
      if (e.type !== 'DELETED') this.enqueue(keyOf(e.object.metadata.namespace, e.object.metadata.name));
      return;
    }
    if (e.resource !== podType) return;
    const ns = e.object.metadata.namespace;
    for (const o of [e.object, e.previous]) {
      const ref = o ? controllerRef(o) : undefined;
      if (ref?.kind === 'ReplicaSet') this.enqueue(keyOf(ns, ref.name));
    }
    // An orphan may be adopted by a ReplicaSet whose selector it matches.
    if (!controllerRef(e.object) && e.type !== 'DELETED')
      for (const rs of this.store.list(replicaSetType, ns) as ReplicaSet[])
        if (matchesRequirements(e.object.metadata.labels, selectorRequirements(rs.spec.selector)))
          this.enqueue(keyOf(ns, rs.metadata.name));
  }

  protected sync(key: string): void {
    const [ns, name] = splitKey(key);
    const rs = this.store.find(replicaSetType, ns, name) as ReplicaSet | undefined;
    if (!rs) return;
    const uid = rs.metadata.uid!;
    const reqs = selectorRequirements(rs.spec.selector);
    const owned: Pod[] = [];
    for (const p of this.store.list(podType, ns) as Pod[]) {
      const ref = controllerRef(p);
      const matching = matchesRequirements(p.metadata.labels, reqs);
      if (ref?.uid === uid) {
        if (matching) owned.push(p);
        else this.release(p, uid);
      } else if (!ref && matching && !rs.metadata.deletionTimestamp && !p.metadata.deletionTimestamp && active(p)) {
        const adopted = this.adopt(p, rs);
        if (adopted) owned.push(adopted);
      }
    }
    const filtered = owned.filter(active);
    const desired = rs.spec.replicas ?? 1;
    const diff = filtered.length - desired;
    if (diff < 0 && !rs.metadata.deletionTimestamp) for (let i = 0; i < -diff; i++) this.createPod(rs);
    if (diff > 0) for (const p of this.rank(filtered).slice(0, diff)) this.deletePod(rs, p);
    this.writeStatus(rs, filtered);
  }

  private adopt(p: Pod, rs: ReplicaSet): Pod | undefined {
    return this.store.mutate(
      podType,
      p.metadata.namespace,
      p.metadata.name!,
      (o) => {
        o.metadata.ownerReferences = [
          ...(o.metadata.ownerReferences ?? []),
          {
            apiVersion: 'apps/v1',
            kind: 'ReplicaSet',
            name: rs.metadata.name!,
            uid: rs.metadata.uid!,
            controller: true,
            blockOwnerDeletion: true,
          },
        ];
      },
      undefined,
      { manager: MANAGER },
    ) as Pod | undefined;
  }

  private release(p: Pod, uid: string): void {
    this.store.mutate(
      podType,
      p.metadata.namespace,
      p.metadata.name!,
      (o) => {
        o.metadata.ownerReferences = (o.metadata.ownerReferences ?? []).filter((r) => r.uid !== uid);
        if (o.metadata.ownerReferences.length === 0) delete o.metadata.ownerReferences;
      },
      undefined,
      { manager: MANAGER },
    );
  }

  /** getPodsToDelete: the pods to remove first come first. */
  private rank(pods: Pod[]): Pod[] {
    const ranks: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };
    const phaseRank = (p: Pod): number => ranks[p.status?.phase ?? 'Pending'] ?? 0;
    const restarts = (p: Pod): number => (p.status?.containerStatuses ?? []).reduce((n, s) => n + s.restartCount, 0);
    const clock = this.options.clock;
    return [...pods].sort((a, b) => {
      const sa = a.spec.nodeName ? 1 : 0;
      const sb = b.spec.nodeName ? 1 : 0;
      if (sa !== sb) return sa - sb;
      if (phaseRank(a) !== phaseRank(b)) return phaseRank(a) - phaseRank(b);
      const ra = isPodReady(a) ? 1 : 0;
      const rb = isPodReady(b) ? 1 : 0;
      if (ra !== rb) return ra - rb;
      if (ra === 1) {
        const ta = clock.readySince(a) ?? 0;
        const tb = clock.readySince(b) ?? 0;
        if (ta !== tb) return tb - ta;
      }
      if (restarts(a) !== restarts(b)) return restarts(b) - restarts(a);
      const ca = Date.parse(a.metadata.creationTimestamp ?? '');
      const cb = Date.parse(b.metadata.creationTimestamp ?? '');
      if (ca !== cb) return cb - ca;
      return Number(b.metadata.resourceVersion) - Number(a.metadata.resourceVersion);
    });
  }

  private createPod(rs: ReplicaSet): void {
    const tpl = structuredClone(rs.spec.template);
    const pod: Pod = {
      metadata: {
        generateName: `${rs.metadata.name}-`,
        namespace: rs.metadata.namespace,
        labels: { ...tpl.metadata?.labels },
        ...(tpl.metadata?.annotations ? { annotations: { ...tpl.metadata.annotations } } : {}),
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'ReplicaSet',
            name: rs.metadata.name!,
            uid: rs.metadata.uid!,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: tpl.spec,
    };
    const created = this.store.create(podType, rs.metadata.namespace, pod, { manager: MANAGER });
    this.options.events?.record(
      { component: 'replicaset-controller' },
      rs,
      'Normal',
      'SuccessfulCreate',
      `Created pod: ${created.metadata.name}`,
    );
  }

  private deletePod(rs: ReplicaSet, p: Pod): void {
    if (!this.store.find(podType, p.metadata.namespace, p.metadata.name!)) return;
    removeOrTerminate(this.store, podType, p.metadata.namespace, p.metadata.name!);
    this.options.events?.record(
      { component: 'replicaset-controller' },
      rs,
      'Normal',
      'SuccessfulDelete',
      `Deleted pod: ${p.metadata.name}`,
    );
  }

  private writeStatus(rs: ReplicaSet, filtered: Pod[]): void {
    const minReadyMs = (rs.spec.minReadySeconds ?? 0) * 1000 * this.options.timeScale;
    const now = Date.now();
    const templateLabels = rs.spec.template?.metadata?.labels ?? {};
    const fully = filtered.filter((p) => Object.entries(templateLabels).every(([k, v]) => p.metadata.labels?.[k] === v)).length;
    const ready = filtered.filter(isPodReady);
    const available = ready.filter((p) => this.options.clock.available(p, minReadyMs, now));
    const status: ReplicaSetStatus = { replicas: filtered.length };
    if (fully) status.fullyLabeledReplicas = fully;
    if (ready.length) status.readyReplicas = ready.length;
    if (available.length) status.availableReplicas = available.length;
    if (rs.metadata.generation) status.observedGeneration = rs.metadata.generation;
    const conditions = (rs.status?.conditions ?? []).filter((c) => c.type !== 'ReplicaFailure');
    if (conditions.length) status.conditions = conditions;
    if (canonical(status) !== canonical(rs.status ?? {}))
      this.store.mutate(replicaSetType, rs.metadata.namespace, rs.metadata.name!, (o) => (o.status = status), 'status', {
        manager: MANAGER,
        subresource: 'status',
      });
    // Pods ready but not yet available become available later: look again then.
    if (minReadyMs > 0) {
      let next = Infinity;
      for (const p of ready) {
        const since = this.options.clock.readySince(p);
        if (since !== undefined && since + minReadyMs > now) next = Math.min(next, since + minReadyMs);
      }
      if (next < Infinity) this.enqueueAfter(keyOf(rs.metadata.namespace, rs.metadata.name), next - now + 1);
    }
  }
}

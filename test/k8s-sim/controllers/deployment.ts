/**
 * The Deployment controller (pkg/controller/deployment), transcribed from its sync loop:
 *
 * - One ReplicaSet per pod template: `<deployment>-<pod-template-hash>`, the hash (fnv32a of the
 *   template and collisionCount, safe-encoded) added to the template labels and the selector. The
 *   "new" ReplicaSet is the oldest one whose template equals the Deployment's ignoring the hash,
 *   so a rollback to an earlier template reuses its ReplicaSet.
 * - Revisions: `deployment.kubernetes.io/revision` = 1 + the highest revision of the old
 *   ReplicaSets, on the new ReplicaSet and on the Deployment; a reused ReplicaSet keeps its
 *   earlier revisions in `deployment.kubernetes.io/revision-history`. `desired-replicas` and
 *   `max-replicas` annotations; the Deployment's own annotations copied to its ReplicaSets.
 * - RollingUpdate: scale up the new ReplicaSet within replicas + maxSurge (percentages round up),
 *   scale down old ones keeping replicas - maxUnavailable available (percentages round down; both
 *   zero means maxUnavailable 1), unhealthy old replicas first. Recreate: scale old to zero, wait
 *   for their pods to be gone, then scale up the new one. Proportional scaling when
 *   `spec.replicas` changes mid-rollout; `paused`; `revisionHistoryLimit` cleanup.
 * - Status as `calculateStatus` computes it (observedGeneration, replicas, updatedReplicas,
 *   readyReplicas, availableReplicas, unavailableReplicas) and the conditions: `Available`
 *   (MinimumReplicasAvailable / MinimumReplicasUnavailable) and `Progressing` (NewReplicaSetCreated,
 *   FoundNewReplicaSet, ReplicaSetUpdated, NewReplicaSetAvailable, ProgressDeadlineExceeded,
 *   DeploymentPaused, DeploymentResumed), with the deadline measured from the condition's last
 *   update and a resync scheduled for it.
 */
import { canonical } from '../managed.ts';
import { deploymentType, podType, replicaSetType, type ResourceType } from '../resources/index.ts';
import { matchesRequirements, selectorRequirements } from '../selectors.ts';
import { rfc3339, type Store, type StoreEvent } from '../store.ts';
import type {
  Deployment,
  DeploymentCondition,
  DeploymentStatus,
  KubeObject,
  LabelSelector,
  Pod,
  PodTemplate,
  ReplicaSet,
} from '../types.ts';
import type { EventRecorder } from './events.ts';
import { deleteWithPropagation } from './gc.ts';
import { keyOf, Reconciler, splitKey } from './queue.ts';
import { controllerRef, MANAGER } from './replicaset.ts';

export const REVISION = 'deployment.kubernetes.io/revision';
export const REVISION_HISTORY = 'deployment.kubernetes.io/revision-history';
export const DESIRED_REPLICAS = 'deployment.kubernetes.io/desired-replicas';
export const MAX_REPLICAS = 'deployment.kubernetes.io/max-replicas';
export const POD_TEMPLATE_HASH = 'pod-template-hash';
const SKIP_COPY = new Set([
  'kubectl.kubernetes.io/last-applied-configuration',
  REVISION,
  REVISION_HISTORY,
  DESIRED_REPLICAS,
  MAX_REPLICAS,
  'deprecated.deployment.rollback.to',
]);
const MAX_REV_HISTORY_CHARS = 2000;

// ---------------------------------------------------------------------------------------------
// deploymentutil, as pure functions.

/** GetScaledValueFromIntOrPercent. */
export function scaledValue(v: number | string | undefined, total: number, roundUp: boolean): number {
  if (v === undefined) return 0;
  if (typeof v === 'number') return v;
  const pct = parseInt(v, 10);
  const exact = (pct * total) / 100;
  return roundUp ? Math.ceil(exact) : Math.floor(exact);
}

const replicas = (d: Deployment): number => d.spec.replicas ?? 1;
const isRolling = (d: Deployment): boolean => (d.spec.strategy?.type ?? 'RollingUpdate') === 'RollingUpdate';

/** ResolveFenceposts: [maxSurge, maxUnavailable] as numbers of pods. */
export function resolveFenceposts(
  maxSurge: number | string | undefined,
  maxUnavailable: number | string | undefined,
  desired: number,
): [number, number] {
  const surge = scaledValue(maxSurge ?? '25%', desired, true);
  let unavailable = scaledValue(maxUnavailable ?? '25%', desired, false);
  if (surge === 0 && unavailable === 0) unavailable = 1;
  return [surge, unavailable];
}

export function maxSurge(d: Deployment): number {
  if (!isRolling(d)) return 0;
  return resolveFenceposts(d.spec.strategy?.rollingUpdate?.maxSurge, d.spec.strategy?.rollingUpdate?.maxUnavailable, replicas(d))[0];
}

export function maxUnavailable(d: Deployment): number {
  if (!isRolling(d) || replicas(d) === 0) return 0;
  const [, u] = resolveFenceposts(d.spec.strategy?.rollingUpdate?.maxSurge, d.spec.strategy?.rollingUpdate?.maxUnavailable, replicas(d));
  return Math.min(u, replicas(d));
}

const specReplicas = (rs: ReplicaSet | undefined): number => rs?.spec.replicas ?? 0;
const sum = (list: (ReplicaSet | undefined)[], f: (rs: ReplicaSet) => number): number => list.reduce((n, rs) => n + (rs ? f(rs) : 0), 0);
const replicaCount = (l: (ReplicaSet | undefined)[]): number => sum(l, (rs) => rs.spec.replicas ?? 0);
const actualCount = (l: (ReplicaSet | undefined)[]): number => sum(l, (rs) => rs.status?.replicas ?? 0);
const readyCount = (l: (ReplicaSet | undefined)[]): number => sum(l, (rs) => rs.status?.readyReplicas ?? 0);
const availableCount = (l: (ReplicaSet | undefined)[]): number => sum(l, (rs) => rs.status?.availableReplicas ?? 0);
const activeOf = (l: (ReplicaSet | undefined)[]): ReplicaSet[] =>
  l.filter((rs): rs is ReplicaSet => rs !== undefined && (rs.spec.replicas ?? 0) > 0);

export function revisionOf(o: KubeObject | undefined): number {
  const v = o?.metadata.annotations?.[REVISION];
  if (v === undefined) return 0;
  const n = Number.parseInt(v, 10);
  return Number.isNaN(n) ? 0 : n;
}

const created = (rs: ReplicaSet): number => Date.parse(rs.metadata.creationTimestamp ?? '') || 0;
/** ReplicaSetsByCreationTimestamp: oldest first, then by name. */
const byCreation = (a: ReplicaSet, b: ReplicaSet): number =>
  created(a) - created(b) || (a.metadata.name! < b.metadata.name! ? -1 : a.metadata.name! > b.metadata.name! ? 1 : 0);
const bySizeOlder = (a: ReplicaSet, b: ReplicaSet): number => specReplicas(b) - specReplicas(a) || byCreation(a, b);
const bySizeNewer = (a: ReplicaSet, b: ReplicaSet): number => specReplicas(b) - specReplicas(a) || byCreation(b, a);
const byRevision = (a: ReplicaSet, b: ReplicaSet): number => revisionOf(a) - revisionOf(b) || byCreation(a, b);

/** Drops empty maps and lists and nulls, as Semantic.DeepEqual treats nil and empty alike. */
function normalized(v: unknown): unknown {
  if (Array.isArray(v)) return v.length === 0 ? undefined : v.map(normalized);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const n = normalized(x);
      if (n !== undefined) out[k] = n;
    }
    return Object.keys(out).length === 0 ? undefined : out;
  }
  return v === null ? undefined : v;
}

/** EqualIgnoreHash: the two templates are equal once pod-template-hash is dropped from the labels. */
export function equalIgnoreHash(a: PodTemplate | undefined, b: PodTemplate | undefined): boolean {
  const strip = (t: PodTemplate | undefined): unknown => {
    const c = structuredClone(t) ?? ({} as PodTemplate);
    if (c.metadata?.labels) delete c.metadata.labels[POD_TEMPLATE_HASH];
    return normalized(c);
  };
  return canonical(strip(a)) === canonical(strip(b));
}

const SAFE = 'bcdfghjklmnpqrstvwxz2456789';

/** controller.ComputeHash: fnv32a of the template (and collisionCount), rand.SafeEncodeString'd. */
export function computeHash(template: PodTemplate, collisionCount?: number): string {
  let h = 0x811c9dc5;
  const feed = (bytes: Uint8Array): void => {
    for (const byte of bytes) {
      h ^= byte;
      h = Math.imul(h, 0x01000193) >>> 0;
    }
  };
  feed(Buffer.from(canonical(normalized(template))));
  if (collisionCount !== undefined) {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(collisionCount >>> 0);
    feed(b);
  }
  return [...String(h >>> 0)].map((ch) => SAFE[ch.charCodeAt(0) % SAFE.length]).join('');
}

function condition(type: string, status: DeploymentCondition['status'], reason: string, message: string, now: string): DeploymentCondition {
  return { type, status, lastUpdateTime: now, lastTransitionTime: now, reason, message };
}

const getCondition = (s: DeploymentStatus | undefined, type: string): DeploymentCondition | undefined =>
  s?.conditions?.find((c) => c.type === type);

/** SetDeploymentCondition: no-op when status and reason are unchanged; keeps lastTransitionTime when the status is. */
function setCondition(s: DeploymentStatus, c: DeploymentCondition): boolean {
  const current = getCondition(s, c.type);
  if (current && current.status === c.status && current.reason === c.reason) return false;
  if (current && current.status === c.status) c.lastTransitionTime = current.lastTransitionTime;
  s.conditions = [...(s.conditions ?? []).filter((x) => x.type !== c.type), c];
  return true;
}

function removeCondition(s: DeploymentStatus, type: string): void {
  if (s.conditions) s.conditions = s.conditions.filter((c) => c.type !== type);
  if (s.conditions?.length === 0) delete s.conditions;
}

const hasProgressDeadline = (d: Deployment): boolean =>
  d.spec.progressDeadlineSeconds !== undefined && d.spec.progressDeadlineSeconds !== 2147483647;

/** DeploymentComplete. */
function deploymentComplete(d: Deployment, s: DeploymentStatus): boolean {
  const n = replicas(d);
  return (
    (s.updatedReplicas ?? 0) === n &&
    (s.replicas ?? 0) === n &&
    (s.availableReplicas ?? 0) === n &&
    (s.observedGeneration ?? 0) >= (d.metadata.generation ?? 0)
  );
}

/** DeploymentProgressing: some counter moved the right way since the last status. */
function deploymentProgressing(d: Deployment, s: DeploymentStatus): boolean {
  const old = d.status ?? {};
  const oldOld = (old.replicas ?? 0) - (old.updatedReplicas ?? 0);
  const newOld = (s.replicas ?? 0) - (s.updatedReplicas ?? 0);
  return (
    (s.updatedReplicas ?? 0) > (old.updatedReplicas ?? 0) ||
    newOld < oldOld ||
    (s.readyReplicas ?? 0) > (old.readyReplicas ?? 0) ||
    (s.availableReplicas ?? 0) > (old.availableReplicas ?? 0)
  );
}

/** Without zero counters, as the API serializes them (omitempty). */
function compact(s: DeploymentStatus): DeploymentStatus {
  const out: DeploymentStatus = {};
  for (const k of [
    'observedGeneration',
    'replicas',
    'updatedReplicas',
    'readyReplicas',
    'availableReplicas',
    'unavailableReplicas',
  ] as const)
    if (s[k]) out[k] = s[k];
  if (s.conditions?.length) out.conditions = s.conditions;
  if (s.collisionCount !== undefined) out.collisionCount = s.collisionCount;
  return out;
}

// ---------------------------------------------------------------------------------------------

export interface DeploymentControllerOptions {
  readonly timeScale: number;
  readonly events?: EventRecorder;
}

export class DeploymentController extends Reconciler {
  private readonly types: () => readonly ResourceType[];
  private readonly options: DeploymentControllerOptions;
  /** The precise time (ms) behind each Progressing condition's lastUpdateTime (which has whole seconds). */
  private readonly progressAt = new Map<string, { stamp: string; ms: number }>();

  constructor(store: Store, types: () => readonly ResourceType[], options: DeploymentControllerOptions) {
    super(store);
    this.types = types;
    this.options = options;
  }

  private event(d: Deployment, reason: string, message: string, type: 'Normal' | 'Warning' = 'Normal'): void {
    this.options.events?.record({ component: 'deployment-controller' }, d, type, reason, message);
  }

  protected observe(e: StoreEvent): void {
    const ns = e.object.metadata.namespace;
    if (e.resource === deploymentType) {
      if (e.type === 'DELETED') this.progressAt.delete(e.object.metadata.uid!);
      else this.enqueue(keyOf(ns, e.object.metadata.name));
    } else if (e.resource === replicaSetType) {
      const ref = controllerRef(e.object) ?? (e.previous ? controllerRef(e.previous) : undefined);
      if (ref?.kind === 'Deployment') this.enqueue(keyOf(ns, ref.name));
      else if (!ref)
        for (const d of this.store.list(deploymentType, ns) as Deployment[])
          if (matchesRequirements(e.object.metadata.labels, selectorRequirements(d.spec.selector)))
            this.enqueue(keyOf(ns, d.metadata.name));
    } else if (e.resource === podType && e.type === 'DELETED') {
      const ref = controllerRef(e.object);
      if (ref?.kind !== 'ReplicaSet') return;
      const rs = this.store.find(replicaSetType, ns, ref.name);
      const owner = rs ? controllerRef(rs) : undefined;
      if (owner?.kind === 'Deployment') this.enqueue(keyOf(ns, owner.name));
    }
  }

  private now(): string {
    return rfc3339(this.store.now());
  }

  /** Stamps a new Progressing condition's precise time. */
  private stamp(d: Deployment, c: DeploymentCondition): DeploymentCondition {
    if (c.type === 'Progressing' && c.lastUpdateTime) this.progressAt.set(d.metadata.uid!, { stamp: c.lastUpdateTime, ms: Date.now() });
    return c;
  }

  private lastProgressMs(d: Deployment, c: DeploymentCondition): number {
    const known = this.progressAt.get(d.metadata.uid!);
    if (known && known.stamp === c.lastUpdateTime) return known.ms;
    return Date.parse(c.lastUpdateTime ?? '') || Date.now();
  }

  private deadlineMs(d: Deployment): number {
    return (d.spec.progressDeadlineSeconds ?? 600) * 1000 * this.options.timeScale;
  }

  private writeStatus(d: Deployment): void {
    d.status = compact(d.status ?? {});
    const updated = this.store.mutate(
      deploymentType,
      d.metadata.namespace,
      d.metadata.name!,
      (o) => {
        o.status = structuredClone(d.status);
        o.metadata.annotations = structuredClone(d.metadata.annotations);
        if (o.metadata.annotations === undefined) delete o.metadata.annotations;
      },
      'status',
      { manager: MANAGER, subresource: 'status' },
    ) as Deployment | undefined;
    if (updated) d.metadata.resourceVersion = updated.metadata.resourceVersion;
  }

  private updateReplicaSet(rs: ReplicaSet): ReplicaSet {
    return this.store.mutate(
      replicaSetType,
      rs.metadata.namespace,
      rs.metadata.name!,
      (o) => {
        (o as ReplicaSet).spec = structuredClone(rs.spec);
        o.metadata.annotations = structuredClone(rs.metadata.annotations);
        o.metadata.labels = structuredClone(rs.metadata.labels);
        o.metadata.ownerReferences = structuredClone(rs.metadata.ownerReferences);
      },
      undefined,
      { manager: MANAGER },
    ) as ReplicaSet;
  }

  protected sync(key: string): void {
    const [ns, name] = splitKey(key);
    const found = this.store.find(deploymentType, ns, name) as Deployment | undefined;
    if (!found) return;
    const d = structuredClone(found);
    const sel = d.spec.selector;
    if (!sel || Object.keys(sel.matchLabels ?? {}).length + (sel.matchExpressions ?? []).length === 0) {
      this.event(d, 'SelectingAll', 'This deployment is selecting all pods. A non-empty selector is required.', 'Warning');
      if ((d.status?.observedGeneration ?? 0) < (d.metadata.generation ?? 0)) {
        d.status = { ...d.status, observedGeneration: d.metadata.generation };
        this.writeStatus(d);
      }
      return;
    }
    const rsList = this.replicaSetsFor(d);
    if (d.metadata.deletionTimestamp) return this.syncStatusOnly(d, rsList);
    this.checkPausedConditions(d);
    if (d.spec.paused) return this.syncScale(d, rsList);
    if (this.isScalingEvent(d, rsList)) return this.syncScale(d, rsList);
    if ((d.spec.strategy?.type ?? 'RollingUpdate') === 'Recreate') return this.rolloutRecreate(d, rsList);
    return this.rolloutRolling(d, rsList);
  }

  /** getReplicaSetsForDeployment: owned ones, plus orphans matching the selector (adopted). */
  private replicaSetsFor(d: Deployment): ReplicaSet[] {
    const reqs = selectorRequirements(d.spec.selector);
    const out: ReplicaSet[] = [];
    for (const rs of this.store.list(replicaSetType, d.metadata.namespace) as ReplicaSet[]) {
      const ref = controllerRef(rs);
      if (ref?.uid === d.metadata.uid) out.push(rs);
      else if (!ref && !d.metadata.deletionTimestamp && matchesRequirements(rs.metadata.labels, reqs)) {
        rs.metadata.ownerReferences = [
          ...(rs.metadata.ownerReferences ?? []),
          {
            apiVersion: 'apps/v1',
            kind: 'Deployment',
            name: d.metadata.name!,
            uid: d.metadata.uid!,
            controller: true,
            blockOwnerDeletion: true,
          },
        ];
        out.push(this.updateReplicaSet(rs));
      }
    }
    return out;
  }

  private podMap(d: Deployment, rsList: ReplicaSet[]): Map<string, Pod[]> {
    const reqs = selectorRequirements(d.spec.selector);
    const uids = new Set(rsList.map((rs) => rs.metadata.uid!));
    const map = new Map<string, Pod[]>();
    for (const p of this.store.list(podType, d.metadata.namespace, (o) => matchesRequirements(o.metadata.labels, reqs)) as Pod[]) {
      const ref = controllerRef(p);
      if (!ref || !uids.has(ref.uid)) continue;
      map.set(ref.uid, [...(map.get(ref.uid) ?? []), p]);
    }
    return map;
  }

  private checkPausedConditions(d: Deployment): void {
    if (!hasProgressDeadline(d)) return;
    const cond = getCondition(d.status, 'Progressing');
    if (cond?.reason === 'ProgressDeadlineExceeded') return;
    const pausedExists = cond?.reason === 'DeploymentPaused';
    d.status ??= {};
    let changed = false;
    if (d.spec.paused && !pausedExists)
      changed = setCondition(
        d.status,
        this.stamp(d, condition('Progressing', 'Unknown', 'DeploymentPaused', 'Deployment is paused', this.now())),
      );
    else if (!d.spec.paused && pausedExists)
      changed = setCondition(
        d.status,
        this.stamp(d, condition('Progressing', 'Unknown', 'DeploymentResumed', 'Deployment is resumed', this.now())),
      );
    if (changed) this.writeStatus(d);
  }

  /** getAllReplicaSetsAndSyncRevision. */
  private allReplicaSets(d: Deployment, rsList: ReplicaSet[], create: boolean): { newRS: ReplicaSet | undefined; oldRSs: ReplicaSet[] } {
    const sorted = [...rsList].sort(byCreation);
    const existing = sorted.find((rs) => equalIgnoreHash(rs.spec.template, d.spec.template));
    const oldRSs = rsList.filter((rs) => rs !== existing);
    const newRS = this.newReplicaSet(d, oldRSs, existing, create);
    return { newRS, oldRSs };
  }

  /** copyDeploymentAnnotationsToReplicaSet + the revision annotations (SetNewReplicaSetAnnotations). */
  private setNewReplicaSetAnnotations(d: Deployment, rs: ReplicaSet, newRevision: number, exists: boolean): boolean {
    let changed = false;
    rs.metadata.annotations ??= {};
    const a = rs.metadata.annotations;
    for (const [k, v] of Object.entries(d.metadata.annotations ?? {})) {
      if (SKIP_COPY.has(k) || a[k] === v) continue;
      a[k] = v;
      changed = true;
    }
    const oldRevision = a[REVISION];
    const oldInt = oldRevision === undefined ? 0 : Number.parseInt(oldRevision, 10);
    if (Number.isNaN(oldInt)) return false;
    if (oldInt < newRevision) {
      a[REVISION] = String(newRevision);
      changed = true;
      if (oldRevision !== undefined) {
        const history = a[REVISION_HISTORY] ?? '';
        if (history === '') a[REVISION_HISTORY] = oldRevision;
        else {
          const old = history.split(',');
          let total = history.length + oldRevision.length + 1;
          let start = 0;
          while (total > MAX_REV_HISTORY_CHARS && start < old.length) total -= old[start++].length + 1;
          if (total <= MAX_REV_HISTORY_CHARS) a[REVISION_HISTORY] = [...old.slice(start), oldRevision].join(',');
        }
      }
    }
    if (!exists && this.setReplicasAnnotations(rs, replicas(d), replicas(d) + maxSurge(d))) changed = true;
    return changed;
  }

  private setReplicasAnnotations(rs: ReplicaSet, desired: number, max: number): boolean {
    rs.metadata.annotations ??= {};
    const a = rs.metadata.annotations;
    if (a[DESIRED_REPLICAS] === String(desired) && a[MAX_REPLICAS] === String(max)) return false;
    a[DESIRED_REPLICAS] = String(desired);
    a[MAX_REPLICAS] = String(max);
    return true;
  }

  /** getNewReplicaSet. */
  private newReplicaSet(d: Deployment, oldRSs: ReplicaSet[], existing: ReplicaSet | undefined, create: boolean): ReplicaSet | undefined {
    const maxOld = Math.max(0, ...oldRSs.map(revisionOf));
    const newRevision = maxOld + 1;
    d.status ??= {};
    if (existing) {
      const rsCopy = structuredClone(existing);
      const annotationsUpdated = this.setNewReplicaSetAnnotations(d, rsCopy, newRevision, true);
      const minReadyNeedsUpdate = (rsCopy.spec.minReadySeconds ?? 0) !== (d.spec.minReadySeconds ?? 0);
      if (annotationsUpdated || minReadyNeedsUpdate) {
        rsCopy.spec.minReadySeconds = d.spec.minReadySeconds ?? 0;
        if (rsCopy.spec.minReadySeconds === 0) delete rsCopy.spec.minReadySeconds;
        return this.updateReplicaSet(rsCopy);
      }
      let needsUpdate = this.setDeploymentRevision(d, rsCopy.metadata.annotations?.[REVISION] ?? '');
      if (hasProgressDeadline(d) && !getCondition(d.status, 'Progressing')) {
        setCondition(
          d.status,
          this.stamp(
            d,
            condition('Progressing', 'True', 'FoundNewReplicaSet', `Found new replica set "${rsCopy.metadata.name}"`, this.now()),
          ),
        );
        needsUpdate = true;
      }
      if (needsUpdate) this.writeStatus(d);
      return rsCopy;
    }
    if (!create) return undefined;
    const template = structuredClone(d.spec.template);
    const hash = computeHash(d.spec.template, d.status.collisionCount);
    template.metadata = { ...template.metadata, labels: { ...template.metadata?.labels, [POD_TEMPLATE_HASH]: hash } };
    const selector: LabelSelector = structuredClone(d.spec.selector) ?? {};
    selector.matchLabels = { ...selector.matchLabels, [POD_TEMPLATE_HASH]: hash };
    const rs: ReplicaSet = {
      metadata: {
        name: `${d.metadata.name}-${hash}`,
        namespace: d.metadata.namespace,
        labels: { ...template.metadata.labels },
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'Deployment',
            name: d.metadata.name!,
            uid: d.metadata.uid!,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: {
        replicas: 0,
        ...(d.spec.minReadySeconds ? { minReadySeconds: d.spec.minReadySeconds } : {}),
        selector,
        template,
      },
    };
    rs.spec.replicas = this.newRSNewReplicas(d, [...oldRSs, rs], rs);
    this.setNewReplicaSetAnnotations(d, rs, newRevision, false);
    let createdRS: ReplicaSet;
    let alreadyExists = false;
    try {
      createdRS = this.store.create(replicaSetType, d.metadata.namespace, rs, { manager: MANAGER }) as ReplicaSet;
    } catch (err) {
      if ((err as { reason?: string }).reason !== 'AlreadyExists') throw err;
      alreadyExists = true;
      const other = this.store.get(replicaSetType, d.metadata.namespace, rs.metadata.name!) as ReplicaSet;
      if (controllerRef(other)?.uid === d.metadata.uid && equalIgnoreHash(d.spec.template, other.spec.template)) createdRS = other;
      else {
        d.status.collisionCount = (d.status.collisionCount ?? 0) + 1;
        this.writeStatus(d);
        throw err;
      }
    }
    if (!alreadyExists && specReplicas(rs) > 0)
      this.event(d, 'ScalingReplicaSet', `Scaled up replica set ${createdRS.metadata.name} from 0 to ${specReplicas(rs)}`);
    let needsUpdate = this.setDeploymentRevision(d, String(newRevision));
    if (!alreadyExists && hasProgressDeadline(d)) {
      setCondition(
        d.status,
        this.stamp(
          d,
          condition('Progressing', 'True', 'NewReplicaSetCreated', `Created new replica set "${createdRS.metadata.name}"`, this.now()),
        ),
      );
      needsUpdate = true;
    }
    if (needsUpdate) this.writeStatus(d);
    return createdRS;
  }

  private setDeploymentRevision(d: Deployment, revision: string): boolean {
    d.metadata.annotations ??= {};
    if (d.metadata.annotations[REVISION] === revision) return false;
    d.metadata.annotations[REVISION] = revision;
    return true;
  }

  /** NewRSNewReplicas. */
  private newRSNewReplicas(d: Deployment, allRSs: (ReplicaSet | undefined)[], newRS: ReplicaSet): number {
    if (!isRolling(d)) return replicas(d);
    const surge = scaledValue(d.spec.strategy?.rollingUpdate?.maxSurge ?? '25%', replicas(d), true);
    const current = replicaCount(allRSs);
    const maxTotal = replicas(d) + surge;
    if (current >= maxTotal) return specReplicas(newRS);
    const up = Math.min(maxTotal - current, replicas(d) - specReplicas(newRS));
    return specReplicas(newRS) + up;
  }

  /** scaleReplicaSetAndRecordEvent: [scaled, the ReplicaSet after]. */
  private scaleReplicaSet(rs: ReplicaSet, newScale: number, d: Deployment): [boolean, ReplicaSet] {
    if (specReplicas(rs) === newScale) return [false, rs];
    return this.scaleTo(rs, newScale, d, specReplicas(rs) < newScale ? 'up' : 'down');
  }

  private scaleTo(rs: ReplicaSet, newScale: number, d: Deployment, operation: 'up' | 'down' | ''): [boolean, ReplicaSet] {
    const sizeNeedsUpdate = specReplicas(rs) !== newScale;
    const copy = structuredClone(rs);
    const annotationsNeedUpdate = this.setReplicasAnnotations(copy, replicas(d), replicas(d) + maxSurge(d));
    if (!sizeNeedsUpdate && !annotationsNeedUpdate) return [false, rs];
    const oldScale = specReplicas(rs);
    copy.spec.replicas = newScale;
    const updated = this.updateReplicaSet(copy);
    if (sizeNeedsUpdate)
      this.event(d, 'ScalingReplicaSet', `Scaled ${operation} replica set ${rs.metadata.name} from ${oldScale} to ${newScale}`);
    return [sizeNeedsUpdate, updated];
  }

  private rolloutRolling(d: Deployment, rsList: ReplicaSet[]): void {
    const { newRS, oldRSs } = this.allReplicaSets(d, rsList, true);
    const allRSs = [...oldRSs, newRS];
    if (newRS && this.reconcileNewReplicaSet(allRSs, newRS, d)) return this.syncRolloutStatus(allRSs, newRS, d);
    if (newRS && this.reconcileOldReplicaSets(allRSs, activeOf(oldRSs), newRS, d)) return this.syncRolloutStatus(allRSs, newRS, d);
    if (deploymentComplete(d, d.status ?? {})) this.cleanupDeployment(oldRSs, d);
    this.syncRolloutStatus(allRSs, newRS, d);
  }

  private reconcileNewReplicaSet(allRSs: (ReplicaSet | undefined)[], newRS: ReplicaSet, d: Deployment): boolean {
    if (specReplicas(newRS) === replicas(d)) return false;
    if (specReplicas(newRS) > replicas(d)) return this.scaleReplicaSet(newRS, replicas(d), d)[0];
    return this.scaleReplicaSet(newRS, this.newRSNewReplicas(d, allRSs, newRS), d)[0];
  }

  private reconcileOldReplicaSets(allRSs: (ReplicaSet | undefined)[], oldRSs: ReplicaSet[], newRS: ReplicaSet, d: Deployment): boolean {
    const oldPods = replicaCount(oldRSs);
    if (oldPods === 0) return false;
    const allPods = replicaCount(allRSs);
    const minAvailable = replicas(d) - maxUnavailable(d);
    const newUnavailable = specReplicas(newRS) - (newRS.status?.availableReplicas ?? 0);
    const maxScaledDown = allPods - minAvailable - newUnavailable;
    if (maxScaledDown <= 0) return false;
    const [cleaned, cleanupCount] = this.cleanupUnhealthyReplicas(oldRSs, d, maxScaledDown);
    const scaledDown = this.scaleDownOldReplicaSetsForRollingUpdate([...cleaned, newRS], cleaned, d);
    return cleanupCount + scaledDown > 0;
  }

  private cleanupUnhealthyReplicas(oldRSs: ReplicaSet[], d: Deployment, maxCleanup: number): [ReplicaSet[], number] {
    const list = [...oldRSs].sort(byCreation);
    let total = 0;
    for (let i = 0; i < list.length; i++) {
      const rs = list[i];
      if (total >= maxCleanup) break;
      if (specReplicas(rs) === 0) continue;
      const available = rs.status?.availableReplicas ?? 0;
      if (specReplicas(rs) === available) continue;
      const count = Math.min(maxCleanup - total, specReplicas(rs) - available);
      const [, updated] = this.scaleReplicaSet(rs, specReplicas(rs) - count, d);
      total += count;
      list[i] = updated;
    }
    return [list, total];
  }

  private scaleDownOldReplicaSetsForRollingUpdate(allRSs: (ReplicaSet | undefined)[], oldRSs: ReplicaSet[], d: Deployment): number {
    const minAvailable = replicas(d) - maxUnavailable(d);
    const available = availableCount(allRSs);
    if (available <= minAvailable) return 0;
    const list = [...oldRSs].sort(byCreation);
    let total = 0;
    const want = available - minAvailable;
    for (const rs of list) {
      if (total >= want) break;
      if (specReplicas(rs) === 0) continue;
      const count = Math.min(specReplicas(rs), want - total);
      this.scaleReplicaSet(rs, specReplicas(rs) - count, d);
      total += count;
    }
    return total;
  }

  private rolloutRecreate(d: Deployment, rsList: ReplicaSet[]): void {
    let { newRS, oldRSs } = this.allReplicaSets(d, rsList, false);
    let allRSs = [...oldRSs, newRS];
    let scaledDown = false;
    for (const rs of activeOf(oldRSs)) if (this.scaleReplicaSet(rs, 0, d)[0]) scaledDown = true;
    if (scaledDown) return this.syncRolloutStatus(allRSs, newRS, d);
    if (this.oldPodsRunning(newRS, oldRSs, this.podMap(d, rsList))) return this.syncRolloutStatus(allRSs, newRS, d);
    if (!newRS) {
      ({ newRS, oldRSs } = this.allReplicaSets(d, this.replicaSetsFor(d), true));
      allRSs = [...oldRSs, newRS];
    }
    if (newRS) this.scaleReplicaSet(newRS, replicas(d), d);
    if (deploymentComplete(d, d.status ?? {})) this.cleanupDeployment(oldRSs, d);
    this.syncRolloutStatus(allRSs, newRS, d);
  }

  private oldPodsRunning(newRS: ReplicaSet | undefined, oldRSs: ReplicaSet[], podMap: Map<string, Pod[]>): boolean {
    if (actualCount(oldRSs) > 0) return true;
    for (const [uid, pods] of podMap) {
      if (newRS && newRS.metadata.uid === uid) continue;
      for (const p of pods) if (p.status?.phase !== 'Failed' && p.status?.phase !== 'Succeeded') return true;
    }
    return false;
  }

  private isScalingEvent(d: Deployment, rsList: ReplicaSet[]): boolean {
    const { newRS, oldRSs } = this.allReplicaSets(d, rsList, false);
    for (const rs of activeOf([...oldRSs, newRS])) {
      const desired = rs.metadata.annotations?.[DESIRED_REPLICAS];
      if (desired === undefined) continue;
      if (Number(desired) !== replicas(d)) return true;
    }
    return false;
  }

  /** sync: scaling events and paused Deployments. */
  private syncScale(d: Deployment, rsList: ReplicaSet[]): void {
    const { newRS, oldRSs } = this.allReplicaSets(d, rsList, false);
    this.scale(d, newRS, oldRSs);
    if (d.spec.paused) this.cleanupDeployment(oldRSs, d);
    const fresh = (rs: ReplicaSet | undefined): ReplicaSet | undefined =>
      rs ? ((this.store.find(replicaSetType, rs.metadata.namespace, rs.metadata.name!) as ReplicaSet | undefined) ?? rs) : undefined;
    this.syncDeploymentStatus([...oldRSs.map(fresh), fresh(newRS)], fresh(newRS), d);
  }

  private syncStatusOnly(d: Deployment, rsList: ReplicaSet[]): void {
    const { newRS, oldRSs } = this.allReplicaSets(d, rsList, false);
    this.syncDeploymentStatus([...oldRSs, newRS], newRS, d);
  }

  /** scale: proportional scaling of the active ReplicaSets. */
  private scale(d: Deployment, newRS: ReplicaSet | undefined, oldRSs: ReplicaSet[]): void {
    const sortedOld = [...oldRSs].sort((a, b) => byCreation(b, a));
    const activeAll = activeOf([...sortedOld, newRS]);
    let activeOrLatest: ReplicaSet | undefined;
    if (newRS || sortedOld.length > 0) {
      if (activeAll.length === 0) activeOrLatest = newRS ?? sortedOld[0];
      else if (activeAll.length === 1) activeOrLatest = activeAll[0];
    }
    if (activeOrLatest) {
      if (specReplicas(activeOrLatest) !== replicas(d)) this.scaleReplicaSet(activeOrLatest, replicas(d), d);
      return;
    }
    if (newRS && this.isSaturated(d, newRS)) {
      for (const old of activeOf(oldRSs)) this.scaleReplicaSet(old, 0, d);
      return;
    }
    if (!isRolling(d)) return;
    const all = activeOf([...oldRSs, newRS]);
    const allReplicas = replicaCount(all);
    const allowed = replicas(d) > 0 ? replicas(d) + maxSurge(d) : 0;
    const toAdd = allowed - allReplicas;
    let operation: 'up' | 'down' | '' = '';
    if (toAdd > 0) {
      all.sort(bySizeNewer);
      operation = 'up';
    } else if (toAdd < 0) {
      all.sort(bySizeOlder);
      operation = 'down';
    }
    let added = 0;
    const size = new Map<string, number>();
    for (const rs of all) {
      if (toAdd !== 0) {
        const p = this.proportion(rs, d, toAdd, added);
        size.set(rs.metadata.name!, specReplicas(rs) + p);
        added += p;
      } else size.set(rs.metadata.name!, specReplicas(rs));
    }
    all.forEach((rs, i) => {
      if (i === 0 && toAdd !== 0) size.set(rs.metadata.name!, Math.max(0, size.get(rs.metadata.name!)! + toAdd - added));
      this.scaleTo(rs, size.get(rs.metadata.name!)!, d, operation);
    });
  }

  private isSaturated(d: Deployment, rs: ReplicaSet): boolean {
    const desired = Number(rs.metadata.annotations?.[DESIRED_REPLICAS]);
    return specReplicas(rs) === replicas(d) && desired === replicas(d) && (rs.status?.availableReplicas ?? 0) === replicas(d);
  }

  /** GetProportion. */
  private proportion(rs: ReplicaSet, d: Deployment, toAdd: number, added: number): number {
    if (specReplicas(rs) === 0 || toAdd === 0 || toAdd === added) return 0;
    const fraction = this.fraction(rs, d);
    const allowed = toAdd - added;
    return toAdd > 0 ? Math.min(fraction, allowed) : Math.max(fraction, allowed);
  }

  private fraction(rs: ReplicaSet, d: Deployment): number {
    if (replicas(d) === 0) return -specReplicas(rs);
    const maxReplicas = replicas(d) + maxSurge(d);
    let before = Number(rs.metadata.annotations?.[MAX_REPLICAS] ?? '');
    if (!before) before = d.status?.replicas ?? 0;
    const newSize = (specReplicas(rs) * maxReplicas) / before;
    // integer.RoundToInt32: round half away from zero.
    return Math.sign(newSize) * Math.round(Math.abs(newSize)) - specReplicas(rs);
  }

  /** cleanupDeployment: old ReplicaSets beyond revisionHistoryLimit, once they have no pods. */
  private cleanupDeployment(oldRSs: ReplicaSet[], d: Deployment): void {
    if (d.spec.revisionHistoryLimit === undefined) return;
    const alive = oldRSs.filter((rs) => !rs.metadata.deletionTimestamp);
    const diff = alive.length - d.spec.revisionHistoryLimit;
    if (diff <= 0) return;
    const sorted = [...alive].sort(byRevision);
    for (let i = 0; i < diff; i++) {
      const rs = sorted[i];
      if (
        (rs.status?.replicas ?? 0) !== 0 ||
        specReplicas(rs) !== 0 ||
        (rs.metadata.generation ?? 0) > (rs.status?.observedGeneration ?? 0)
      )
        continue;
      if (this.store.find(replicaSetType, rs.metadata.namespace, rs.metadata.name!))
        deleteWithPropagation(this.store, this.types(), replicaSetType, rs.metadata.namespace, rs.metadata.name!);
    }
  }

  /** calculateStatus. */
  private calculateStatus(allRSs: (ReplicaSet | undefined)[], newRS: ReplicaSet | undefined, d: Deployment): DeploymentStatus {
    const available = availableCount(allRSs);
    const total = replicaCount(allRSs);
    const status: DeploymentStatus = {
      observedGeneration: d.metadata.generation,
      replicas: actualCount(allRSs),
      updatedReplicas: actualCount([newRS]),
      readyReplicas: readyCount(allRSs),
      availableReplicas: available,
      unavailableReplicas: Math.max(0, total - available),
      ...(d.status?.collisionCount !== undefined ? { collisionCount: d.status.collisionCount } : {}),
      conditions: structuredClone(d.status?.conditions ?? []),
    };
    if (available >= replicas(d) - maxUnavailable(d))
      setCondition(status, condition('Available', 'True', 'MinimumReplicasAvailable', 'Deployment has minimum availability.', this.now()));
    else
      setCondition(
        status,
        condition('Available', 'False', 'MinimumReplicasUnavailable', 'Deployment does not have minimum availability.', this.now()),
      );
    return status;
  }

  private syncDeploymentStatus(allRSs: (ReplicaSet | undefined)[], newRS: ReplicaSet | undefined, d: Deployment): void {
    const next = compact(this.calculateStatus(allRSs, newRS, d));
    if (canonical(next) === canonical(compact(d.status ?? {}))) return;
    d.status = next;
    this.writeStatus(d);
  }

  /** syncRolloutStatus: counts, Available, Progressing and the deadline. */
  private syncRolloutStatus(allRSs: (ReplicaSet | undefined)[], newRS: ReplicaSet | undefined, d: Deployment): void {
    const next = this.calculateStatus(allRSs, newRS, d);
    if (!hasProgressDeadline(d)) removeCondition(next, 'Progressing');
    const current = getCondition(d.status, 'Progressing');
    const isComplete = (next.replicas ?? 0) === (next.updatedReplicas ?? 0) && current?.reason === 'NewReplicaSetAvailable';
    if (hasProgressDeadline(d) && !isComplete) {
      const now = this.now();
      if (deploymentComplete(d, next)) {
        const msg = newRS
          ? `ReplicaSet "${newRS.metadata.name}" has successfully progressed.`
          : `Deployment "${d.metadata.name}" has successfully progressed.`;
        const c = condition('Progressing', 'True', 'NewReplicaSetAvailable', msg, now);
        if (setCondition(next, c)) this.stamp(d, c);
      } else if (deploymentProgressing(d, next)) {
        const msg = newRS ? `ReplicaSet "${newRS.metadata.name}" is progressing.` : `Deployment "${d.metadata.name}" is progressing.`;
        const c = condition('Progressing', 'True', 'ReplicaSetUpdated', msg, now);
        if (current) {
          if (current.status === 'True') c.lastTransitionTime = current.lastTransitionTime;
          removeCondition(next, 'Progressing');
        }
        setCondition(next, this.stamp(d, c));
      } else if (this.timedOut(d, next)) {
        const msg = newRS
          ? `ReplicaSet "${newRS.metadata.name}" has timed out progressing.`
          : `Deployment "${d.metadata.name}" has timed out progressing.`;
        const c = condition('Progressing', 'False', 'ProgressDeadlineExceeded', msg, now);
        // No Event: the real controller only sets the condition.
        if (setCondition(next, c)) this.stamp(d, c);
      }
    }
    removeCondition(next, 'ReplicaFailure');
    const compacted = compact(next);
    if (canonical(compacted) === canonical(compact(d.status ?? {}))) {
      this.requeueStuck(d, compacted);
      return;
    }
    d.status = compacted;
    this.writeStatus(d);
  }

  /** DeploymentTimedOut. */
  private timedOut(d: Deployment, s: DeploymentStatus): boolean {
    if (!hasProgressDeadline(d)) return false;
    const c = getCondition(s, 'Progressing');
    if (!c || c.reason === 'NewReplicaSetAvailable') return false;
    if (c.reason === 'ProgressDeadlineExceeded') return true;
    return this.lastProgressMs(d, c) + this.deadlineMs(d) < Date.now();
  }

  /** requeueStuckDeployment: look again when the progress deadline would pass. */
  private requeueStuck(d: Deployment, s: DeploymentStatus): void {
    const c = getCondition(d.status, 'Progressing');
    if (!hasProgressDeadline(d) || !c) return;
    if (deploymentComplete(d, s) || c.reason === 'ProgressDeadlineExceeded') return;
    const after = this.lastProgressMs(d, c) + this.deadlineMs(d) - Date.now();
    this.enqueueAfter(keyOf(d.metadata.namespace, d.metadata.name), Math.max(1, after + 1));
  }
}

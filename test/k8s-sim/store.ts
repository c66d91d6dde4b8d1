/**
 * The object store: the simulator's etcd plus the API server's bookkeeping (uid, resourceVersion,
 * generation, creationTimestamp, generateName) and the event history that watches replay.
 *
 * Every change gets the next resourceVersion (one counter for all kinds, as in etcd). Events are
 * delivered synchronously to subscribers; controllers defer their work so they never re-enter.
 */
import { randomInt, randomUUID } from 'node:crypto';
import { alreadyExists, ApiError, conflict, invalid, notFound } from './errors.ts';
import { canonical, trackUpdate } from './managed.ts';
import { apiVersionOf, namespaceType, type ResourceType } from './resources/index.ts';
import type { KubeObject, ManagedFieldsEntry } from './types.ts';

/** Who writes, for `metadata.managedFields`; writes without a manager leave ownership as it is. */
export interface WriteOptions {
  /** The field manager of an `Update` operation (a client's fieldManager, `kube-controller-manager`, `kubelet`). */
  readonly manager?: string;
  /** Ownership already computed (server-side apply); stored as given. */
  readonly managedFields?: ManagedFieldsEntry[];
  /** The subresource the write came through, recorded on the manager's entry (`status`, `scale`). */
  readonly subresource?: string;
}

export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  readonly rv: number;
  readonly type: ChangeType;
  readonly resource: ResourceType;
  /** The object after the change (for DELETED: as it was when deleted, with the new resourceVersion). */
  readonly object: KubeObject;
  /** The object before the change (MODIFIED and DELETED). */
  readonly previous?: KubeObject;
}

const SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** RFC 3339 with second precision, as the API server writes metadata timestamps. */
export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const key = (ns: string | undefined, name: string): string => `${ns ?? ''}/${name}`;

export class Store {
  private rv = 1000;
  private readonly data = new Map<ResourceType, Map<string, KubeObject>>();
  private readonly listeners = new Set<(e: StoreEvent) => void>();
  /** Every change since the last compaction, oldest first. */
  readonly history: StoreEvent[] = [];
  /** Watches asking for a resourceVersion older than this get 410 Gone. */
  compactedRv = 0;
  readonly now: () => Date;
  /** The history kept for watches; older events are compacted away (etcd compacts every 5 minutes). */
  historyLimit = 100_000;

  constructor(now: () => Date = () => new Date()) {
    this.now = now;
  }

  resourceVersion(): string {
    return String(this.rv);
  }

  subscribe(fn: (e: StoreEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Forgets the history, as etcd compaction does: older resourceVersions can no longer be watched from. */
  compact(): void {
    this.compactedRv = this.rv;
    this.history.length = 0;
  }

  private bucket(type: ResourceType): Map<string, KubeObject> {
    let b = this.data.get(type);
    if (!b) {
      b = new Map();
      this.data.set(type, b);
    }
    return b;
  }

  private emit(type: ChangeType, resource: ResourceType, object: KubeObject, previous?: KubeObject): void {
    const event: StoreEvent = { rv: this.rv, type, resource, object: structuredClone(object), ...(previous ? { previous } : {}) };
    this.history.push(event);
    if (this.history.length > this.historyLimit) {
      const drop = this.history.splice(0, this.history.length - Math.floor(this.historyLimit * 0.9));
      this.compactedRv = drop.at(-1)!.rv;
    }
    for (const fn of [...this.listeners]) fn(event);
  }

  find(type: ResourceType, ns: string | undefined, name: string): KubeObject | undefined {
    const o = this.bucket(type).get(key(type.namespaced ? ns : undefined, name));
    return o ? structuredClone(o) : undefined;
  }

  get(type: ResourceType, ns: string | undefined, name: string): KubeObject {
    const o = this.find(type, ns, name);
    if (!o) throw notFound(type, name);
    return o;
  }

  list(type: ResourceType, ns?: string, filter: (o: KubeObject) => boolean = () => true): KubeObject[] {
    return [...this.bucket(type).values()]
      .filter((o) => (ns === undefined || !type.namespaced || o.metadata.namespace === ns) && filter(o))
      .sort((a, b) => Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion))
      .map((o) => structuredClone(o));
  }

  create(type: ResourceType, ns: string | undefined, input: KubeObject, options: WriteOptions = {}): KubeObject {
    const obj = structuredClone(input);
    obj.metadata ??= {};
    const meta = obj.metadata;
    if (!meta.name && meta.generateName)
      meta.name = meta.generateName + Array.from({ length: 5 }, () => SUFFIX_ALPHABET[randomInt(SUFFIX_ALPHABET.length)]).join('');
    const name = meta.name ?? '';
    if (!name)
      throw invalid(type, '', [
        { field: 'metadata.name', reason: 'FieldValueRequired', message: 'Required value: name or generateName is required' },
      ]);
    if (!NAME.test(name) || name.length > 253)
      throw invalid(type, name, [
        {
          field: 'metadata.name',
          message: `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`,
        },
      ]);
    if (type.namespaced) {
      if (meta.namespace && ns && meta.namespace !== ns)
        throw new ApiError(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
      meta.namespace = ns ?? meta.namespace ?? 'default';
    } else delete meta.namespace;
    const b = this.bucket(type);
    if (b.has(key(meta.namespace, name))) throw alreadyExists(type, name);
    if (type.namespaced && meta.namespace && !this.bucket(namespaceType).has(key(undefined, meta.namespace)))
      this.create(namespaceType, undefined, { metadata: { name: meta.namespace } });
    obj.apiVersion = apiVersionOf(type);
    obj.kind = type.kind;
    meta.uid = randomUUID();
    meta.creationTimestamp = rfc3339(this.now());
    meta.generation = 1;
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    delete meta.resourceVersion;
    type.prepareForCreate?.(obj);
    type.defaults?.(obj);
    const causes = type.validate?.(obj) ?? [];
    if (causes.length > 0) throw invalid(type, name, causes);
    this.own(type, undefined, obj, options);
    this.rv++;
    meta.resourceVersion = String(this.rv);
    b.set(key(meta.namespace, name), obj);
    this.emit('ADDED', type, obj);
    return structuredClone(obj);
  }

  /**
   * Replaces an object (PUT), or only its status with `subresource: 'status'`. A resourceVersion in
   * the body must match the stored one (409 Conflict otherwise); an empty one updates unconditionally.
   */
  update(
    type: ResourceType,
    ns: string | undefined,
    name: string,
    input: KubeObject,
    subresource?: 'status',
    options: WriteOptions = {},
  ): KubeObject {
    const b = this.bucket(type);
    const k = key(type.namespaced ? ns : undefined, name);
    const existing = b.get(k);
    if (!existing) throw notFound(type, name);
    if (input.metadata?.name && input.metadata.name !== name)
      throw new ApiError(400, 'BadRequest', `the name of the object (${input.metadata.name}) does not match the name on the URL (${name})`);
    const rv = input.metadata?.resourceVersion;
    if (rv && rv !== existing.metadata.resourceVersion) throw conflict(type, name);
    let next: KubeObject;
    if (subresource === 'status') {
      next = structuredClone(existing);
      next.status = structuredClone(input.status);
      if (next.status === undefined) delete next.status;
      if (type.statusWritesAnnotations) {
        next.metadata.annotations = structuredClone(input.metadata?.annotations);
        if (next.metadata.annotations === undefined) delete next.metadata.annotations;
      }
    } else {
      next = structuredClone(input);
      next.metadata ??= {};
      if (type.statusSubresource) next.status = structuredClone(existing.status);
      if (next.status === undefined) delete next.status;
      type.prepareForUpdate?.(next, existing);
      type.defaults?.(next);
    }
    next.apiVersion = existing.apiVersion;
    next.kind = existing.kind;
    const m = next.metadata;
    const old = existing.metadata;
    m.name = old.name;
    m.namespace = old.namespace;
    m.uid = old.uid;
    m.creationTimestamp = old.creationTimestamp;
    m.deletionTimestamp = old.deletionTimestamp;
    m.deletionGracePeriodSeconds = old.deletionGracePeriodSeconds;
    m.generation = canonical(next.spec) === canonical(existing.spec) ? old.generation : (old.generation ?? 1) + 1;
    m.resourceVersion = old.resourceVersion;
    if (m.deletionTimestamp === undefined) delete m.deletionTimestamp;
    if (m.deletionGracePeriodSeconds === undefined) delete m.deletionGracePeriodSeconds;
    // A request without managedFields (or with an empty list) keeps the stored ones.
    if (!m.managedFields || m.managedFields.length === 0) m.managedFields = structuredClone(old.managedFields);
    if (m.managedFields === undefined) delete m.managedFields;
    if (canonical(next) === canonical(existing) && !options.managedFields) return structuredClone(existing);
    const causes = [...(type.validate?.(next) ?? []), ...(subresource ? [] : (type.validateUpdate?.(next, existing) ?? []))];
    if (causes.length > 0) throw invalid(type, name, causes);
    this.own(type, existing, next, options);
    if (canonical(next) === canonical(existing)) return structuredClone(existing);
    this.rv++;
    m.resourceVersion = String(this.rv);
    b.set(k, next);
    this.emit('MODIFIED', type, next, existing);
    return structuredClone(next);
  }

  /** Read-modify-write for controllers (no resourceVersion check: they are the only writer of what they change). */
  mutate(
    type: ResourceType,
    ns: string | undefined,
    name: string,
    fn: (o: KubeObject) => void,
    subresource?: 'status',
    options: WriteOptions = {},
  ): KubeObject | undefined {
    const current = this.find(type, ns, name);
    if (!current) return undefined;
    fn(current);
    delete current.metadata.resourceVersion;
    return this.update(type, ns, name, current, subresource, options);
  }

  /** Sets managedFields on `next` as the write's options say. */
  private own(type: ResourceType, before: KubeObject | undefined, next: KubeObject, options: WriteOptions): void {
    if (options.managedFields) next.metadata.managedFields = structuredClone(options.managedFields);
    else if (options.manager !== undefined)
      next.metadata.managedFields = trackUpdate(before, next, {
        manager: options.manager,
        apiVersion: apiVersionOf(type),
        time: rfc3339(this.now()),
        ...(options.subresource ? { subresource: options.subresource } : {}),
      });
    if (next.metadata.managedFields?.length === 0) delete next.metadata.managedFields;
  }

  /**
   * Graceful deletion's first half: sets deletionTimestamp (now + grace) and
   * deletionGracePeriodSeconds, bumping generation as the API server does. The kubelet removes
   * the object once its containers have stopped.
   */
  markDeleting(type: ResourceType, ns: string | undefined, name: string, graceSeconds: number): KubeObject {
    const b = this.bucket(type);
    const k = key(type.namespaced ? ns : undefined, name);
    const existing = b.get(k);
    if (!existing) throw notFound(type, name);
    if (existing.metadata.deletionTimestamp) return structuredClone(existing);
    const next = structuredClone(existing);
    next.metadata.deletionTimestamp = rfc3339(new Date(this.now().getTime() + graceSeconds * 1000));
    next.metadata.deletionGracePeriodSeconds = graceSeconds;
    next.metadata.generation = (existing.metadata.generation ?? 1) + 1;
    this.rv++;
    next.metadata.resourceVersion = String(this.rv);
    b.set(k, next);
    this.emit('MODIFIED', type, next, existing);
    return structuredClone(next);
  }

  remove(type: ResourceType, ns: string | undefined, name: string): KubeObject {
    const b = this.bucket(type);
    const k = key(type.namespaced ? ns : undefined, name);
    const existing = b.get(k);
    if (!existing) throw notFound(type, name);
    b.delete(k);
    this.rv++;
    const gone = structuredClone(existing);
    gone.metadata.resourceVersion = String(this.rv);
    this.emit('DELETED', type, gone, existing);
    return structuredClone(gone);
  }
}

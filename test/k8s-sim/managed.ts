/**
 * Server-side apply and field ownership (`metadata.managedFields`), a faithful subset of
 * structured-merge-diff as the API server runs it:
 *
 * - A field set is the set of paths an object sets: leaf fields (scalars, atomic lists and maps,
 *   empty maps), items of associative lists by their keys (`k:{"name":"main"}`, with the item
 *   itself a member, written `.`), and items of sets (`v:"x"`). Serialized as FieldsV1.
 * - Apply merges the applied configuration into the live object (maps field by field, associative
 *   lists item by item, atomic values replaced), gives the manager exactly the applied set, drops
 *   what the manager applied before and no longer applies unless another manager owns it, and
 *   fails with 409 Conflict when a field it changes is owned by another manager (unless forced;
 *   forcing takes the field from them).
 * - Every other write (create, update, patch, status) is an `Update` operation: the writer takes
 *   the fields it added or changed, from everyone else.
 *
 * The schema is not the OpenAPI one: list semantics come from the field's name (containers, env,
 * ports, volumes, volumeMounts, conditions, ... are associative; `finalizers` is a set; other lists
 * are atomic; label selectors are atomic maps). See README.md for the exact table.
 */
import { ApiError } from './errors.ts';
import type { KubeObject, ManagedFieldsEntry } from './types.ts';

type Scalar = string | number | boolean | null;
export type PathElement =
  { readonly f: string } | { readonly k: Readonly<Record<string, Scalar>> } | { readonly v: unknown } | { readonly i: number };
export type Path = readonly PathElement[];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** JSON with sorted object keys: the form used for keys in FieldsV1 and for semantic equality. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isObject(v))
    return `{${Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

/** The FieldsV1 key of one element: `f:name`, `k:{"name":"c"}`, `v:"x"`, `i:0`. */
export function elementKey(pe: PathElement): string {
  if ('f' in pe) return `f:${pe.f}`;
  if ('k' in pe) return `k:${canonical(pe.k)}`;
  if ('v' in pe) return `v:${canonical(pe.v)}`;
  return `i:${pe.i}`;
}

const scalarString = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : canonical(v));

/** A path as the API server prints it in conflicts: `.spec.template.spec.containers[name="main"].image`. */
export function pathString(path: Path): string {
  return path
    .map((pe) => {
      if ('f' in pe) return `.${pe.f}`;
      if ('k' in pe)
        return `[${Object.keys(pe.k)
          .sort()
          .map((k) => `${k}=${scalarString(pe.k[k])}`)
          .join(',')}]`;
      if ('v' in pe) return `[=${scalarString(pe.v)}]`;
      return `[${pe.i}]`;
    })
    .join('');
}

const SEP = '\u0000';
const pathId = (path: Path): string => path.map(elementKey).join(SEP);

// ---------------------------------------------------------------------------------------------
// The schema subset: how lists and maps merge, by field name.

export type ListSemantics =
  | { readonly type: 'map'; readonly keys: readonly string[]; readonly defaults?: Readonly<Record<string, Scalar>> }
  | { readonly type: 'set' }
  | { readonly type: 'atomic' };

const byName: ListSemantics = { type: 'map', keys: ['name'] };
const LISTS: Record<string, ListSemantics> = {
  containers: byName,
  initContainers: byName,
  ephemeralContainers: byName,
  env: byName,
  volumes: byName,
  imagePullSecrets: byName,
  resourceClaims: byName,
  volumeMounts: { type: 'map', keys: ['mountPath'] },
  volumeDevices: { type: 'map', keys: ['devicePath'] },
  conditions: { type: 'map', keys: ['type'] },
  ownerReferences: { type: 'map', keys: ['uid'] },
  hostAliases: { type: 'map', keys: ['ip'] },
  topologySpreadConstraints: { type: 'map', keys: ['topologyKey', 'whenUnsatisfiable'] },
  finalizers: { type: 'set' },
};

/**
 * The semantics of the list at `names` (the field names from the root, list items skipped):
 * container ports by (containerPort, protocol), Service ports by (port, protocol), protocol
 * defaulting to TCP in the key.
 */
export function listSemantics(names: readonly string[]): ListSemantics {
  const last = names.at(-1) ?? '';
  if (last === 'ports') {
    const parent = names.at(-2);
    if (parent === 'containers' || parent === 'initContainers' || parent === 'ephemeralContainers')
      return { type: 'map', keys: ['containerPort', 'protocol'], defaults: { protocol: 'TCP' } };
    if (names.length === 2 && names[0] === 'spec') return { type: 'map', keys: ['port', 'protocol'], defaults: { protocol: 'TCP' } };
    return { type: 'atomic' };
  }
  if (last === 'conditions' && names[0] !== 'status') return { type: 'atomic' };
  return LISTS[last] ?? { type: 'atomic' };
}

/** Maps replaced as a whole: label selectors (`+structType=atomic`), node selectors. */
export function atomicMap(names: readonly string[]): boolean {
  const last = names.at(-1) ?? '';
  return last === 'selector' || last === 'labelSelector' || last === 'namespaceSelector' || last === 'nodeSelector';
}

function itemKey(item: unknown, sem: ListSemantics & { type: 'map' }): Record<string, Scalar> | undefined {
  if (!isObject(item)) return undefined;
  const key: Record<string, Scalar> = {};
  for (const k of sem.keys) {
    const v = item[k] ?? sem.defaults?.[k];
    if (v === undefined) return undefined;
    key[k] = v as Scalar;
  }
  return key;
}

function listElement(item: unknown, index: number, sem: ListSemantics): PathElement {
  if (sem.type === 'map') {
    const k = itemKey(item, sem);
    if (k) return { k };
  }
  if (sem.type === 'set') return { v: item };
  return { i: index };
}

/** Metadata the API server never records as owned (stripMeta). */
const STRIPPED = new Set(['apiVersion', 'kind']);
const STRIPPED_META = new Set([
  'name',
  'namespace',
  'creationTimestamp',
  'selfLink',
  'uid',
  'generation',
  'managedFields',
  'resourceVersion',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
]);

export interface Member {
  readonly path: Path;
  /** A leaf (its value is compared as a whole); false for list items, which own their fields separately. */
  readonly leaf: boolean;
  readonly value: unknown;
}

/** Every member path of an object, with values: the field set ToFieldSet computes. */
export function members(obj: unknown): Map<string, Member> {
  const out = new Map<string, Member>();
  const add = (path: Path, leaf: boolean, value: unknown): void => {
    out.set(pathId(path), { path, leaf, value });
  };
  const walk = (v: unknown, path: PathElement[], names: string[]): void => {
    if (Array.isArray(v)) {
      const sem = listSemantics(names);
      if (sem.type === 'atomic') return add(path, true, v);
      v.forEach((item, i) => {
        const pe = listElement(item, i, sem);
        const p = [...path, pe];
        if (sem.type === 'set' || 'i' in pe) return add(p, true, item);
        add(p, false, undefined);
        walkMap(item, p, names);
      });
      return;
    }
    if (isObject(v)) {
      if (atomicMap(names) || Object.keys(v).length === 0) return add(path, true, v);
      return walkMap(v, path, names);
    }
    add(path, true, v);
  };
  const walkMap = (m: unknown, path: PathElement[], names: string[]): void => {
    if (!isObject(m)) return;
    for (const [k, child] of Object.entries(m)) {
      if (child === undefined) continue;
      if (path.length === 0 && STRIPPED.has(k)) continue;
      if (path.length === 1 && 'f' in path[0] && path[0].f === 'metadata' && STRIPPED_META.has(k)) continue;
      walk(child, [...path, { f: k }], [...names, k]);
    }
  };
  walkMap(obj, [], []);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Field sets: paths keyed by their id.

export type FieldSet = Map<string, Path>;

export function fieldSetOf(obj: unknown): FieldSet {
  const out: FieldSet = new Map();
  for (const [id, m] of members(obj)) out.set(id, m.path);
  return out;
}

function parseElement(key: string): PathElement {
  const body = key.slice(2);
  switch (key.slice(0, 2)) {
    case 'f:':
      return { f: body };
    case 'k:':
      return { k: JSON.parse(body) as Record<string, Scalar> };
    case 'v:':
      return { v: JSON.parse(body) as unknown };
    case 'i:':
      return { i: Number(body) };
    default:
      throw new Error(`bad FieldsV1 key ${key}`);
  }
}

export function fromFieldsV1(json: Record<string, unknown> | undefined): FieldSet {
  const out: FieldSet = new Map();
  const walk = (node: Record<string, unknown>, path: PathElement[]): void => {
    const keys = Object.keys(node);
    if (path.length > 0 && (keys.length === 0 || keys.includes('.'))) out.set(pathId(path), path);
    for (const k of keys) {
      if (k === '.') continue;
      const child = node[k];
      walk(isObject(child) ? child : {}, [...path, parseElement(k)]);
    }
  };
  if (json) walk(json, []);
  return out;
}

const ORDER: Record<string, number> = { f: 0, k: 1, v: 2, i: 3 };

export function toFieldsV1(set: FieldSet): Record<string, unknown> {
  interface Node {
    member: boolean;
    children: Map<string, Node>;
  }
  const root: Node = { member: false, children: new Map() };
  for (const path of set.values()) {
    let n = root;
    for (const pe of path) {
      const k = elementKey(pe);
      let c = n.children.get(k);
      if (!c) {
        c = { member: false, children: new Map() };
        n.children.set(k, c);
      }
      n = c;
    }
    n.member = true;
  }
  const render = (n: Node): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    if (n.member && n.children.size > 0) out['.'] = {};
    const keys = [...n.children.keys()].sort((a, b) => ORDER[a[0]] - ORDER[b[0]] || (a < b ? -1 : a > b ? 1 : 0));
    for (const k of keys) out[k] = render(n.children.get(k)!);
    return out;
  };
  return render(root);
}

const union = (a: FieldSet, b: FieldSet): FieldSet => new Map([...a, ...b]);
const minus = (a: FieldSet, b: FieldSet): FieldSet => new Map([...a].filter(([id]) => !b.has(id)));
const intersect = (a: FieldSet, b: FieldSet): FieldSet => new Map([...a].filter(([id]) => b.has(id)));

/** Whether `set` holds `id` or anything below it. */
function ownsAtOrBelow(set: FieldSet, id: string): boolean {
  if (set.has(id)) return true;
  for (const other of set.keys()) if (other.startsWith(id + SEP)) return true;
  return false;
}

interface Comparison {
  added: FieldSet;
  removed: FieldSet;
  modified: FieldSet;
}

function compare(before: unknown, after: unknown): Comparison {
  const a = members(before);
  const b = members(after);
  const added: FieldSet = new Map();
  const removed: FieldSet = new Map();
  const modified: FieldSet = new Map();
  for (const [id, m] of b) {
    const old = a.get(id);
    if (!old) added.set(id, m.path);
    else if (m.leaf && old.leaf && canonical(m.value) !== canonical(old.value)) modified.set(id, m.path);
  }
  for (const [id, m] of a) if (!b.has(id)) removed.set(id, m.path);
  return { added, removed, modified };
}

// ---------------------------------------------------------------------------------------------
// Merge and prune.

/** Merges an applied configuration into the live object, by the schema subset above. */
export function mergeApplied(live: unknown, config: unknown, names: readonly string[] = []): unknown {
  if (Array.isArray(config)) {
    const sem = listSemantics(names);
    if (sem.type === 'atomic' || !Array.isArray(live)) return structuredClone(config);
    const out = [...(live as unknown[])];
    if (sem.type === 'set') {
      for (const v of config) if (!out.some((x) => canonical(x) === canonical(v))) out.push(structuredClone(v));
      return out;
    }
    for (const item of config) {
      const key = itemKey(item, sem);
      const idx = key ? out.findIndex((x) => canonical(itemKey(x, sem)) === canonical(key)) : -1;
      if (idx >= 0) out[idx] = mergeApplied(out[idx], item, names);
      else out.push(structuredClone(item));
    }
    return out;
  }
  if (isObject(config)) {
    if (atomicMap(names) || !isObject(live)) return structuredClone(config);
    const out: Record<string, unknown> = { ...live };
    for (const [k, v] of Object.entries(config)) {
      if (v === null) delete out[k];
      else out[k] = mergeApplied(out[k], v, [...names, k]);
    }
    return out;
  }
  return structuredClone(config);
}

/** Removes the value at `path` from `obj` (in place); missing paths are ignored. */
function removePath(obj: unknown, path: Path, names: string[] = []): void {
  const [head, ...rest] = path;
  if (!head) return;
  if ('f' in head) {
    if (!isObject(obj)) return;
    if (rest.length === 0) delete obj[head.f];
    else removePath(obj[head.f], rest, [...names, head.f]);
    return;
  }
  if (!Array.isArray(obj)) return;
  const sem = listSemantics(names);
  const idx = obj.findIndex((item, i) => elementKey(listElement(item, i, sem)) === elementKey(head));
  if (idx < 0) return;
  if (rest.length === 0) obj.splice(idx, 1);
  else removePath(obj[idx], rest, names);
}

// ---------------------------------------------------------------------------------------------
// Managers.

interface ManagerEntry {
  entry: ManagedFieldsEntry;
  set: FieldSet;
}

const entryId = (e: Pick<ManagedFieldsEntry, 'manager' | 'operation' | 'subresource'>): string =>
  `${e.operation}\u0000${e.manager}\u0000${e.subresource ?? ''}`;

function decode(entries: readonly ManagedFieldsEntry[] | undefined): Map<string, ManagerEntry> {
  const out = new Map<string, ManagerEntry>();
  for (const e of entries ?? []) {
    if (!e.manager && !e.operation) continue;
    out.set(entryId(e), { entry: e, set: fromFieldsV1(e.fieldsV1) });
  }
  return out;
}

function encode(managers: Map<string, ManagerEntry>): ManagedFieldsEntry[] {
  const list: ManagedFieldsEntry[] = [];
  for (const { entry, set } of managers.values()) {
    if (set.size === 0) continue;
    list.push({
      manager: entry.manager,
      operation: entry.operation,
      apiVersion: entry.apiVersion,
      ...(entry.time ? { time: entry.time } : {}),
      fieldsType: 'FieldsV1',
      fieldsV1: toFieldsV1(set),
      ...(entry.subresource ? { subresource: entry.subresource } : {}),
    });
  }
  // The API server's order: operation (Apply before Update), then time, manager, apiVersion, subresource.
  const seconds = (e: ManagedFieldsEntry): number => (e.time ? Date.parse(e.time) : 0);
  return list.sort(
    (p, q) =>
      p.operation.localeCompare(q.operation) ||
      seconds(p) - seconds(q) ||
      (p.manager < q.manager ? -1 : p.manager > q.manager ? 1 : 0) ||
      p.apiVersion.localeCompare(q.apiVersion) ||
      (p.subresource ?? '').localeCompare(q.subresource ?? ''),
  );
}

/** How the API server names a manager in a conflict message. */
function printManager(e: ManagedFieldsEntry): string {
  let s = JSON.stringify(e.manager);
  if (e.subresource) s += ` with subresource ${JSON.stringify(e.subresource)}`;
  if (e.operation === 'Update') s += ` using ${e.apiVersion}`;
  return s;
}

export function applyConflict(conflicts: readonly { entry: ManagedFieldsEntry; path: Path }[]): ApiError {
  const causes = conflicts.map((c) => ({
    reason: 'FieldManagerConflict',
    message: `conflict with ${printManager(c.entry)}`,
    field: pathString(c.path),
  }));
  let message: string;
  if (conflicts.length === 1)
    message = `Apply failed with 1 conflict: conflict with ${printManager(conflicts[0].entry)}: ${pathString(conflicts[0].path)}`;
  else {
    const by = new Map<string, { entry: ManagedFieldsEntry; paths: Path[] }>();
    for (const c of conflicts) {
      const id = entryId(c.entry);
      const g = by.get(id) ?? { entry: c.entry, paths: [] };
      g.paths.push(c.path);
      by.set(id, g);
    }
    const lines: string[] = [];
    for (const id of [...by.keys()].sort()) {
      const g = by.get(id)!;
      lines.push(`conflicts with ${printManager(g.entry)}:`);
      for (const p of g.paths) lines.push(`- ${pathString(p)}`);
    }
    message = `Apply failed with ${conflicts.length} conflicts: ${lines.join('\n')}`;
  }
  return new ApiError(409, 'Conflict', message, { causes });
}

export interface ApplyResult {
  readonly object: KubeObject;
  readonly managedFields: ManagedFieldsEntry[];
}

export interface ManagerIdentity {
  readonly manager: string;
  readonly apiVersion: string;
  /** RFC 3339 time of the write. */
  readonly time: string;
  readonly subresource?: string;
}

/**
 * Server-side apply of `config` onto `live` (undefined: the object is created), by `who`.
 * Throws the API server's 409 Conflict when another manager owns a field this apply changes.
 */
export function apply(live: KubeObject | undefined, config: KubeObject, who: ManagerIdentity, force: boolean): ApplyResult {
  const base: KubeObject = live ? structuredClone(live) : { metadata: {} };
  const managers = decode(live?.metadata.managedFields);
  const id = entryId({ manager: who.manager, operation: 'Apply', subresource: who.subresource });
  const lastSet = managers.get(id)?.set ?? new Map<string, Path>();
  const configSet = fieldSetOf(config);
  let merged = mergeApplied(base, config) as KubeObject;
  // Prune: what this manager applied last time and no longer applies, unless someone else owns it.
  const others = [...managers].filter(([k]) => k !== id).map(([, m]) => m.set);
  for (const [pid, path] of minus(lastSet, configSet))
    if (!others.some((s) => ownsAtOrBelow(s, pid))) {
      merged = structuredClone(merged);
      removePath(merged, path);
    }
  const diff = compare(base, merged);
  const changed = union(diff.modified, diff.added);
  const conflicts: { entry: ManagedFieldsEntry; path: Path }[] = [];
  for (const [k, m] of managers) {
    if (k === id || m.entry.manager === who.manager) continue;
    for (const path of intersect(m.set, changed).values()) conflicts.push({ entry: m.entry, path });
  }
  if (conflicts.length > 0 && !force) throw applyConflict(conflicts);
  for (const [k, m] of managers) {
    if (k === id) continue;
    m.set = minus(minus(m.set, changed), diff.removed);
  }
  const prev = managers.get(id);
  const same = prev && prev.set.size === configSet.size && [...configSet.keys()].every((p) => prev.set.has(p));
  managers.set(id, {
    entry: {
      manager: who.manager,
      operation: 'Apply',
      apiVersion: who.apiVersion,
      time: same && prev.entry.time ? prev.entry.time : who.time,
      ...(who.subresource ? { subresource: who.subresource } : {}),
    },
    set: configSet,
  });
  return { object: merged, managedFields: encode(managers) };
}

/**
 * The ownership change of a non-apply write (an `Update` operation): `who` takes every field it
 * added or changed from `before` to `after`, and loses (like everyone) the fields removed. The
 * starting records are `after`'s managedFields (the store resolves them: the stored ones unless
 * the request brought its own).
 */
export function trackUpdate(before: KubeObject | undefined, after: KubeObject, who: ManagerIdentity): ManagedFieldsEntry[] {
  const managers = decode(after.metadata.managedFields);
  const diff = compare(before ?? { metadata: {} }, after);
  const changed = union(diff.modified, diff.added);
  const id = entryId({ manager: who.manager, operation: 'Update', subresource: who.subresource });
  for (const [k, m] of managers) if (k !== id) m.set = minus(minus(m.set, changed), diff.removed);
  const prev = managers.get(id);
  const set = union(minus(prev?.set ?? new Map<string, Path>(), diff.removed), changed);
  const grew = changed.size > 0 || !prev;
  managers.set(id, {
    entry: {
      manager: who.manager,
      operation: 'Update',
      apiVersion: who.apiVersion,
      time: grew || !prev?.entry.time ? who.time : prev.entry.time,
      ...(who.subresource ? { subresource: who.subresource } : {}),
    },
    set,
  });
  return encode(managers);
}

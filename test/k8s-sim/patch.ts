/**
 * The three patch types the client sends: JSON patch (RFC 6902), JSON merge patch (RFC 7386) and
 * a simple strategic merge patch (lists of objects merged by their merge key; `$patch` directives
 * and `$setElementOrder` are not supported). Server-side apply is not implemented.
 */
import { badRequest } from './errors.ts';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const isObject = (v: unknown): v is Record<string, Json> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** Merge keys of the lists that Kubernetes merges element-wise (by field name). */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  ports: 'containerPort',
  conditions: 'type',
  ownerReferences: 'uid',
  imagePullSecrets: 'name',
};

export function strategicMergePatch(target: unknown, patch: unknown, field = ''): unknown {
  if (Array.isArray(patch)) {
    const key = MERGE_KEYS[field];
    if (!key || !Array.isArray(target)) return structuredClone(patch);
    const out = [...(target as unknown[])];
    for (const item of patch) {
      const idx = isObject(item) ? out.findIndex((e) => isObject(e) && e[key] === item[key]) : -1;
      if (idx >= 0) out[idx] = strategicMergePatch(out[idx], item);
      else out.push(structuredClone(item));
    }
    return out;
  }
  if (!isObject(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$')) throw badRequest(`the simulator does not support strategic merge directive ${k}`);
    if (v === null) delete out[k];
    else out[k] = strategicMergePatch(out[k], v, k);
  }
  return out;
}

interface Operation {
  op: string;
  path: string;
  value?: unknown;
  from?: string;
}

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw badRequest(`json patch: invalid path '${path}'`);
  return path
    .slice(1)
    .split('/')
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parentOf(doc: unknown, parts: string[], path: string): unknown {
  let cur = doc;
  for (const p of parts.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[Number(p)];
    else if (isObject(cur)) cur = cur[p];
    else cur = undefined;
    if (cur === undefined) throw badRequest(`json patch: path '${path}' does not exist`);
  }
  return cur;
}

function getAt(doc: unknown, path: string): unknown {
  let cur = doc;
  for (const p of pointer(path)) {
    if (Array.isArray(cur)) cur = cur[Number(p)];
    else if (isObject(cur)) cur = cur[p];
    else return undefined;
  }
  return cur;
}

function remove(doc: unknown, path: string): void {
  const parts = pointer(path);
  const parent = parentOf(doc, parts, path);
  const last = parts.at(-1)!;
  if (Array.isArray(parent)) {
    const i = Number(last);
    if (!(i >= 0 && i < parent.length)) throw badRequest(`json patch: path '${path}' does not exist`);
    parent.splice(i, 1);
  } else if (isObject(parent) && Object.hasOwn(parent, last)) delete parent[last];
  else throw badRequest(`json patch: path '${path}' does not exist`);
}

function add(doc: unknown, path: string, value: unknown, replace: boolean): unknown {
  const parts = pointer(path);
  if (parts.length === 0) return structuredClone(value);
  const parent = parentOf(doc, parts, path);
  const last = parts.at(-1)!;
  const v = structuredClone(value) as Json;
  if (Array.isArray(parent)) {
    const i = last === '-' ? parent.length : Number(last);
    if (!(i >= 0 && i <= parent.length)) throw badRequest(`json patch: index out of range in '${path}'`);
    if (replace) parent[i] = v;
    else parent.splice(i, 0, v);
  } else if (isObject(parent)) {
    if (replace && !Object.hasOwn(parent, last)) throw badRequest(`json patch: path '${path}' does not exist`);
    parent[last] = v;
  } else throw badRequest(`json patch: path '${path}' does not exist`);
  return doc;
}

export function jsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw badRequest('json patch: the body must be an array of operations');
  let doc = structuredClone(target);
  for (const raw of ops as Operation[]) {
    switch (raw.op) {
      case 'add':
        doc = add(doc, raw.path, raw.value, false);
        break;
      case 'replace':
        doc = add(doc, raw.path, raw.value, true);
        break;
      case 'remove':
        remove(doc, raw.path);
        break;
      case 'test':
        if (JSON.stringify(getAt(doc, raw.path)) !== JSON.stringify(raw.value))
          throw badRequest(`json patch: test failed at '${raw.path}'`);
        break;
      case 'copy':
      case 'move': {
        const value = getAt(doc, raw.from ?? '');
        if (value === undefined) throw badRequest(`json patch: from '${raw.from}' does not exist`);
        if (raw.op === 'move') remove(doc, raw.from ?? '');
        doc = add(doc, raw.path, value, false);
        break;
      }
      default:
        throw badRequest(`json patch: unknown operation '${raw.op}'`);
    }
  }
  return doc;
}

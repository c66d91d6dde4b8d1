/**
 * What the kubelet resolves before it starts a container: its environment (`env` with `valueFrom`
 * secretKeyRef / configMapKeyRef / fieldRef, `envFrom`), and the pod's volumes that live on the
 * node (emptyDir, secret and configMap volumes become directories of this machine). A missing
 * Secret is the kubelet's `CreateContainerConfigError` (env) or a pod stuck in ContainerCreating
 * with a FailedMount event (volume), until it appears.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { secretType, secretValue, type ResourceType } from './resources/index.ts';
import type { Store } from './store.ts';
import type { Container, Pod, Secret } from './types.ts';

type Lookup = { data: Record<string, string> } | { missing: string };

function configMapType(types: readonly ResourceType[]): ResourceType | undefined {
  return types.find((t) => t.group === '' && t.plural === 'configmaps');
}

function lookup(store: Store, types: readonly ResourceType[], ns: string, kind: 'secret' | 'configmap', name: string): Lookup {
  if (kind === 'secret') {
    const s: Secret | undefined = store.find(secretType, ns, name);
    if (!s) return { missing: `secret "${name}" not found` };
    const data: Record<string, string> = {};
    for (const k of Object.keys(s.data ?? {})) data[k] = secretValue(s, k) ?? '';
    return { data };
  }
  const t = configMapType(types);
  const cm = t ? store.find(t, ns, name) : undefined;
  if (!cm) return { missing: `configmap "${name}" not found` };
  return { data: { ...(cm['data'] as Record<string, string> | undefined) } };
}

function fieldRef(pod: Pod, fieldPath: string): string | undefined {
  const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
  if (m) return (m[1] === 'labels' ? pod.metadata.labels : pod.metadata.annotations)?.[m[2]];
  switch (fieldPath) {
    case 'metadata.name':
      return pod.metadata.name;
    case 'metadata.namespace':
      return pod.metadata.namespace;
    case 'metadata.uid':
      return pod.metadata.uid;
    case 'spec.nodeName':
      return pod.spec.nodeName;
    case 'spec.serviceAccountName':
      return pod.spec.serviceAccountName;
    case 'status.podIP':
      return pod.status?.podIP;
    case 'status.hostIP':
      return pod.status?.hostIP;
    default:
      return undefined;
  }
}

/** The container's environment, or the kubelet's CreateContainerConfigError message. */
export function resolveEnv(
  store: Store,
  types: readonly ResourceType[],
  pod: Pod,
  c: Container,
): { env: Record<string, string> } | { error: string } {
  const ns = pod.metadata.namespace ?? 'default';
  const env: Record<string, string> = {};
  for (const from of c.envFrom ?? []) {
    const ref = from.secretRef ?? from.configMapRef;
    if (!ref) continue;
    const found = lookup(store, types, ns, from.secretRef ? 'secret' : 'configmap', ref.name);
    if ('missing' in found) {
      if (ref.optional) continue;
      return { error: found.missing };
    }
    for (const [k, v] of Object.entries(found.data)) env[`${from.prefix ?? ''}${k}`] = v;
  }
  for (const e of c.env ?? []) {
    if (e.value !== undefined) {
      env[e.name] = e.value.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (all, name: string) => env[name] ?? all);
      continue;
    }
    const vf = e.valueFrom;
    if (!vf) {
      env[e.name] = '';
      continue;
    }
    const keyRef = vf.secretKeyRef ?? vf.configMapKeyRef;
    if (keyRef) {
      const kind = vf.secretKeyRef ? 'secret' : 'configmap';
      const found = lookup(store, types, ns, kind, keyRef.name);
      if ('missing' in found) {
        if (keyRef.optional) continue;
        return { error: found.missing };
      }
      if (!(keyRef.key in found.data)) {
        if (keyRef.optional) continue;
        return { error: `couldn't find key ${keyRef.key} in ${kind === 'secret' ? 'Secret' : 'ConfigMap'} ${ns}/${keyRef.name}` };
      }
      env[e.name] = found.data[keyRef.key];
      continue;
    }
    if (vf.fieldRef) env[e.name] = fieldRef(pod, vf.fieldRef.fieldPath) ?? '';
  }
  return { env };
}

/** The node-local directories of one pod's volumes. */
export class PodVolumes {
  private root: string | undefined;
  /** Volume name → directory on this machine. */
  readonly dirs = new Map<string, string>();

  /**
   * Materializes emptyDir, secret and configMap volumes; returns the FailedMount message of the
   * first volume that cannot be set up (a missing Secret), or undefined when all are ready.
   */
  async prepare(store: Store, types: readonly ResourceType[], pod: Pod): Promise<string | undefined> {
    const ns = pod.metadata.namespace ?? 'default';
    for (const v of pod.spec.volumes ?? []) {
      if (this.dirs.has(v.name)) continue;
      let files: Record<string, string> | undefined;
      if (v.secret || v.configMap) {
        const ref = v.secret ? { name: v.secret.secretName ?? '', ...v.secret } : { ...v.configMap, name: v.configMap?.name ?? '' };
        const found = lookup(store, types, ns, v.secret ? 'secret' : 'configmap', ref.name);
        if ('missing' in found) {
          if (ref.optional) files = {};
          else return `MountVolume.SetUp failed for volume "${v.name}" : ${found.missing}`;
        } else {
          files = {};
          const items = ref.items;
          if (items) for (const it of items) files[it.path] = found.data[it.key] ?? '';
          else files = found.data;
        }
      } else if (!v.emptyDir) continue;
      this.root ??= await mkdtemp(path.join(tmpdir(), `k8s-sim-${(pod.metadata.name ?? 'pod').slice(0, 40)}-`));
      const dir = path.join(this.root, v.name);
      await mkdir(dir, { recursive: true });
      for (const [name, content] of Object.entries(files ?? {})) {
        await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
        await writeFile(path.join(dir, name), content);
      }
      this.dirs.set(v.name, dir);
    }
    return undefined;
  }

  async cleanup(): Promise<void> {
    if (this.root) await rm(this.root, { recursive: true, force: true });
    this.root = undefined;
    this.dirs.clear();
  }
}

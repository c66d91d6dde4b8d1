/**
 * Deletion with propagation, as the garbage collector does it through ownerReferences:
 * Orphan removes the owner reference from dependents, Background deletes the owner then its
 * dependents, Foreground deletes the dependents first. (The real Foreground keeps the owner visible
 * with a deletionTimestamp and a finalizer until its dependents are gone; here it is all at once.)
 *
 * Pods are deleted gracefully, as the API server does for a pod bound to a node and not finished:
 * DELETE sets deletionTimestamp and deletionGracePeriodSeconds, the kubelet stops the containers
 * and then removes the pod. A grace period of 0 (or an unbound or finished pod) removes it at once.
 */
import { podType, type ResourceType } from '../resources/index.ts';
import type { Store } from '../store.ts';
import type { KubeObject, Pod } from '../types.ts';

export type PropagationPolicy = 'Orphan' | 'Background' | 'Foreground';

function dependents(store: Store, types: readonly ResourceType[], owner: KubeObject): [ResourceType, KubeObject][] {
  const uid = owner.metadata.uid;
  const out: [ResourceType, KubeObject][] = [];
  for (const t of types)
    for (const o of store.list(t, owner.metadata.namespace, (x) => (x.metadata.ownerReferences ?? []).some((r) => r.uid === uid)))
      out.push([t, o]);
  return out;
}

/** Removes an object, or for a running pod starts its graceful termination; returns what DELETE answers. */
export function removeOrTerminate(
  store: Store,
  type: ResourceType,
  ns: string | undefined,
  name: string,
  graceSeconds?: number,
): KubeObject {
  if (type === podType) {
    const pod = store.get(type, ns, name) as Pod;
    const grace = graceSeconds ?? pod.metadata.deletionGracePeriodSeconds ?? pod.spec.terminationGracePeriodSeconds ?? 30;
    const finished = pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
    if (grace > 0 && pod.spec.nodeName && !finished) return store.markDeleting(type, ns, name, grace);
  }
  return store.remove(type, ns, name);
}

export function deleteWithPropagation(
  store: Store,
  types: readonly ResourceType[],
  type: ResourceType,
  ns: string | undefined,
  name: string,
  policy: PropagationPolicy = type.defaultPropagation,
  graceSeconds?: number,
): KubeObject {
  const owner = store.get(type, ns, name);
  const deps = dependents(store, types, owner);
  if (policy === 'Orphan') {
    for (const [t, d] of deps)
      store.mutate(t, d.metadata.namespace, d.metadata.name!, (o) => {
        o.metadata.ownerReferences = (o.metadata.ownerReferences ?? []).filter((r) => r.uid !== owner.metadata.uid);
        if (o.metadata.ownerReferences.length === 0) delete o.metadata.ownerReferences;
      });
    return removeOrTerminate(store, type, ns, name, graceSeconds);
  }
  if (policy === 'Foreground') {
    for (const [t, d] of deps)
      if (store.find(t, d.metadata.namespace, d.metadata.name!))
        deleteWithPropagation(store, types, t, d.metadata.namespace, d.metadata.name!, 'Foreground');
    return removeOrTerminate(store, type, ns, name, graceSeconds);
  }
  const gone = removeOrTerminate(store, type, ns, name, graceSeconds);
  setImmediate(() => {
    for (const [t, d] of deps) {
      const current = store.find(t, d.metadata.namespace, d.metadata.name!);
      if (current && !current.metadata.deletionTimestamp)
        deleteWithPropagation(store, types, t, d.metadata.namespace, d.metadata.name!, 'Background');
    }
  });
  return gone;
}

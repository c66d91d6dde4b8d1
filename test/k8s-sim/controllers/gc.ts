/**
 * Deletion with propagation, as the garbage collector does it through ownerReferences:
 * Orphan removes the owner reference from dependents, Background deletes the owner then its
 * dependents, Foreground deletes the dependents first. (The real Foreground keeps the owner visible
 * with a deletionTimestamp and a finalizer until its dependents are gone; here it is all at once.)
 */
import type { ResourceType } from '../resources/index.ts';
import type { Store } from '../store.ts';
import type { KubeObject } from '../types.ts';

export type PropagationPolicy = 'Orphan' | 'Background' | 'Foreground';

function dependents(store: Store, types: readonly ResourceType[], owner: KubeObject): [ResourceType, KubeObject][] {
  const uid = owner.metadata.uid;
  const out: [ResourceType, KubeObject][] = [];
  for (const t of types)
    for (const o of store.list(t, owner.metadata.namespace, (x) => (x.metadata.ownerReferences ?? []).some((r) => r.uid === uid)))
      out.push([t, o]);
  return out;
}

export function deleteWithPropagation(
  store: Store,
  types: readonly ResourceType[],
  type: ResourceType,
  ns: string | undefined,
  name: string,
  policy: PropagationPolicy = type.defaultPropagation,
): KubeObject {
  const owner = store.get(type, ns, name);
  const deps = dependents(store, types, owner);
  if (policy === 'Orphan') {
    for (const [t, d] of deps)
      store.mutate(t, d.metadata.namespace, d.metadata.name!, (o) => {
        o.metadata.ownerReferences = (o.metadata.ownerReferences ?? []).filter((r) => r.uid !== owner.metadata.uid);
        if (o.metadata.ownerReferences.length === 0) delete o.metadata.ownerReferences;
      });
    return store.remove(type, ns, name);
  }
  if (policy === 'Foreground') {
    for (const [t, d] of deps)
      if (store.find(t, d.metadata.namespace, d.metadata.name!))
        deleteWithPropagation(store, types, t, d.metadata.namespace, d.metadata.name!, 'Foreground');
    return store.remove(type, ns, name);
  }
  const gone = store.remove(type, ns, name);
  setImmediate(() => {
    for (const [t, d] of deps)
      if (store.find(t, d.metadata.namespace, d.metadata.name!))
        deleteWithPropagation(store, types, t, d.metadata.namespace, d.metadata.name!, 'Background');
  });
  return gone;
}

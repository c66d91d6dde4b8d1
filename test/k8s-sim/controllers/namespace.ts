/** The namespace controller's cleanup: a deleted Namespace takes what was in it (pods gracefully). */
import { namespaceType, type ResourceType } from '../resources/index.ts';
import type { StoreEvent } from '../store.ts';
import { deleteWithPropagation } from './gc.ts';
import { Reconciler } from './queue.ts';

export class NamespaceController extends Reconciler {
  private readonly types: () => readonly ResourceType[];

  constructor(store: ConstructorParameters<typeof Reconciler>[0], types: () => readonly ResourceType[]) {
    super(store);
    this.types = types;
  }

  protected observe(e: StoreEvent): void {
    if (e.resource === namespaceType && e.type === 'DELETED') this.enqueue(e.object.metadata.name!);
  }

  protected sync(ns: string): void {
    if (this.store.find(namespaceType, undefined, ns)) return;
    for (const t of this.types())
      if (t.namespaced)
        for (const o of this.store.list(t, ns))
          if (this.store.find(t, ns, o.metadata.name!) && !o.metadata.deletionTimestamp)
            deleteWithPropagation(this.store, this.types(), t, ns, o.metadata.name!, 'Background');
  }
}

/**
 * A Gateway API implementation's status writer for HTTPRoutes: every parentRef is accepted (the
 * simulator has no Gateway objects) and `ResolvedRefs` says whether each Service backend exists,
 * as route status looks with a real implementation (reasons Accepted, ResolvedRefs,
 * BackendNotFound; observedGeneration per condition).
 */
import { canonical } from '../managed.ts';
import { httpRouteType, serviceType, type HTTPRoute } from '../resources/index.ts';
import { rfc3339, type StoreEvent } from '../store.ts';
import type { Condition } from '../types.ts';
import { keyOf, Reconciler, splitKey } from './queue.ts';

export const GATEWAY_CONTROLLER_NAME = 'k8s-sim.modelship.dev/gateway-controller';

export class HttpRouteController extends Reconciler {
  protected observe(e: StoreEvent): void {
    if (e.resource === httpRouteType && e.type !== 'DELETED') this.enqueue(keyOf(e.object.metadata.namespace, e.object.metadata.name));
    if (e.resource === serviceType)
      for (const r of this.store.list(httpRouteType, e.object.metadata.namespace))
        this.enqueue(keyOf(r.metadata.namespace, r.metadata.name));
  }

  protected sync(key: string): void {
    const [ns, name] = splitKey(key);
    const route = this.store.find(httpRouteType, ns, name) as HTTPRoute | undefined;
    if (!route) return;
    const gen = route.metadata.generation;
    const missing: string[] = [];
    for (const r of route.spec.rules ?? [])
      for (const b of r.backendRefs ?? [])
        if ((b.kind ?? 'Service') === 'Service' && !this.store.find(serviceType, b.namespace ?? ns, b.name))
          missing.push(`${b.namespace ?? ns}/${b.name}`);
    const now = rfc3339(this.store.now());
    const previous = (route.status as { parents?: { parentRef: unknown; conditions: Condition[] }[] } | undefined)?.parents ?? [];
    const parents = (route.spec.parentRefs ?? []).map((parentRef) => {
      const before: (Condition & { observedGeneration?: number })[] =
        previous.find((p) => canonical(p.parentRef) === canonical(parentRef))?.conditions ?? [];
      const keep = (c: Condition & { observedGeneration?: number }): Condition => {
        const old = before.find((x) => x.type === c.type);
        return old && old.status === c.status && old.reason === c.reason && old.message === c.message && old.observedGeneration === gen
          ? old
          : c;
      };
      return {
        parentRef,
        controllerName: GATEWAY_CONTROLLER_NAME,
        conditions: [
          keep({
            type: 'Accepted',
            status: 'True',
            reason: 'Accepted',
            message: 'Route is accepted',
            lastTransitionTime: now,
            observedGeneration: gen,
          }),
          keep(
            missing.length === 0
              ? {
                  type: 'ResolvedRefs',
                  status: 'True',
                  reason: 'ResolvedRefs',
                  message: 'Resolved all the Object references for the Route',
                  lastTransitionTime: now,
                  observedGeneration: gen,
                }
              : {
                  type: 'ResolvedRefs',
                  status: 'False',
                  reason: 'BackendNotFound',
                  message: `Service "${missing[0]}" not found`,
                  lastTransitionTime: now,
                  observedGeneration: gen,
                },
          ),
        ],
      };
    });
    const status = { parents };
    if (canonical(status) !== canonical(route.status))
      this.store.mutate(httpRouteType, ns, name, (o) => (o.status = status), 'status', {
        manager: GATEWAY_CONTROLLER_NAME,
        subresource: 'status',
      });
  }
}

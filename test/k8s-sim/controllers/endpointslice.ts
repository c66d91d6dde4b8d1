/**
 * The EndpointSlice controller (pkg/controller/endpointslice): for every Service with a selector,
 * EndpointSlices labelled `kubernetes.io/service-name` and managed-by the controller, owned by the
 * Service, listing the selected pods that have an IP and are not finished, with their conditions
 * as `podToEndpoint` sets them: `serving` = the pod is Ready, `terminating` = it has a
 * deletionTimestamp, `ready` = serving and not terminating (or publishNotReadyAddresses). Ports
 * are the Service's, their targetPort resolved against each pod's container ports (a named port a
 * pod does not declare leaves it out of that slice); pods with different resolutions go to
 * different slices. A Service that selects nothing gets one placeholder slice without endpoints.
 */
import { endpointSliceType, podType, serviceType } from '../resources/index.ts';
import { canonical } from '../managed.ts';
import { matchesRequirements, type Requirement } from '../selectors.ts';
import { rfc3339, type StoreEvent } from '../store.ts';
import type { Endpoint, EndpointSlice, Pod, Service } from '../types.ts';
import { keyOf, Reconciler, splitKey } from './queue.ts';
import { isPodReady, MANAGER } from './replicaset.ts';

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
export const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by';
export const CONTROLLER_NAME = 'endpointslice-controller.k8s.io';

const selectorOf = (svc: Service): Requirement[] =>
  Object.entries(svc.spec.selector ?? {}).map(([key, value]) => ({ key, op: 'eq', value }));

type SlicePort = { name: string; port: number; protocol: string; appProtocol?: string };

function portsFor(svc: Service, pod: Pod): SlicePort[] {
  const out: SlicePort[] = [];
  for (const sp of svc.spec.ports ?? []) {
    const target = sp.targetPort ?? sp.port;
    let port: number | undefined;
    if (typeof target === 'number') port = target;
    else
      for (const c of pod.spec.containers)
        for (const cp of c.ports ?? [])
          if (cp.name === target && (cp.protocol ?? 'TCP') === (sp.protocol ?? 'TCP')) port = cp.containerPort;
    if (port === undefined) continue;
    out.push({ name: sp.name ?? '', port, protocol: sp.protocol ?? 'TCP', ...(sp.appProtocol ? { appProtocol: sp.appProtocol } : {}) });
  }
  return out;
}

export class EndpointSliceController extends Reconciler {
  protected observe(e: StoreEvent): void {
    const ns = e.object.metadata.namespace;
    if (e.resource === serviceType) {
      if (e.type !== 'DELETED') this.enqueue(keyOf(ns, e.object.metadata.name));
    } else if (e.resource === endpointSliceType) {
      const svc = e.object.metadata.labels?.[SERVICE_NAME_LABEL];
      if (
        svc &&
        (e.object.metadata.labels?.[MANAGED_BY_LABEL] === CONTROLLER_NAME ||
          e.previous?.metadata.labels?.[MANAGED_BY_LABEL] === CONTROLLER_NAME)
      )
        this.enqueue(keyOf(ns, svc));
    } else if (e.resource === podType) {
      for (const svc of this.store.list(serviceType, ns) as Service[]) {
        if (!svc.spec.selector) continue;
        const sel = selectorOf(svc);
        if (matchesRequirements(e.object.metadata.labels, sel) || (e.previous && matchesRequirements(e.previous.metadata.labels, sel)))
          this.enqueue(keyOf(ns, svc.metadata.name));
      }
    }
  }

  protected sync(key: string): void {
    const [ns, name] = splitKey(key);
    const svc = this.store.find(serviceType, ns, name) as Service | undefined;
    if (!svc || svc.metadata.deletionTimestamp || !svc.spec.selector || svc.spec.type === 'ExternalName') return;
    const sel = selectorOf(svc);
    const pods = (this.store.list(podType, ns, (p) => matchesRequirements(p.metadata.labels, sel)) as Pod[])
      .filter((p) => p.status?.podIP && p.status.phase !== 'Succeeded' && p.status.phase !== 'Failed')
      .sort((a, b) => (a.metadata.name! < b.metadata.name! ? -1 : 1));
    // Pods grouped by how the Service's ports resolve for them.
    const groups = new Map<string, { ports: SlicePort[]; endpoints: Endpoint[] }>();
    for (const p of pods) {
      const ports = portsFor(svc, p);
      const k = canonical(ports);
      const serving = isPodReady(p);
      const terminating = p.metadata.deletionTimestamp !== undefined;
      const ready = svc.spec.publishNotReadyAddresses === true || (serving && !terminating);
      const g = groups.get(k) ?? { ports, endpoints: [] };
      g.endpoints.push({
        addresses: [p.status!.podIP!],
        conditions: { ready, serving, terminating },
        ...(p.spec.nodeName ? { nodeName: p.spec.nodeName } : {}),
        targetRef: { kind: 'Pod', namespace: ns, name: p.metadata.name!, uid: p.metadata.uid! },
      });
      groups.set(k, g);
    }
    const existing = (
      this.store.list(
        endpointSliceType,
        ns,
        (s) => s.metadata.labels?.[SERVICE_NAME_LABEL] === name && s.metadata.labels?.[MANAGED_BY_LABEL] === CONTROLLER_NAME,
      ) as EndpointSlice[]
    ).filter((s) => s.metadata.ownerReferences?.some((r) => r.uid === svc.metadata.uid));
    const wanted: { ports: SlicePort[] | null; endpoints: Endpoint[] | null }[] =
      groups.size > 0 ? [...groups.values()] : [{ ports: null, endpoints: null }];
    const labels = { ...svc.metadata.labels, [SERVICE_NAME_LABEL]: name, [MANAGED_BY_LABEL]: CONTROLLER_NAME };
    const now = rfc3339(this.store.now());
    const unused = [...existing];
    for (const w of wanted) {
      // Reuse the slice that already has these ports, else any left.
      let idx = unused.findIndex((s) => canonical(s.ports) === canonical(w.ports));
      if (idx < 0) idx = unused.length > 0 ? 0 : -1;
      const slice = idx >= 0 ? unused.splice(idx, 1)[0] : undefined;
      if (slice) {
        if (
          canonical(slice.endpoints) === canonical(w.endpoints) &&
          canonical(slice.ports) === canonical(w.ports) &&
          canonical(slice.metadata.labels) === canonical(labels)
        )
          continue;
        this.store.mutate(
          endpointSliceType,
          ns,
          slice.metadata.name!,
          (o) => {
            const s = o as EndpointSlice;
            s.endpoints = w.endpoints;
            s.ports = w.ports;
            s.metadata.labels = labels;
            s.metadata.annotations = { ...s.metadata.annotations, 'endpoints.kubernetes.io/last-change-trigger-time': now };
          },
          undefined,
          { manager: MANAGER },
        );
      } else
        this.store.create(
          endpointSliceType,
          ns,
          {
            metadata: {
              generateName: `${name}-`,
              labels,
              annotations: { 'endpoints.kubernetes.io/last-change-trigger-time': now },
              ownerReferences: [
                { apiVersion: 'v1', kind: 'Service', name, uid: svc.metadata.uid!, controller: true, blockOwnerDeletion: true },
              ],
            },
            addressType: 'IPv4',
            endpoints: w.endpoints,
            ports: w.ports,
          },
          { manager: MANAGER },
        );
    }
    for (const s of unused)
      if (this.store.find(endpointSliceType, ns, s.metadata.name!)) this.store.remove(endpointSliceType, ns, s.metadata.name!);
  }
}

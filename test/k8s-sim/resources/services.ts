/**
 * v1 Services (a ClusterIP allocator, the defaults and validation of the API server) and
 * discovery.k8s.io/v1 EndpointSlices (written by the EndpointSlice controller).
 */
import type { StatusCause } from '../errors.ts';
import type { EndpointSlice, KubeObject, Service, ServiceSpec } from '../types.ts';
import type { ResourceType } from './types.ts';

let nextIp = 10;
let nextNodePort = 30000;

function allocateClusterIp(): string {
  const n = nextIp++;
  return `10.96.${Math.floor(n / 250) % 250}.${n % 250}`;
}

function allocateNodePort(): number {
  const p = nextNodePort;
  nextNodePort = nextNodePort >= 32767 ? 30000 : nextNodePort + 1;
  return p;
}

const TYPES = ['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'];

function needsNodePorts(spec: ServiceSpec): boolean {
  return spec.type === 'NodePort' || (spec.type === 'LoadBalancer' && spec['allocateLoadBalancerNodePorts'] !== false);
}

export const serviceType: ResourceType = {
  group: '',
  version: 'v1',
  plural: 'services',
  kind: 'Service',
  namespaced: true,
  selectableFields: ['spec.clusterIP', 'spec.type'],
  statusSubresource: true,
  // The service registry answers DELETE with the deleted Service (ReturnDeletedObject: true).
  returnDeletedObject: true,
  defaultPropagation: 'Background',
  shortNames: ['svc'],
  categories: ['all'],
  prepareForCreate(obj) {
    const spec = (obj as Service).spec;
    if (spec && spec.type !== 'ExternalName') {
      if (!spec.clusterIP) spec.clusterIP = allocateClusterIp();
      spec.clusterIPs ??= [spec.clusterIP];
    }
    if (spec && needsNodePorts(spec)) for (const p of spec.ports ?? []) p.nodePort ??= allocateNodePort();
    obj.status = { loadBalancer: {} };
  },
  defaults(obj) {
    const spec = (obj as Service).spec;
    if (!spec) return;
    spec.type ??= 'ClusterIP';
    spec['sessionAffinity'] ??= 'None';
    if (spec.type !== 'ExternalName') {
      spec['ipFamilies'] ??= ['IPv4'];
      spec['ipFamilyPolicy'] ??= 'SingleStack';
      spec['internalTrafficPolicy'] ??= 'Cluster';
    }
    if (spec.type === 'NodePort' || spec.type === 'LoadBalancer') spec['externalTrafficPolicy'] ??= 'Cluster';
    if (spec.type === 'LoadBalancer') spec['allocateLoadBalancerNodePorts'] ??= true;
    for (const p of spec.ports ?? []) {
      p.protocol ??= 'TCP';
      p.targetPort ??= p.port;
    }
  },
  prepareForUpdate(next, old) {
    const a = (next as Service).spec;
    const b = (old as Service).spec;
    if (!a || !b) return;
    // patchAllocatedValues: what the server allocated stays when an update leaves it out.
    if (!a.clusterIP && b.clusterIP && (a.type ?? 'ClusterIP') !== 'ExternalName') {
      a.clusterIP = b.clusterIP;
      a.clusterIPs ??= b.clusterIPs;
    }
    if (needsNodePorts({ ...a, type: a.type ?? 'ClusterIP' }))
      for (const p of a.ports ?? []) {
        const was = b.ports?.find((q) => q.port === p.port && (q.protocol ?? 'TCP') === (p.protocol ?? 'TCP'));
        p.nodePort ??= was?.nodePort ?? allocateNodePort();
      }
  },
  validate(obj) {
    const spec = (obj as Service).spec;
    const causes: StatusCause[] = [];
    if (!spec) return [{ field: 'spec', reason: 'FieldValueRequired', message: 'Required value' }];
    if (spec.type !== undefined && !TYPES.includes(spec.type))
      causes.push({
        field: 'spec.type',
        reason: 'FieldValueNotSupported',
        message: `Unsupported value: "${spec.type}": supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"`,
      });
    const ports = spec.ports ?? [];
    if (ports.length === 0 && spec.type !== 'ExternalName' && spec.clusterIP !== 'None')
      causes.push({ field: 'spec.ports', reason: 'FieldValueRequired', message: 'Required value' });
    const names = new Set<string>();
    ports.forEach((p, i) => {
      if (ports.length > 1 && !p.name)
        causes.push({ field: `spec.ports[${i}].name`, reason: 'FieldValueRequired', message: 'Required value' });
      if (p.name) {
        if (names.has(p.name))
          causes.push({ field: `spec.ports[${i}].name`, reason: 'FieldValueDuplicate', message: `Duplicate value: "${p.name}"` });
        names.add(p.name);
      }
      if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535)
        causes.push({
          field: `spec.ports[${i}].port`,
          message: `Invalid value: ${JSON.stringify(p.port)}: must be between 1 and 65535, inclusive`,
        });
      if (!['TCP', 'UDP', 'SCTP'].includes(p.protocol ?? 'TCP'))
        causes.push({
          field: `spec.ports[${i}].protocol`,
          reason: 'FieldValueNotSupported',
          message: `Unsupported value: "${p.protocol}": supported values: "SCTP", "TCP", "UDP"`,
        });
    });
    return causes;
  },
  validateUpdate(next, old) {
    const a = (next as Service).spec;
    const b = (old as Service).spec;
    if (a?.clusterIP && b?.clusterIP && a.clusterIP !== b.clusterIP && a.type !== 'ExternalName' && b.type !== 'ExternalName')
      return [{ field: 'spec.clusterIPs[0]', message: `Invalid value: []string{${JSON.stringify(a.clusterIP)}}: may not change once set` }];
    return [];
  },
};

export const endpointSliceType: ResourceType = {
  group: 'discovery.k8s.io',
  version: 'v1',
  plural: 'endpointslices',
  kind: 'EndpointSlice',
  namespaced: true,
  selectableFields: ['addressType'],
  statusSubresource: false,
  returnDeletedObject: false,
  defaultPropagation: 'Background',
  validate(obj: KubeObject) {
    const s = obj as EndpointSlice;
    const causes: StatusCause[] = [];
    if (!['IPv4', 'IPv6', 'FQDN'].includes(s.addressType))
      causes.push(
        s.addressType === undefined
          ? { field: 'addressType', reason: 'FieldValueRequired', message: 'Required value' }
          : {
              field: 'addressType',
              reason: 'FieldValueNotSupported',
              message: `Unsupported value: "${s.addressType}": supported values: "FQDN", "IPv4", "IPv6"`,
            },
      );
    (s.endpoints ?? []).forEach((e, i) => {
      if (!e.addresses || e.addresses.length === 0)
        causes.push({
          field: `endpoints[${i}].addresses`,
          reason: 'FieldValueRequired',
          message: 'Required value: must contain at least 1 address',
        });
    });
    return causes;
  },
};

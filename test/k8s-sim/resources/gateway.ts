/**
 * gateway.networking.k8s.io/v1 HTTPRoute, served only when the simulator is started with the
 * Gateway API (a CRD in a real cluster: absent from discovery until it is installed). The CRD's
 * defaults (a PathPrefix `/` match, backend weight 1, parentRef group/kind Gateway) and the
 * validation that matters for weighted routing (weights 0..1000000, at most 16 backends).
 */
import type { StatusCause } from '../errors.ts';
import type { KubeObject } from '../types.ts';
import type { ResourceType } from './types.ts';

export interface BackendRef {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  port?: number;
  weight?: number;
}

export interface HTTPRoute extends KubeObject {
  spec: {
    parentRefs?: { group?: string; kind?: string; name: string; namespace?: string; sectionName?: string; port?: number }[];
    hostnames?: string[];
    rules?: { matches?: unknown[]; backendRefs?: BackendRef[]; filters?: unknown[]; [k: string]: unknown }[];
  };
}

export const httpRouteType: ResourceType = {
  group: 'gateway.networking.k8s.io',
  version: 'v1',
  plural: 'httproutes',
  kind: 'HTTPRoute',
  namespaced: true,
  selectableFields: [],
  statusSubresource: true,
  returnDeletedObject: false,
  defaultPropagation: 'Background',
  categories: ['gateway-api'],
  prepareForCreate(obj) {
    obj.status = { parents: [] };
  },
  defaults(obj) {
    const spec = (obj as HTTPRoute).spec;
    if (!spec) return;
    for (const p of spec.parentRefs ?? []) {
      p.group ??= 'gateway.networking.k8s.io';
      p.kind ??= 'Gateway';
    }
    spec.rules ??= [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }] }];
    for (const r of spec.rules) {
      r.matches ??= [{ path: { type: 'PathPrefix', value: '/' } }];
      for (const b of r.backendRefs ?? []) {
        b.group ??= '';
        b.kind ??= 'Service';
        b.weight ??= 1;
      }
    }
  },
  validate(obj) {
    const spec = (obj as HTTPRoute).spec;
    const causes: StatusCause[] = [];
    (spec?.rules ?? []).forEach((r, i) => {
      const refs = r.backendRefs ?? [];
      if (refs.length > 16)
        causes.push({
          field: `spec.rules[${i}].backendRefs`,
          reason: 'FieldValueTooMany',
          message: `Too many: ${refs.length}: must have at most 16 items`,
        });
      refs.forEach((b, j) => {
        if (b.weight !== undefined && (!Number.isInteger(b.weight) || b.weight < 0 || b.weight > 1_000_000))
          causes.push({
            field: `spec.rules[${i}].backendRefs[${j}].weight`,
            message: `Invalid value: ${JSON.stringify(b.weight)}: spec.rules[${i}].backendRefs[${j}].weight in body should be less than or equal to 1000000`,
          });
        if ((b.kind ?? 'Service') === 'Service' && b.port === undefined)
          causes.push({
            field: `spec.rules[${i}].backendRefs[${j}]`,
            message: 'Invalid value: "object": Must have port for Service reference',
          });
      });
    });
    return causes;
  },
};

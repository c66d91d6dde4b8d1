/**
 * v1 Namespaces and ConfigMaps. A namespace comes into existence the first time an object is
 * created in it (the simulator's convenience: a real API server answers 404 NotFound until it is
 * created), with the `kubernetes.io/metadata.name` label and phase Active; deleting one deletes
 * what is in it.
 */
import type { StatusCause } from '../errors.ts';
import type { KubeObject } from '../types.ts';
import type { ResourceType } from './types.ts';

const KEY = /^[-._a-zA-Z0-9]+$/;

export const namespaceType: ResourceType = {
  group: '',
  version: 'v1',
  plural: 'namespaces',
  kind: 'Namespace',
  namespaced: false,
  selectableFields: ['status.phase'],
  statusSubresource: true,
  // The namespace registry answers DELETE with the Namespace.
  returnDeletedObject: true,
  defaultPropagation: 'Background',
  shortNames: ['ns'],
  prepareForCreate(obj) {
    obj.spec = { finalizers: ['kubernetes'] };
    obj.status = { phase: 'Active' };
  },
  defaults(obj) {
    obj.metadata.labels = { ...obj.metadata.labels, 'kubernetes.io/metadata.name': obj.metadata.name! };
  },
};

export const configMapType: ResourceType = {
  group: '',
  version: 'v1',
  plural: 'configmaps',
  kind: 'ConfigMap',
  namespaced: true,
  selectableFields: [],
  statusSubresource: false,
  returnDeletedObject: false,
  defaultPropagation: 'Background',
  shortNames: ['cm'],
  validate(obj) {
    const causes: StatusCause[] = [];
    for (const field of ['data', 'binaryData'] as const)
      for (const k of Object.keys((obj[field] as Record<string, unknown> | undefined) ?? {}))
        if (!KEY.test(k))
          causes.push({
            field: `${field}[${k}]`,
            message: `Invalid value: ${JSON.stringify(k)}: a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`,
          });
    return causes;
  },
  validateUpdate(next: KubeObject, old: KubeObject) {
    if (old['immutable'] === true && JSON.stringify(next['data'] ?? {}) !== JSON.stringify(old['data'] ?? {}))
      return [{ field: 'data', reason: 'FieldValueForbidden', message: 'Forbidden: field is immutable when `immutable` is set' }];
    return [];
  },
};

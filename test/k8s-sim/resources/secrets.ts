/** v1 Secrets: `stringData` folded into base64 `data`, types, key and immutability validation. */
import { badRequest, type StatusCause } from '../errors.ts';
import type { Secret } from '../types.ts';
import type { ResourceType } from './types.ts';

const KEY = /^[-._a-zA-Z0-9]+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decodes a Secret's data value (the kubelet's view). */
export function secretValue(s: Secret, key: string): string | undefined {
  const v = s.data?.[key];
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
}

function fold(s: Secret): void {
  for (const [k, v] of Object.entries(s.data ?? {}))
    if (typeof v !== 'string' || !BASE64.test(v))
      throw badRequest(`Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 0 (data.${k})`);
  if (s.stringData) {
    s.data = { ...s.data };
    for (const [k, v] of Object.entries(s.stringData)) s.data[k] = Buffer.from(String(v), 'utf8').toString('base64');
    delete s.stringData;
  }
}

export const secretType: ResourceType = {
  group: '',
  version: 'v1',
  plural: 'secrets',
  kind: 'Secret',
  namespaced: true,
  selectableFields: ['type'],
  statusSubresource: false,
  returnDeletedObject: false,
  defaultPropagation: 'Background',
  prepareForCreate(obj) {
    fold(obj);
  },
  prepareForUpdate(next) {
    fold(next);
  },
  defaults(obj) {
    (obj as Secret).type ??= 'Opaque';
  },
  validate(obj) {
    const s = obj as Secret;
    const causes: StatusCause[] = [];
    for (const k of Object.keys(s.data ?? {}))
      if (!KEY.test(k))
        causes.push({
          field: `data[${k}]`,
          message: `Invalid value: ${JSON.stringify(k)}: a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')`,
        });
    if (s.type === 'kubernetes.io/dockerconfigjson') {
      const raw = s.data?.['.dockerconfigjson'];
      if (raw === undefined) causes.push({ field: 'data[.dockerconfigjson]', reason: 'FieldValueRequired', message: 'Required value' });
      else
        try {
          JSON.parse(Buffer.from(raw, 'base64').toString('utf8'));
        } catch (err) {
          causes.push({
            field: 'data[.dockerconfigjson]',
            message: `Invalid value: "<secret contents redacted>": ${(err as Error).message}`,
          });
        }
    }
    if (s.type === 'kubernetes.io/basic-auth' && s.data && !('username' in s.data) && !('password' in s.data))
      causes.push({ field: 'data[username]', reason: 'FieldValueRequired', message: 'Required value' });
    return causes;
  },
  validateUpdate(next, old) {
    const a = next as Secret;
    const b = old as Secret;
    const causes: StatusCause[] = [];
    if (b.immutable === true) {
      if (JSON.stringify(a.data ?? {}) !== JSON.stringify(b.data ?? {}))
        causes.push({ field: 'data', reason: 'FieldValueForbidden', message: 'Forbidden: field is immutable when `immutable` is set' });
      if (a.immutable !== true)
        causes.push({
          field: 'immutable',
          reason: 'FieldValueForbidden',
          message: 'Forbidden: field is immutable when `immutable` is set',
        });
    }
    if ((a.type ?? 'Opaque') !== (b.type ?? 'Opaque'))
      causes.push({ field: 'type', message: `Invalid value: ${JSON.stringify(a.type)}: field is immutable` });
    return causes;
  },
};

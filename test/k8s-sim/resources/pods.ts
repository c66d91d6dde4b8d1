import type { StatusCause } from '../errors.ts';
import type { KubeObject, Pod } from '../types.ts';
import type { ResourceType } from './types.ts';

function validatePodSpec(spec: Pod['spec'] | undefined, prefix: string): StatusCause[] {
  const causes: StatusCause[] = [];
  const containers = spec?.containers ?? [];
  if (containers.length === 0) causes.push({ field: `${prefix}.containers`, reason: 'FieldValueRequired', message: 'Required value' });
  const seen = new Set<string>();
  containers.forEach((c, i) => {
    if (!c.name) causes.push({ field: `${prefix}.containers[${i}].name`, reason: 'FieldValueRequired', message: 'Required value' });
    else if (seen.has(c.name))
      causes.push({ field: `${prefix}.containers[${i}].name`, reason: 'FieldValueDuplicate', message: `Duplicate value: "${c.name}"` });
    seen.add(c.name);
    if (!c.image) causes.push({ field: `${prefix}.containers[${i}].image`, reason: 'FieldValueRequired', message: 'Required value' });
    for (const m of c.volumeMounts ?? []) {
      if (!(spec?.volumes ?? []).some((v) => v.name === m.name))
        causes.push({
          field: `${prefix}.containers[${i}].volumeMounts[0].name`,
          reason: 'FieldValueNotFound',
          message: `Not found: "${m.name}"`,
        });
    }
  });
  return causes;
}

/** Defaults the API server fills in on a pod spec (the ones a reader of the object sees). */
export function defaultPodSpec(spec: Pod['spec']): void {
  spec.restartPolicy ??= 'Always';
  spec.schedulerName ??= 'default-scheduler';
  spec.serviceAccountName ??= 'default';
  spec['terminationGracePeriodSeconds'] ??= 30;
  spec['dnsPolicy'] ??= 'ClusterFirst';
  for (const c of spec.containers ?? []) {
    const image = c.image ?? '';
    const tagged = /:[^/]+$/.test(image) || image.includes('@');
    c['imagePullPolicy'] ??= !tagged || image.endsWith(':latest') ? 'Always' : 'IfNotPresent';
    c['terminationMessagePath'] ??= '/dev/termination-log';
    c['terminationMessagePolicy'] ??= 'File';
  }
}

export { validatePodSpec };

export const podType: ResourceType = {
  group: '',
  version: 'v1',
  plural: 'pods',
  kind: 'Pod',
  namespaced: true,
  selectableFields: [
    'spec.nodeName',
    'spec.restartPolicy',
    'spec.schedulerName',
    'spec.serviceAccountName',
    'status.phase',
    'status.podIP',
    'status.nominatedNodeName',
  ],
  statusSubresource: true,
  returnDeletedObject: true,
  defaultPropagation: 'Background',
  prepareForCreate(obj: KubeObject) {
    const pod = obj as Pod;
    defaultPodSpec(pod.spec);
    const limits = pod.spec.containers.map((c) => c.resources ?? {});
    const qos = limits.every((r) => !r.limits && !r.requests) ? 'BestEffort' : 'Burstable';
    pod.status = { phase: 'Pending', qosClass: qos };
  },
  validate: (obj) => validatePodSpec((obj as Pod).spec, 'spec'),
};

import type { StatusCause } from '../errors.ts';
import type { Container, KubeObject, Pod, Probe } from '../types.ts';
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

function defaultProbe(p: Probe | undefined): void {
  if (!p) return;
  p.timeoutSeconds ??= 1;
  p.periodSeconds ??= 10;
  p.successThreshold ??= 1;
  p.failureThreshold ??= 3;
  if (p.httpGet) {
    p.httpGet.path ??= '/';
    p.httpGet.scheme ??= 'HTTP';
  }
}

function defaultContainer(c: Container): void {
  const image = c.image ?? '';
  const tagged = /:[^/]+$/.test(image) || image.includes('@');
  c['imagePullPolicy'] ??= !tagged || image.endsWith(':latest') ? 'Always' : 'IfNotPresent';
  c['terminationMessagePath'] ??= '/dev/termination-log';
  c['terminationMessagePolicy'] ??= 'File';
  c.resources ??= {};
  for (const p of c.ports ?? []) p.protocol ??= 'TCP';
  defaultProbe(c.readinessProbe);
  defaultProbe(c.livenessProbe);
  defaultProbe(c.startupProbe);
}

/**
 * Defaults the API server fills in on a pod spec (the ones a reader of the object sees). A pod
 * (not a template) also gets its service account from admission.
 */
export function defaultPodSpec(spec: Pod['spec'], template = false): void {
  if (!spec) return;
  spec.restartPolicy ??= 'Always';
  spec.schedulerName ??= 'default-scheduler';
  if (!template) spec.serviceAccountName ??= 'default';
  spec.terminationGracePeriodSeconds ??= 30;
  spec['dnsPolicy'] ??= 'ClusterFirst';
  spec['securityContext'] ??= {};
  for (const c of spec.containers ?? []) defaultContainer(c);
  for (const c of spec.initContainers ?? []) defaultContainer(c);
  for (const v of spec.volumes ?? []) {
    if (v.secret) v.secret.defaultMode ??= 420;
    if (v.configMap) v.configMap.defaultMode ??= 420;
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
  shortNames: ['po'],
  categories: ['all'],
  prepareForCreate(obj: KubeObject) {
    const pod = obj as Pod;
    defaultPodSpec(pod.spec);
    const limits = pod.spec.containers.map((c) => c.resources ?? {});
    const qos = limits.every((r) => !r.limits && !r.requests) ? 'BestEffort' : 'Burstable';
    pod.status = { phase: 'Pending', qosClass: qos };
  },
  validate: (obj) => validatePodSpec((obj as Pod).spec, 'spec'),
};

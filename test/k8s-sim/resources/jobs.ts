import type { StatusCause } from '../errors.ts';
import type { Job, KubeObject } from '../types.ts';
import { defaultPodSpec, validatePodSpec } from './pods.ts';
import type { ResourceType } from './types.ts';

export const jobType: ResourceType = {
  group: 'batch',
  version: 'v1',
  plural: 'jobs',
  kind: 'Job',
  namespaced: true,
  selectableFields: ['status.successful'],
  statusSubresource: true,
  returnDeletedObject: false,
  // batch/v1 Jobs orphan their pods when DELETE names no policy (kubectl sends Background).
  defaultPropagation: 'Orphan',
  prepareForCreate(obj: KubeObject) {
    const job = obj as Job;
    const uid = job.metadata.uid!;
    const name = job.metadata.name!;
    const spec = job.spec;
    spec.completions ??= 1;
    spec.parallelism ??= 1;
    spec.backoffLimit ??= 6;
    spec.completionMode ??= 'NonIndexed';
    spec.suspend ??= false;
    spec['podReplacementPolicy'] ??= 'TerminatingOrFailed';
    spec.manualSelector ??= undefined;
    if (!spec.manualSelector) spec.selector = { matchLabels: { 'batch.kubernetes.io/controller-uid': uid } };
    spec.template.metadata ??= {};
    spec.template.metadata.labels = {
      ...spec.template.metadata.labels,
      'batch.kubernetes.io/controller-uid': uid,
      'batch.kubernetes.io/job-name': name,
      'controller-uid': uid,
      'job-name': name,
    };
    defaultPodSpec(spec.template.spec, true);
    if (!job.metadata.labels || Object.keys(job.metadata.labels).length === 0) job.metadata.labels = { ...spec.template.metadata.labels };
    job.status = {};
  },
  validate(obj: KubeObject): StatusCause[] {
    const job = obj as Job;
    if (!job.spec?.template) return [{ field: 'spec.template', reason: 'FieldValueRequired', message: 'Required value' }];
    const causes = validatePodSpec(job.spec.template.spec, 'spec.template.spec');
    const rp = job.spec.template.spec?.restartPolicy;
    if (rp !== undefined && rp !== 'Never' && rp !== 'OnFailure')
      causes.push({
        field: 'spec.template.spec.restartPolicy',
        reason: 'FieldValueNotSupported',
        message: `Unsupported value: "${rp}": supported values: "OnFailure", "Never"`,
      });
    if (rp === undefined)
      causes.push({
        field: 'spec.template.spec.restartPolicy',
        reason: 'FieldValueRequired',
        message: 'Required value: valid values: "OnFailure", "Never"',
      });
    for (const f of ['backoffLimit', 'completions', 'parallelism', 'ttlSecondsAfterFinished'] as const) {
      const v = job.spec[f];
      if (v !== undefined && (!Number.isInteger(v) || v < 0))
        causes.push({ field: `spec.${f}`, message: `Invalid value: ${JSON.stringify(v)}: must be greater than or equal to 0` });
    }
    return causes;
  },
};

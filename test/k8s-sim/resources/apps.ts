/**
 * apps/v1 Deployments and ReplicaSets: defaults, validation and the `/scale` view as the API
 * server has them (SetDefaults_Deployment, ValidateDeploymentSpec, ValidateReplicaSetSpec).
 */
import type { StatusCause } from '../errors.ts';
import { canonical } from '../managed.ts';
import { matchesRequirements, selectorRequirements } from '../selectors.ts';
import type { Deployment, KubeObject, LabelSelector, PodTemplate, ReplicaSet } from '../types.ts';
import { defaultPodSpec, validatePodSpec } from './pods.ts';
import type { ResourceType, ScaleSubresource } from './types.ts';

/** `metav1.LabelSelectorAsSelector(s).String()`: requirements sorted by key. */
export function selectorString(sel: LabelSelector | undefined): string {
  const parts: [string, string][] = [];
  for (const [k, v] of Object.entries(sel?.matchLabels ?? {})) parts.push([k, `${k}=${v}`]);
  for (const e of sel?.matchExpressions ?? []) {
    const values = [...(e.values ?? [])].sort().join(',');
    if (e.operator === 'In') parts.push([e.key, `${e.key} in (${values})`]);
    else if (e.operator === 'NotIn') parts.push([e.key, `${e.key} notin (${values})`]);
    else if (e.operator === 'Exists') parts.push([e.key, e.key]);
    else parts.push([e.key, `!${e.key}`]);
  }
  return parts
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map((p) => p[1])
    .join(',');
}

/** How Go's `%#v` prints a label map in validation messages. */
function goMap(m: Record<string, string> | undefined): string {
  if (!m) return 'map[string]string(nil)';
  return `map[string]string{${Object.entries(m)
    .sort()
    .map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`)
    .join(', ')}}`;
}

function goSelector(s: LabelSelector | undefined): string {
  if (!s) return '(*v1.LabelSelector)(nil)';
  return `v1.LabelSelector{MatchLabels:${goMap(s.matchLabels)}, MatchExpressions:[]v1.LabelSelectorRequirement(${s.matchExpressions ? '...' : 'nil'})}`;
}

const PERCENT = /^[0-9]+%$/;

/** An IntOrString as the API validates it; returns a message or undefined. */
function intOrPercentProblem(v: number | string | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 ? undefined : 'must be greater than or equal to 0';
  if (!PERCENT.test(v))
    return `a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')`;
  return undefined;
}

const isZero = (v: number | string | undefined): boolean => v === 0 || v === '0%';

function validateSelectorAndTemplate(
  selector: LabelSelector | undefined,
  template: PodTemplate | undefined,
  kindLabel: string,
  needTemplate: boolean,
): StatusCause[] {
  const causes: StatusCause[] = [];
  if (!selector) causes.push({ field: 'spec.selector', reason: 'FieldValueRequired', message: 'Required value' });
  else if (Object.keys(selector.matchLabels ?? {}).length + (selector.matchExpressions ?? []).length === 0)
    causes.push({ field: 'spec.selector', message: `Invalid value: ${goSelector(selector)}: empty selector is invalid for ${kindLabel}` });
  if (!template) {
    if (needTemplate) causes.push({ field: 'spec.template', reason: 'FieldValueRequired', message: 'Required value' });
    return causes;
  }
  const labels = template.metadata?.labels;
  if (selector && !matchesRequirements(labels, selectorRequirements(selector)))
    causes.push({
      field: 'spec.template.metadata.labels',
      message: `Invalid value: ${goMap(labels)}: \`selector\` does not match template \`labels\``,
    });
  causes.push(...validatePodSpec(template.spec, 'spec.template.spec'));
  const rp = template.spec?.restartPolicy;
  if (rp !== undefined && rp !== 'Always')
    causes.push({
      field: 'spec.template.spec.restartPolicy',
      reason: 'FieldValueNotSupported',
      message: `Unsupported value: "${rp}": supported values: "Always"`,
    });
  return causes;
}

function nonNegative(v: unknown, field: string, causes: StatusCause[]): void {
  if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 0))
    causes.push({ field, message: `Invalid value: ${JSON.stringify(v)}: must be greater than or equal to 0` });
}

function immutableSelector(next: KubeObject, old: KubeObject): StatusCause[] {
  const a = (next.spec as { selector?: LabelSelector } | undefined)?.selector;
  const b = (old.spec as { selector?: LabelSelector } | undefined)?.selector;
  if (canonical(a) === canonical(b)) return [];
  return [{ field: 'spec.selector', message: `Invalid value: ${goSelector(a)}: field is immutable` }];
}

const replicasScale: ScaleSubresource = {
  specReplicas: (o) => (o.spec as { replicas?: number }).replicas ?? 1,
  statusReplicas: (o) => (o.status as { replicas?: number } | undefined)?.replicas ?? 0,
  selector: (o) => selectorString((o.spec as { selector?: LabelSelector }).selector),
  setReplicas: (o, n) => {
    (o.spec as { replicas?: number }).replicas = n;
  },
};

export const deploymentType: ResourceType = {
  group: 'apps',
  version: 'v1',
  plural: 'deployments',
  kind: 'Deployment',
  namespaced: true,
  selectableFields: [],
  statusSubresource: true,
  statusWritesAnnotations: true,
  returnDeletedObject: false,
  defaultPropagation: 'Background',
  shortNames: ['deploy'],
  categories: ['all'],
  scale: replicasScale,
  prepareForCreate(obj) {
    obj.status = {};
  },
  defaults(obj) {
    const d = obj as Deployment;
    if (!d.spec) return;
    d.spec.replicas ??= 1;
    d.spec.strategy ??= {};
    const s = d.spec.strategy;
    s.type ??= 'RollingUpdate';
    if (s.type === 'RollingUpdate') {
      s.rollingUpdate ??= {};
      s.rollingUpdate.maxUnavailable ??= '25%';
      s.rollingUpdate.maxSurge ??= '25%';
    }
    d.spec.revisionHistoryLimit ??= 10;
    d.spec.progressDeadlineSeconds ??= 600;
    if (d.spec.template) {
      d.spec.template.metadata ??= {};
      defaultPodSpec(d.spec.template.spec, true);
    }
  },
  validate(obj) {
    const d = obj as Deployment;
    const spec = d.spec ?? ({} as Deployment['spec']);
    const causes = validateSelectorAndTemplate(spec.selector, spec.template, 'deployment', true);
    nonNegative(spec.replicas, 'spec.replicas', causes);
    nonNegative(spec.minReadySeconds, 'spec.minReadySeconds', causes);
    nonNegative(spec.revisionHistoryLimit, 'spec.revisionHistoryLimit', causes);
    nonNegative(spec.progressDeadlineSeconds, 'spec.progressDeadlineSeconds', causes);
    if (spec.progressDeadlineSeconds !== undefined && spec.progressDeadlineSeconds <= (spec.minReadySeconds ?? 0))
      causes.push({
        field: 'spec.progressDeadlineSeconds',
        message: `Invalid value: ${spec.progressDeadlineSeconds}: must be greater than minReadySeconds`,
      });
    const s = spec.strategy;
    if (s?.type !== undefined && s.type !== 'RollingUpdate' && s.type !== 'Recreate')
      causes.push({
        field: 'spec.strategy.type',
        reason: 'FieldValueNotSupported',
        message: `Unsupported value: "${String(s.type)}": supported values: "Recreate", "RollingUpdate"`,
      });
    if (s?.type === 'Recreate' && s.rollingUpdate)
      causes.push({
        field: 'spec.strategy.rollingUpdate',
        reason: 'FieldValueForbidden',
        message: "Forbidden: may not be specified when strategy `type` is 'Recreate'",
      });
    const ru = s?.type === 'RollingUpdate' ? s.rollingUpdate : undefined;
    if (ru) {
      for (const f of ['maxUnavailable', 'maxSurge'] as const) {
        const problem = intOrPercentProblem(ru[f]);
        if (problem)
          causes.push({ field: `spec.strategy.rollingUpdate.${f}`, message: `Invalid value: ${JSON.stringify(ru[f])}: ${problem}` });
      }
      if (typeof ru.maxUnavailable === 'string' && PERCENT.test(ru.maxUnavailable) && parseInt(ru.maxUnavailable, 10) > 100)
        causes.push({
          field: 'spec.strategy.rollingUpdate.maxUnavailable',
          message: `Invalid value: "${ru.maxUnavailable}": must not be greater than 100%`,
        });
      if (isZero(ru.maxUnavailable) && isZero(ru.maxSurge))
        causes.push({
          field: 'spec.strategy.rollingUpdate.maxUnavailable',
          message: `Invalid value: ${JSON.stringify(ru.maxUnavailable)}: may not be 0 when \`maxSurge\` is 0`,
        });
    }
    return causes;
  },
  validateUpdate: immutableSelector,
};

export const replicaSetType: ResourceType = {
  group: 'apps',
  version: 'v1',
  plural: 'replicasets',
  kind: 'ReplicaSet',
  namespaced: true,
  selectableFields: ['status.replicas'],
  statusSubresource: true,
  returnDeletedObject: false,
  defaultPropagation: 'Background',
  shortNames: ['rs'],
  categories: ['all'],
  scale: replicasScale,
  prepareForCreate(obj) {
    obj.status = { replicas: 0 };
  },
  defaults(obj) {
    const rs = obj as ReplicaSet;
    if (!rs.spec) return;
    rs.spec.replicas ??= 1;
    if (rs.spec.template) {
      rs.spec.template.metadata ??= {};
      defaultPodSpec(rs.spec.template.spec, true);
    }
  },
  validate(obj) {
    const rs = obj as ReplicaSet;
    const spec = rs.spec ?? ({} as ReplicaSet['spec']);
    const causes = validateSelectorAndTemplate(spec.selector, spec.template, 'replicaset', (spec.replicas ?? 1) > 0);
    nonNegative(spec.replicas, 'spec.replicas', causes);
    nonNegative(spec.minReadySeconds, 'spec.minReadySeconds', causes);
    return causes;
  },
  validateUpdate: immutableSelector,
};

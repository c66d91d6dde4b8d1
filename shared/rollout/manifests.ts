/**
 * The Kubernetes objects of a model deployment (pure): the model server's Deployment per role
 * (stable, canary), the Service clients use, the role Services an HTTPRoute splits between. A
 * Deployment carries the model reference by digest; an init container pulls it with
 * `modelship registry pull` (credentials from a named Secret), and the server's probes are wired to
 * its Open Inference Protocol health endpoints. The server's feedback store is a volume of its own:
 * a PersistentVolumeClaim when one is named (ReadWriteMany, shared by every pod: each server writes
 * segments of its own), else an emptyDir, which outlives a container's restart but not its pod.
 */
import type { V1Deployment, V1Service } from '@kubernetes/client-node';
import type { ServedVersion } from './target.ts';

export type Role = 'stable' | 'canary';

export const SERVER_PORT = 8501;
export const MODEL_DIR = '/models';
/** Where the server keeps its feedback store in the pod (the image's root filesystem is not the user's to write). */
export const FEEDBACK_DIR = '/var/lib/modelship/feedback';
export const LABEL = {
  name: 'app.kubernetes.io/name',
  instance: 'app.kubernetes.io/instance',
  managedBy: 'app.kubernetes.io/managed-by',
  model: 'modelship.dev/model',
  version: 'modelship.dev/version',
  role: 'modelship.dev/role',
} as const;
export const ANNOTATION = {
  /** The deployed reference, with its digest. */
  revision: 'modelship.dev/revision',
  digest: 'modelship.dev/digest',
  /** The version this one replaced (for a rolling update's rollback). */
  previous: 'modelship.dev/previous-revision',
} as const;

export interface ServerSettings {
  /** The deployment's name (default the model name). */
  readonly name: string;
  readonly namespace: string;
  readonly image: string;
  /** The OCI registry the init container pulls from (oci://…). */
  readonly registry: string;
  /** A Secret with `username` and `password` keys for the registry (optional: a public registry needs none). */
  readonly registrySecret: string;
  readonly cpu: string;
  readonly memory: string;
  readonly progressDeadlineSeconds: number;
  /** Extra `modelship serve` arguments (batching knobs). */
  readonly serveArgs?: readonly string[];
  /** A PersistentVolumeClaim for the feedback store (ReadWriteMany); none: an emptyDir per pod. */
  readonly feedbackClaim?: string;
}

export const deploymentName = (s: ServerSettings, role: Role): string => (role === 'stable' ? s.name : `${s.name}-canary`);
export const roleServiceName = (s: ServerSettings, role: Role): string => `${s.name}-${role}`;

export function selectorLabels(s: ServerSettings, role?: Role): Record<string, string> {
  return { [LABEL.name]: 'modelship-server', [LABEL.instance]: s.name, ...(role ? { [LABEL.role]: role } : {}) };
}

/** The model server's Deployment for one role, serving `version`. */
export function serverDeployment(
  s: ServerSettings,
  role: Role,
  version: ServedVersion,
  replicas: number,
  previous?: ServedVersion,
): V1Deployment {
  const labels = {
    ...selectorLabels(s, role),
    [LABEL.managedBy]: 'modelship',
    [LABEL.model]: version.name,
    [LABEL.version]: String(version.version),
  };
  const annotations = {
    [ANNOTATION.revision]: version.ref,
    [ANNOTATION.digest]: version.digest,
    ...(previous ? { [ANNOTATION.previous]: previous.ref } : {}),
  };
  const modelDir = `${MODEL_DIR}/${version.name}`;
  const pinned = `${version.name}:${version.version}@${version.digest}`;
  const secretEnv = (name: string, key: string) => ({
    name,
    valueFrom: { secretKeyRef: { name: s.registrySecret, key, optional: true } },
  });
  const security = { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, readOnlyRootFilesystem: false };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: deploymentName(s, role), namespace: s.namespace, labels, annotations },
    spec: {
      replicas,
      revisionHistoryLimit: 5,
      progressDeadlineSeconds: s.progressDeadlineSeconds,
      selector: { matchLabels: selectorLabels(s, role) },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 0 } },
      template: {
        metadata: { labels, annotations },
        spec: {
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 1000,
            runAsGroup: 1000,
            fsGroup: 1000,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          terminationGracePeriodSeconds: 30,
          initContainers: [
            {
              name: 'fetch-model',
              image: s.image,
              args: ['registry', 'pull', pinned, modelDir, '--registry', s.registry],
              env: [secretEnv('MODELSHIP_REGISTRY_USERNAME', 'username'), secretEnv('MODELSHIP_REGISTRY_PASSWORD', 'password')],
              volumeMounts: [{ name: 'models', mountPath: MODEL_DIR }],
              securityContext: security,
            },
          ],
          containers: [
            {
              name: 'server',
              image: s.image,
              args: [
                'serve',
                '--model',
                modelDir,
                '--name',
                version.name,
                '--version',
                String(version.version),
                '--host',
                '0.0.0.0',
                '--port',
                String(SERVER_PORT),
                '--feedback-dir',
                FEEDBACK_DIR,
                ...(s.serveArgs ?? []),
              ],
              ports: [{ name: 'http', containerPort: SERVER_PORT }],
              readinessProbe: { httpGet: { path: '/v2/health/ready', port: 'http' }, periodSeconds: 2, failureThreshold: 3 },
              livenessProbe: {
                httpGet: { path: '/v2/health/live', port: 'http' },
                initialDelaySeconds: 10,
                periodSeconds: 10,
                failureThreshold: 3,
              },
              resources: { requests: { cpu: s.cpu, memory: s.memory }, limits: { memory: s.memory } },
              volumeMounts: [
                { name: 'models', mountPath: MODEL_DIR, readOnly: true },
                { name: 'feedback', mountPath: FEEDBACK_DIR },
              ],
              securityContext: security,
            },
          ],
          volumes: [
            { name: 'models', emptyDir: {} },
            s.feedbackClaim
              ? { name: 'feedback', persistentVolumeClaim: { claimName: s.feedbackClaim } }
              : { name: 'feedback', emptyDir: {} },
          ],
        },
      },
    },
  };
}

/** The Service clients use: every ready server pod of the deployment, stable and canary (replica-ratio traffic). */
export function clientService(s: ServerSettings): V1Service {
  return service(s, s.name, selectorLabels(s));
}

/** A Service of one role, for an HTTPRoute's weighted backendRefs. */
export function roleService(s: ServerSettings, role: Role): V1Service {
  return service(s, roleServiceName(s, role), selectorLabels(s, role));
}

function service(s: ServerSettings, name: string, selector: Record<string, string>): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: s.namespace, labels: { ...selectorLabels(s), [LABEL.managedBy]: 'modelship' } },
    spec: { selector, ports: [{ name: 'http', port: SERVER_PORT, targetPort: 'http' }] },
  };
}

/**
 * With the replica ratio as the only traffic control, the canary's replicas for a weight: stable
 * keeps its replicas for the whole canary (so an abort is instant), and the canary gets
 * round(stable × w / (100 − w)), at least 1; from 50% on it matches stable (an even split, the most
 * a replica ratio can give without removing stable; promotion then replaces stable).
 */
export function canaryReplicas(stable: number, weight: number): number {
  if (weight >= 50) return stable;
  return Math.max(1, Math.round((stable * weight) / (100 - weight)));
}

/** The share of traffic the canary gets from a replica ratio, in percent. */
export function replicaShare(stable: number, canary: number): number {
  return stable + canary === 0 ? 0 : Math.round((100 * canary) / (stable + canary));
}

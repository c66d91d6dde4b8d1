/**
 * `target: kubernetes`: the same training, run by the modelship image as a Kubernetes Job.
 *
 * The Job runs `modelship train --target local` with the step's options, so the pod trains exactly
 * as a runner would. Data and model travel through one volume that both sides see:
 *
 * - `volume: host:/srv/modelship` mounts a hostPath. The runner sees the same folder at the same
 *   path when the node is the runner itself (kind with an extraMount of that path, k3s, minikube
 *   --mount), as the kind-e2e workflow sets up.
 * - `volume: pvc:<claim>` mounts a PersistentVolumeClaim; `local-path` says where the runner has the
 *   same storage mounted (NFS, a CSI driver on the runner). Without it the model stays on the claim.
 *
 * The volume is mounted at `mount-path` (default /modelship). `dataset`, `output-dir` and
 * `resume-from` must lie inside the runner's view of the volume (or, for a claim without
 * local-path, be relative paths inside the claim); the pod gets the same paths under mount-path.
 * The model folder is then read back from the runner's view to give the step its outputs.
 * Exchange through the registry (push the data set, pull the model) is left for later.
 *
 * Logs stream into the step's log as the pod writes them; completion comes from watches; a pod
 * that cannot start (image pull, config) or stays unschedulable fails the step with its reason;
 * an interrupt or a timeout deletes the Job.
 */
import path from 'node:path';
import type { V1Job } from '@kubernetes/client-node';
import { z } from 'zod';
import type { KubeClient, PodProblem } from '../k8s/index.ts';
import { ConfigurationError, isInside } from '../util/index.ts';
import type { TrainOptions, TrainResult } from './options.ts';

export const TRAIN_CONTAINER = 'trainer';
export const DEFAULT_MOUNT_PATH = '/modelship';
export const DEADLINE_GRACE_SECONDS = 120;

export type VolumeSpec = { readonly kind: 'pvc'; readonly claimName: string } | { readonly kind: 'hostPath'; readonly path: string };

/** The Kubernetes settings; each overrides modelship.yml `train.kubernetes`. */
export interface KubernetesSettings {
  readonly namespace?: string;
  readonly image?: string;
  readonly cpu?: string;
  readonly memory?: string;
  readonly serviceAccount?: string;
  readonly kubeconfig?: string;
  readonly context?: string;
  /** `pvc:<claim>`, `host:<absolute path>`, or the parsed form. */
  readonly volume?: string | VolumeSpec;
  readonly mountPath?: string;
  /** Where the runner sees a PVC's storage. */
  readonly localPath?: string;
  /** Give up (and delete the Job) after this long; also the Job's activeDeadlineSeconds. */
  readonly timeoutSeconds?: number;
  /** How long a pod may stay unschedulable before the step fails. */
  readonly pendingTimeoutSeconds?: number;
  readonly ttlSecondsAfterFinished?: number;
}

export interface KubernetesTrainOptions extends TrainOptions {
  /** modelship.yml's train.kubernetes, already validated. */
  readonly section?: KubernetesSection;
  /** Settings that override the file's (tests, callers with their own). */
  readonly kubernetes?: KubernetesSettings;
  /** A client to use instead of one from the kubeconfig (tests). */
  readonly client?: KubeClient;
}

export interface KubernetesTrainResult extends TrainResult {
  readonly jobName: string;
  readonly namespace: string;
  readonly podName?: string;
  /** The model folder as the pod saw it. */
  readonly podModelDir: string;
}

export interface ResolvedSettings {
  readonly namespace?: string;
  readonly image: string;
  readonly cpu: string;
  readonly memory: string;
  readonly serviceAccount?: string;
  readonly kubeconfig?: string;
  readonly context?: string;
  readonly volume: VolumeSpec;
  readonly mountPath: string;
  /** The runner's view of the volume, when it has one. */
  readonly localPath?: string;
  readonly timeoutSeconds: number;
  readonly pendingTimeoutSeconds: number;
  readonly ttlSecondsAfterFinished: number;
}

const CLAIM = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

/** Parses `pvc:<claim>` or `host:<absolute path>`. `where` names the setting in errors. */
export function parseVolume(text: string, where: string): VolumeSpec {
  const m = /^(pvc|host|hostPath):(.+)$/.exec(text.trim());
  if (m?.[1] === 'pvc' && CLAIM.test(m[2])) return { kind: 'pvc', claimName: m[2] };
  if ((m?.[1] === 'host' || m?.[1] === 'hostPath') && path.posix.isAbsolute(m[2]))
    return { kind: 'hostPath', path: path.posix.normalize(m[2]) };
  throw new ConfigurationError(
    `${where} '${text}' is not a volume: expected pvc:<claim-name> or host:<absolute path>.`,
    `Set ${where} to e.g. pvc:training-data or host:/srv/modelship.`,
  );
}

const QUANTITY = /^\d+(\.\d+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$/;

function positiveInt(value: number | string | undefined, where: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(n) || n <= 0)
    throw new ConfigurationError(`${where} must be a positive whole number of seconds, not '${String(value)}'.`, `Fix ${where}.`);
  return n;
}

/** modelship.yml's `train.kubernetes` (the settings of this target that are not step inputs). */
export const kubernetesSettingsSchema = z.strictObject({
  namespace: z.string().optional(),
  image: z.string().optional(),
  cpu: z.string().optional(),
  memory: z.string().optional(),
  'service-account': z.string().optional(),
  kubeconfig: z.string().optional(),
  context: z.string().optional(),
  /** pvc:<claim> or host:<absolute path>: the volume the data set and model travel through. */
  volume: z.string().optional(),
  'mount-path': z.string().optional(),
  'local-path': z.string().optional(),
  'timeout-seconds': z.number().int().positive().optional(),
  'pending-timeout-seconds': z.number().int().positive().optional(),
  'ttl-seconds-after-finished': z.number().int().nonnegative().optional(),
});
export type KubernetesSection = z.infer<typeof kubernetesSettingsSchema>;

/** Merges explicit settings over modelship.yml's train.kubernetes and checks them. */
export function resolveSettings(explicit: KubernetesSettings, section: KubernetesSection, cwd: string): ResolvedSettings {
  const image = explicit.image ?? section.image;
  if (!image)
    throw new ConfigurationError(
      'target kubernetes needs an image: train.kubernetes.image is not set.',
      "Build modelship's Dockerfile, push it where the cluster can pull it, and set train.kubernetes.image in modelship.yml.",
    );
  const cpu = explicit.cpu ?? section.cpu ?? '2';
  const memory = explicit.memory ?? section.memory ?? '2Gi';
  for (const [key, v] of [
    ['cpu', cpu],
    ['memory', memory],
  ] as const)
    if (!QUANTITY.test(v))
      throw new ConfigurationError(
        `train.kubernetes.${key} '${v}' is not a Kubernetes quantity.`,
        `Use e.g. ${key === 'cpu' ? "'2' or '500m'" : "'4Gi'"}.`,
      );
  const rawVolume = explicit.volume ?? section.volume;
  if (rawVolume === undefined)
    throw new ConfigurationError(
      'target kubernetes needs a volume to exchange the data set and the model: train.kubernetes.volume is not set.',
      'Set train.kubernetes.volume to pvc:<claim-name> (with local-path where the runner sees it) or host:<path> on a single-node cluster.',
    );
  const volume = typeof rawVolume === 'string' ? parseVolume(rawVolume, 'train.kubernetes.volume') : rawVolume;
  const mountPath = explicit.mountPath ?? section['mount-path'] ?? DEFAULT_MOUNT_PATH;
  if (!path.posix.isAbsolute(mountPath))
    throw new ConfigurationError(`train.kubernetes.mount-path '${mountPath}' must be an absolute path.`, 'Use e.g. /modelship.');
  const local = explicit.localPath ?? section['local-path'];
  const localPath = volume.kind === 'hostPath' ? volume.path : local !== undefined ? path.resolve(cwd, local) : undefined;
  const kubeconfig = explicit.kubeconfig ?? section.kubeconfig;
  const context = explicit.context ?? section.context;
  const namespace = explicit.namespace ?? section.namespace;
  const serviceAccount = explicit.serviceAccount ?? section['service-account'];
  return {
    image,
    cpu,
    memory,
    volume,
    mountPath: path.posix.normalize(mountPath),
    ...(localPath !== undefined ? { localPath } : {}),
    ...(kubeconfig ? { kubeconfig } : {}),
    ...(context ? { context } : {}),
    ...(namespace ? { namespace } : {}),
    ...(serviceAccount ? { serviceAccount } : {}),
    timeoutSeconds: positiveInt(explicit.timeoutSeconds ?? section['timeout-seconds'], 'train.kubernetes.timeout-seconds') ?? 6 * 3600,
    pendingTimeoutSeconds:
      positiveInt(explicit.pendingTimeoutSeconds ?? section['pending-timeout-seconds'], 'train.kubernetes.pending-timeout-seconds') ?? 600,
    ttlSecondsAfterFinished: explicit.ttlSecondsAfterFinished ?? section['ttl-seconds-after-finished'] ?? 3600,
  };
}

/**
 * Where a runner-side path is inside the pod: the same path relative to the volume, under the mount.
 * `input` names the option in errors.
 */
export function podPath(settings: ResolvedSettings, local: string, input: string, cwd: string): string {
  const { localPath, mountPath, volume } = settings;
  if (localPath !== undefined) {
    const abs = path.resolve(cwd, local);
    if (!isInside(localPath, abs))
      throw new ConfigurationError(
        `${input} '${local}' is not on the volume shared with the Job (${localPath}).`,
        `Put it inside ${localPath} (e.g. setup-data with output-dir under it), or change train.kubernetes.volume.`,
      );
    const rel = path.relative(localPath, abs).split(path.sep).join('/');
    return rel === '' ? mountPath : path.posix.join(mountPath, rel);
  }
  if (path.isAbsolute(local) || path.posix.normalize(local).startsWith('..'))
    throw new ConfigurationError(
      `${input} '${local}' must be a path inside the claim ${volume.kind === 'pvc' ? volume.claimName : ''} (relative), since the runner does not see the volume.`,
      'Give a relative path inside the claim, or set train.kubernetes.local-path to where this runner mounts it.',
    );
  return path.posix.join(mountPath, path.posix.normalize(local));
}

const LABEL_VALUE = (v: string): string =>
  v
    .replace(/[^A-Za-z0-9._-]/g, '-')
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');

export interface TrainJobPlan {
  readonly settings: ResolvedSettings;
  readonly options: TrainOptions;
  /** Paths as the pod sees them. */
  readonly dataset: string;
  readonly outputDir: string;
  readonly resumeFrom?: string;
  /** Annotations to record (e.g. the workflow run URL). */
  readonly annotations?: Readonly<Record<string, string>>;
}

/** The Job manifest (pure): one pod, no retries, the modelship image training with --target local. */
export function buildTrainJob(plan: TrainJobPlan): V1Job {
  const { settings: s, options: o } = plan;
  const name = o.name ? LABEL_VALUE(o.name) : '';
  const labels: Record<string, string> = {
    'app.kubernetes.io/name': 'modelship',
    'app.kubernetes.io/component': 'train',
    'modelship.dev/step': 'train',
    ...(name ? { 'modelship.dev/model': name } : {}),
  };
  const args = [
    'train',
    '--dataset',
    plan.dataset,
    '--output-dir',
    plan.outputDir,
    '--architecture',
    o.architecture,
    '--epochs',
    String(o.epochs),
    '--batch-size',
    String(o.batchSize),
    '--learning-rate',
    String(o.learningRate),
    '--seed',
    String(o.seed),
    '--backend',
    o.backend,
    '--early-stopping-patience',
    String(o.earlyStoppingPatience),
    ...(plan.resumeFrom ? ['--resume-from', plan.resumeFrom] : []),
    ...(o.name ? ['--name', o.name] : []),
    ...(o.memoryBudget !== undefined ? ['--memory-budget', String(o.memoryBudget)] : []),
    '--target',
    'local',
  ];
  const volume =
    s.volume.kind === 'pvc'
      ? { name: 'exchange', persistentVolumeClaim: { claimName: s.volume.claimName } }
      : { name: 'exchange', hostPath: { path: s.volume.path, type: 'Directory' } };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      generateName: `${(name || 'modelship').slice(0, 40)}-train-`,
      labels,
      ...(plan.annotations ? { annotations: { ...plan.annotations } } : {}),
    },
    spec: {
      backoffLimit: 0,
      ttlSecondsAfterFinished: s.ttlSecondsAfterFinished,
      // The runner gives up first (and deletes the Job); the deadline ends it if the runner is gone.
      activeDeadlineSeconds: s.timeoutSeconds + DEADLINE_GRACE_SECONDS,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          ...(s.serviceAccount ? { serviceAccountName: s.serviceAccount } : {}),
          securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: TRAIN_CONTAINER,
              image: s.image,
              // The image's entrypoint is the modelship CLI (see the Dockerfile).
              args,
              env: [{ name: 'MODELSHIP_TARGET', value: 'kubernetes' }],
              resources: { requests: { cpu: s.cpu, memory: s.memory }, limits: { cpu: s.cpu, memory: s.memory } },
              volumeMounts: [{ name: 'exchange', mountPath: s.mountPath }],
              securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
            },
          ],
          volumes: [volume],
        },
      },
    },
  };
}

/** What to do about a pod problem, in modelship.yml terms. */
export function trainHint(p: PodProblem | undefined, s: ResolvedSettings, job: string, namespace: string): string {
  switch (p?.kind) {
    case 'OOMKilled':
      return `Raise train.kubernetes.memory in modelship.yml (now ${s.memory}), or lower batch-size.`;
    case 'ImagePull':
      return `Check that train.kubernetes.image '${s.image}' exists and the cluster can pull it (a private registry needs an imagePullSecret on the service account).`;
    case 'Unschedulable':
      return `No node can take ${s.cpu} CPU and ${s.memory} of memory: lower train.kubernetes.cpu/memory, or add capacity.`;
    case 'ContainerConfig':
      return 'Fix the pod configuration named above (a missing secret, config map or volume).';
    case 'Evicted':
      return 'The node ran short of resources: raise train.kubernetes.memory so the pod is not evicted first, or retry.';
    case 'DeadlineExceeded':
      return `Raise train.kubernetes.timeout-seconds (now ${s.timeoutSeconds}).`;
    default:
      return `See the training log above (kubectl logs job/${job} -n ${namespace}).`;
  }
}

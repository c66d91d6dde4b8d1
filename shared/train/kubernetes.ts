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
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { V1Job } from '@kubernetes/client-node';
import { loadConfig, type ProjectConfig } from '../config/index.ts';
import {
  KubeClient,
  containerStarted,
  explainPodFailure,
  jobPodSelector,
  jobState,
  type JobJson,
  type PodJson,
  type PodProblem,
} from '../k8s/index.ts';
import { HISTORY_FILE, MODEL_METADATA_FILE, type EpochRecord, type ModelMetadata } from '../model/index.ts';
import type { StepContext } from '../steps/index.ts';
import { ConfigurationError, errorMessage, isInside, ModelshipError } from '../util/index.ts';
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

/** The modelship.yml keys this target reads, including ones newer than the schema may declare. */
type KubernetesSection = NonNullable<NonNullable<ProjectConfig['train']>['kubernetes']> & {
  kubeconfig?: string;
  context?: string;
  volume?: string;
  'mount-path'?: string;
  'local-path'?: string;
  'timeout-seconds'?: number;
  'pending-timeout-seconds'?: number;
  'ttl-seconds-after-finished'?: number;
};

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
              env: [
                { name: 'MODELSHIP_TARGET', value: 'kubernetes' },
                ...(o.name ? [{ name: 'MODELSHIP_MODEL_NAME', value: o.name }] : []),
              ],
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

function describe(p: PodProblem): string {
  return p.detail ? `${p.summary}: ${p.detail.replace(/[.\s]+$/, '')}` : p.summary;
}

interface Outcome {
  readonly job: JobJson;
  readonly pod?: PodJson;
}

/** Signals that ended the wait before the Job did. */
class Stop extends Error {}

/**
 * Creates the Job, streams its log, waits for it, and returns the model folder on the volume
 * (read back to fill the step's outputs). Throws a ModelshipError with the pod's reason on failure.
 */
export async function trainOnKubernetes(options: KubernetesTrainOptions, ctx: StepContext): Promise<KubernetesTrainResult> {
  const { log } = ctx;
  const { config } = await loadConfig(options.config, ctx.cwd);
  const section = (config.train?.kubernetes ?? {}) as KubernetesSection;
  const settings = resolveSettings(options.kubernetes ?? {}, section, ctx.cwd);
  const dataset = podPath(settings, options.dataset, 'dataset', ctx.cwd);
  const outputDir = podPath(settings, options.outputDir, 'output-dir', ctx.cwd);
  const resumeFrom = options.resumeFrom ? podPath(settings, options.resumeFrom, 'resume-from', ctx.cwd) : undefined;
  const client =
    options.client ??
    KubeClient.connect(
      {
        ...(settings.kubeconfig ? { kubeconfig: settings.kubeconfig } : {}),
        ...(settings.context ? { context: settings.context } : {}),
        ...(settings.namespace ? { namespace: settings.namespace } : {}),
      },
      ctx.env,
      ctx.cwd,
    );
  const namespace = settings.namespace ?? client.namespace;
  const runUrl =
    ctx.env.GITHUB_SERVER_URL && ctx.env.GITHUB_REPOSITORY && ctx.env.GITHUB_RUN_ID
      ? `${ctx.env.GITHUB_SERVER_URL}/${ctx.env.GITHUB_REPOSITORY}/actions/runs/${ctx.env.GITHUB_RUN_ID}`
      : undefined;
  const manifest = buildTrainJob({
    settings,
    options: { ...options, name: options.name ?? config.name },
    dataset,
    outputDir,
    ...(resumeFrom ? { resumeFrom } : {}),
    annotations: { 'modelship.dev/dataset': dataset, ...(runUrl ? { 'modelship.dev/run': runUrl } : {}) },
  });
  const started = ctx.now();
  // Interrupts are handled from before the Job exists, so none can leave it behind.
  const stop = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => stop.abort(new Stop(`interrupted by ${sig}`));
  const onAbort = (): void => stop.abort(new Stop('interrupted'));
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) onAbort();
  const handleSignals = options.handleSignals ?? !options.signal;
  if (handleSignals) {
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }
  const timer = setTimeout(() => stop.abort(new Stop('timeout')), settings.timeoutSeconds * 1000);
  const lines: string[] = [];
  let jobName: string | undefined;
  let outcome: Outcome;
  try {
    if (stop.signal.aborted) throw stop.signal.reason;
    const created = await client.createJob(manifest, namespace);
    jobName = created.metadata?.name ?? '?';
    log.info(
      `modelship train · Kubernetes Job ${jobName} in namespace ${namespace} (${client.server}) · image ${settings.image} · cpu ${settings.cpu} · memory ${settings.memory}`,
    );
    if (stop.signal.aborted) throw stop.signal.reason;
    outcome = await log.group(`train (Job ${jobName})`, () =>
      watchJob(client, created, namespace, settings, stop.signal, (line) => {
        lines.push(line);
        log.info(line);
      }),
    );
  } catch (err) {
    const reason: unknown = stop.signal.aborted ? stop.signal.reason : err;
    if (jobName === undefined) {
      if (reason instanceof Stop) throw new ModelshipError(`train on Kubernetes: ${reason.message} before the Job was created.`);
      throw err;
    }
    const deleted = await client.deleteJob(jobName, namespace).catch(() => false);
    const cleanup = deleted ? `Job ${jobName} deleted.` : `Job ${jobName} may still exist: kubectl delete job ${jobName} -n ${namespace}.`;
    if (reason instanceof Stop && reason.message === 'timeout')
      throw new ModelshipError(
        `train Job ${jobName} did not finish within ${settings.timeoutSeconds} s. ${cleanup}`,
        'Raise train.kubernetes.timeout-seconds, or give the Job more cpu.',
      );
    if (reason instanceof Stop) throw new ModelshipError(`train Job ${jobName}: ${reason.message}. ${cleanup}`);
    if (err instanceof PodStuck)
      throw new ModelshipError(
        `train Job ${jobName} failed: ${describe(err.problem)}. ${cleanup}`,
        trainHint(err.problem, settings, jobName, namespace),
      );
    throw err;
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
    if (handleSignals) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  }

  const state = jobState(outcome.job);
  if (state.state === 'failed') {
    const problem =
      (outcome.pod ? explainPodFailure(outcome.pod) : undefined) ??
      (state.reason === 'DeadlineExceeded' ? deadlineProblem(state.message) : undefined);
    const why = problem ? describe(problem) : `${state.reason}${state.message ? ` (${state.message})` : ''}`;
    throw new ModelshipError(`train Job ${jobName} failed: ${why}.`, trainHint(problem, settings, jobName, namespace));
  }
  return readResult(settings, options.outputDir, outputDir, ctx, lines, started, {
    jobName,
    namespace,
    podName: outcome.pod?.metadata?.name,
  });
}

function deadlineProblem(message: string): PodProblem {
  return {
    kind: 'DeadlineExceeded',
    reason: 'DeadlineExceeded',
    summary: 'the Job ran past its deadline',
    ...(message ? { detail: message } : {}),
    terminal: true,
  };
}

class PodStuck extends Error {
  readonly problem: PodProblem;
  constructor(problem: PodProblem) {
    super(problem.summary);
    this.problem = problem;
  }
}

/**
 * Follows the Job to its end: the pods' watch starts the log stream once the trainer container
 * runs and fails fast on a pod that cannot start; the Job's watch says when it finished.
 */
async function watchJob(
  client: KubeClient,
  job: V1Job,
  namespace: string,
  s: ResolvedSettings,
  signal: AbortSignal,
  onLine: (line: string) => void,
): Promise<Outcome> {
  const name = job.metadata?.name ?? '';
  const inner = new AbortController();
  const cancel = (): void => inner.abort(signal.reason);
  signal.addEventListener('abort', cancel, { once: true });
  const followers = new Map<string, Promise<unknown>>();
  let lastPod: PodJson | undefined;
  let pendingTimer: NodeJS.Timeout | undefined;
  const stuck = new Promise<never>((_, reject) => {
    client
      .watchPods(
        jobPodSelector(job),
        (type, pod) => {
          const podName = pod.metadata?.name ?? '';
          if (type !== 'DELETED') lastPod = pod;
          if (type !== 'DELETED' && !followers.has(podName) && containerStarted(pod, TRAIN_CONTAINER))
            followers.set(
              podName,
              client.followLogs(podName, TRAIN_CONTAINER, onLine, { namespace, signal: inner.signal }).catch((err: unknown) => {
                if (!inner.signal.aborted) onLine(`(modelship: the log of pod ${podName} stopped: ${errorMessage(err)})`);
              }),
            );
          const problem = type === 'DELETED' ? undefined : explainPodFailure(pod);
          if (problem?.kind === 'Unschedulable') {
            pendingTimer ??= setTimeout(() => reject(new PodStuck(problem)), s.pendingTimeoutSeconds * 1000);
          } else if (pendingTimer) {
            clearTimeout(pendingTimer);
            pendingTimer = undefined;
          }
          // Failures the Job controller will see itself (exit codes, OOM) end through the Job's watch.
          if (problem?.terminal && problem.kind !== 'OOMKilled' && problem.kind !== 'ExitCode') return problem;
          return undefined;
        },
        { namespace, signal: inner.signal },
      )
      .then((p) => reject(new PodStuck(p)), reject);
  });
  stuck.catch(() => undefined);
  try {
    const finished = await Promise.race([client.waitForJob(name, { namespace, signal: inner.signal }), stuck]);
    // Let the log streams drain what the container wrote before it ended (bounded).
    await Promise.race([Promise.allSettled(followers.values()), new Promise((r) => setTimeout(r, 10_000).unref())]);
    let pod = lastPod;
    if (jobState(finished).state === 'failed' && (!pod || !explainPodFailure(pod))) {
      const pods = await client.findJobPods(job, namespace).catch(() => []);
      const latest = pods.at(-1);
      if (latest) pod = latest;
    }
    return { job: finished, ...(pod ? { pod } : {}) };
  } finally {
    if (pendingTimer) clearTimeout(pendingTimer);
    signal.removeEventListener('abort', cancel);
    inner.abort(new Stop('finished'));
  }
}

async function readJson<T>(file: string, what: string): Promise<T> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as T;
  } catch (err) {
    throw new ModelshipError(
      `the train Job completed but ${what} cannot be read from the shared volume (${file}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}).`,
      'Check that train.kubernetes.volume is the same storage this runner sees at its local path.',
    );
  }
}

async function readResult(
  s: ResolvedSettings,
  localOutput: string,
  podModelDir: string,
  ctx: StepContext,
  lines: readonly string[],
  started: Date,
  job: { jobName: string; namespace: string; podName: string | undefined },
): Promise<KubernetesTrainResult> {
  if (s.localPath === undefined)
    throw new ModelshipError(
      `train Job ${job.jobName} completed; the model is at ${podModelDir} on claim ${s.volume.kind === 'pvc' ? s.volume.claimName : ''}, which this runner does not see.`,
      'Set train.kubernetes.local-path to where this runner mounts the claim, so the step can read the model back.',
    );
  const modelDir = path.resolve(ctx.cwd, localOutput);
  const metadata = await readJson<ModelMetadata>(path.join(modelDir, MODEL_METADATA_FILE), MODEL_METADATA_FILE);
  const historyPath = path.join(modelDir, HISTORY_FILE);
  const history = await readJson<EpochRecord[]>(historyPath, HISTORY_FILE);
  // The trainer's first line names the backend and the split sizes (see train/progress.ts).
  const header = lines.find((l) => l.startsWith('modelship train'));
  const counts = header ? /([\d,]+) train \/ ([\d,]+) val/.exec(header) : null;
  const reason = header ? /backend \w+ \(([^)]*)\)/.exec(header) : null;
  const count = (t: string | undefined): number => (t ? Number(t.replace(/,/g, '')) : 0);
  const epochsRun = metadata.metrics.epochsRun;
  return {
    modelDir,
    historyPath,
    backend: metadata.backend,
    backendReason: reason?.[1] ?? `chosen in pod ${job.podName ?? job.jobName}`,
    ...(metadata.metrics.valAccuracy !== undefined ? { valAccuracy: metadata.metrics.valAccuracy } : {}),
    finalLoss: metadata.metrics.finalLoss ?? history.at(-1)?.loss ?? Number.NaN,
    durationSeconds: metadata.training?.durationSeconds ?? (ctx.now().getTime() - started.getTime()) / 1000,
    metadata,
    history,
    stoppedEarly: epochsRun < metadata.params.epochs && (metadata.params.earlyStoppingPatience ?? 0) > 0,
    resumedAfterEpoch: history.length > 0 ? Math.max(0, (history[0]?.epoch ?? 1) - 1) : 0,
    trainCount: count(counts?.[1]),
    valCount: count(counts?.[2]),
    jobName: job.jobName,
    namespace: job.namespace,
    ...(job.podName ? { podName: job.podName } : {}),
    podModelDir,
  };
}

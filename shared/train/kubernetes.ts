/**
 * `target: kubernetes`: runs the training Job (shared/k8s's Job runner) and reads the model back
 * from the shared volume. The Job's manifest and settings are in job.ts.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { JobRunError, describeProblem, runJob, type KubeClient, type KubeTarget } from '../k8s/index.ts';
import { HISTORY_FILE, MODEL_METADATA_FILE, type EpochRecord, type ModelMetadata } from '../model/index.ts';
import { ModelshipError, errorMessage, type Logger } from '../util/index.ts';
import {
  TRAIN_CONTAINER,
  buildTrainJob,
  podPath,
  resolveSettings,
  trainHint,
  type KubernetesTrainOptions,
  type KubernetesTrainResult,
  type ResolvedSettings,
} from './job.ts';

/** What the Kubernetes target needs from its step: a logger, a clock, a client factory and the run's link. */
export interface RemoteTrainContext {
  readonly log: Logger;
  readonly cwd: string;
  readonly now: () => Date;
  readonly kube: (target: KubeTarget) => Promise<KubeClient>;
  /** The workflow run, recorded on the Job. */
  readonly runUrl?: string;
}

/**
 * Creates the Job, streams its log, waits for it, and returns the model folder on the volume
 * (read back to fill the step's outputs). Throws a ModelshipError with the pod's reason on failure.
 */
export async function trainOnKubernetes(options: KubernetesTrainOptions, ctx: RemoteTrainContext): Promise<KubernetesTrainResult> {
  const { log } = ctx;
  const settings = resolveSettings(options.kubernetes ?? {}, options.section ?? {}, ctx.cwd);
  const dataset = podPath(settings, options.dataset, 'dataset', ctx.cwd);
  const outputDir = podPath(settings, options.outputDir, 'output-dir', ctx.cwd);
  const resumeFrom = options.resumeFrom ? podPath(settings, options.resumeFrom, 'resume-from', ctx.cwd) : undefined;
  const client =
    options.client ??
    (await ctx.kube({
      ...(settings.kubeconfig ? { kubeconfig: settings.kubeconfig } : {}),
      ...(settings.context ? { context: settings.context } : {}),
      ...(settings.namespace ? { namespace: settings.namespace } : {}),
    }));
  const namespace = settings.namespace ?? client.namespace;
  const manifest = buildTrainJob({
    settings,
    options,
    dataset,
    outputDir,
    ...(resumeFrom ? { resumeFrom } : {}),
    annotations: { 'modelship.dev/dataset': dataset, ...(ctx.runUrl ? { 'modelship.dev/run': ctx.runUrl } : {}) },
  });
  const started = ctx.now();
  let outcome;
  try {
    outcome = await runJob(client, manifest, {
      namespace,
      container: TRAIN_CONTAINER,
      onLine: (line) => log.info(line),
      onCreated: (name) =>
        log.info(
          `modelship train · Kubernetes Job ${name} in namespace ${namespace} (${client.server}) · image ${settings.image} · cpu ${settings.cpu} · memory ${settings.memory}`,
        ),
      around: (name, wait) => log.group(`train (Job ${name})`, wait),
      timeoutMs: settings.timeoutSeconds * 1000,
      pendingTimeoutMs: settings.pendingTimeoutSeconds * 1000,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.handleSignals !== undefined ? { handleSignals: options.handleSignals } : {}),
    });
  } catch (err) {
    if (!(err instanceof JobRunError)) throw err;
    if (err.jobName === undefined) throw new ModelshipError(`train on Kubernetes: ${err.message}`);
    if (err.reason === 'timeout')
      throw new ModelshipError(
        `train Job ${err.jobName} did not finish within ${settings.timeoutSeconds} s. ${err.cleanup}`,
        'Raise train.kubernetes.timeout-seconds, or give the Job more cpu.',
      );
    if (err.reason === 'stuck' && err.problem)
      throw new ModelshipError(
        `train Job ${err.jobName} failed: ${describeProblem(err.problem)}. ${err.cleanup}`,
        trainHint(err.problem, settings, err.jobName, namespace),
      );
    throw new ModelshipError(`train ${err.message}`);
  }
  if (outcome.state.state === 'failed') {
    const why = outcome.problem
      ? describeProblem(outcome.problem)
      : `${outcome.state.reason}${outcome.state.message ? ` (${outcome.state.message})` : ''}`;
    throw new ModelshipError(`train Job ${outcome.name} failed: ${why}.`, trainHint(outcome.problem, settings, outcome.name, namespace));
  }
  return readResult(settings, options.outputDir, outputDir, ctx, started, {
    jobName: outcome.name,
    namespace,
    podName: outcome.pod?.metadata?.name,
  });
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
  ctx: RemoteTrainContext,
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
  const epochsRun = metadata.metrics.epochsRun;
  return {
    modelDir,
    historyPath,
    backend: metadata.backend,
    backendReason: metadata.backendReason ?? `chosen in pod ${job.podName ?? job.jobName}`,
    ...(metadata.metrics.valAccuracy !== undefined ? { valAccuracy: metadata.metrics.valAccuracy } : {}),
    finalLoss: metadata.metrics.finalLoss ?? history.at(-1)?.loss ?? Number.NaN,
    durationSeconds: metadata.training?.durationSeconds ?? (ctx.now().getTime() - started.getTime()) / 1000,
    metadata,
    history,
    stoppedEarly: epochsRun < metadata.params.epochs && (metadata.params.earlyStoppingPatience ?? 0) > 0,
    resumedAfterEpoch: history.length > 0 ? Math.max(0, (history[0]?.epoch ?? 1) - 1) : 0,
    trainCount: metadata.training?.trainCount ?? 0,
    valCount: metadata.training?.valCount ?? 0,
    jobName: job.jobName,
    namespace: job.namespace,
    ...(job.podName ? { podName: job.podName } : {}),
    podModelDir,
  };
}

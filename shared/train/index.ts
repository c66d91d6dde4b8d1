/**
 * The training domain: `train(options, ctx)` (local) and `trainOnKubernetes` (the same training as
 * a Job). Both load their heavy parts (TensorFlow.js, the Kubernetes client) on first use.
 */
import { isMainThread, workerData } from 'node:worker_threads';
import type { KubernetesTrainOptions, KubernetesTrainResult } from './job.ts';
import type { RemoteTrainContext } from './kubernetes.ts';
import type { Checkpoint } from './checkpoint.ts';
import type { TrainContext, TrainOptions, TrainResult } from './options.ts';

export type { TrainContext, TrainOptions, TrainResult } from './options.ts';
export { CHECKPOINT_DIR, TrainingInterrupted } from './options.ts';
export type { RemoteTrainContext } from './kubernetes.ts';
export {
  DEFAULT_MOUNT_PATH,
  TRAIN_CONTAINER,
  buildTrainJob,
  kubernetesSettingsSchema,
  parseVolume,
  podPath,
  resolveSettings,
  trainHint,
  type KubernetesSection,
  type KubernetesSettings,
  type KubernetesTrainOptions,
  type KubernetesTrainResult,
  type ResolvedSettings,
  type VolumeSpec,
} from './job.ts';
export type { Checkpoint, CheckpointState } from './checkpoint.ts';
export { earlyStopping, epochLine, formatDuration, headerLine, progressLine, recipeLine } from './progress.ts';
export { defaultSchedule, learningRateAt, type Schedule } from './schedule.ts';
export { augmentBatch, defaultAugmentation, type Augmentation } from './augment.ts';

/**
 * Starts the data-parallel replica when this module loads in a worker thread that parallel.ts
 * started on the bundle (the bundle's entry calls it; from source, the worker runs replica.ts).
 */
export function startReplicaIfWorker(): void {
  if (!isMainThread && (workerData as { modelshipReplica?: boolean } | null)?.modelshipReplica) void import('./replica.ts');
}

/** Trains on this machine (see loop.ts). */
export async function train(options: TrainOptions, ctx: TrainContext): Promise<TrainResult> {
  return (await import('./loop.ts')).train(options, ctx);
}

/** Trains in a Kubernetes Job (see kubernetes.ts). */
export async function trainOnKubernetes(options: KubernetesTrainOptions, ctx: RemoteTrainContext): Promise<KubernetesTrainResult> {
  return (await import('./kubernetes.ts')).trainOnKubernetes(options, ctx);
}

/** Reads the checkpoint in a folder (or a model-dir holding one), checking it is whole (see checkpoint.ts). */
export async function readCheckpoint(dirOrModelDir: string, inputName?: string): Promise<Checkpoint> {
  return (await import('./checkpoint.ts')).readCheckpoint(dirOrModelDir, inputName);
}

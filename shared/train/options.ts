/**
 * The training domain's public types: what `train` takes and what it gives back. Shared by local
 * training and the Kubernetes target, which runs the same training in a Job.
 */
import type { BackendName, BackendPreference, EpochRecord, ModelMetadata } from '../model/index.ts';
import { ModelshipError, type Logger, type Provenance } from '../util/index.ts';

/** The folder under output-dir where the last checkpoint is kept. */
export const CHECKPOINT_DIR = '.checkpoint';

export interface TrainOptions {
  /** The data set folder or its manifest.json (setup-data's dataset-dir or manifest output). */
  readonly dataset: string;
  /** A built-in (cnn, mlp) or a path to an ES module exporting build(opts). */
  readonly architecture: string;
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly seed: number;
  readonly backend: BackendPreference;
  /** 0 turns early stopping off. */
  readonly earlyStoppingPatience: number;
  /** A checkpoint folder, or a model-dir holding one, to continue from. */
  readonly resumeFrom?: string;
  /**
   * Fine-tuning: start from this model's weights, a registry reference (production,
   * fashion@production, fashion:3, oci://…) or a model folder (see init.ts). `epochs` and
   * `learningRate` are then the fine-tuning ones.
   */
  readonly initFrom?: string;
  /** Where init-from's registry references live (default .modelship/registry), and its credentials. */
  readonly registry?: string;
  readonly registryUsername?: string;
  readonly registryPassword?: string;
  readonly outputDir: string;
  /** The model's name (modelship.yml `name`), recorded in the metadata. */
  readonly name?: string;
  /** Largest size of the train and validation splits held in memory, in bytes (refused above it before reading). */
  readonly memoryBudget?: number;
  /**
   * Stop cleanly (leaving the last checkpoint) on SIGINT/SIGTERM. On by default; tests that run
   * several trainings in one process may pass an AbortSignal instead.
   */
  readonly handleSignals?: boolean;
  readonly signal?: AbortSignal;
}

export interface TrainContext {
  readonly log: Logger;
  /** MODELSHIP_TRAIN_THREADS (1 or 2; default: 2 where two cores are free), MODELSHIP_PROGRESS_SECONDS; default: none set. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly now: () => Date;
  /** Where the run comes from, recorded as the model's git metadata. */
  readonly provenance?: Provenance;
}

export interface TrainResult {
  readonly modelDir: string;
  readonly historyPath: string;
  readonly backend: BackendName;
  readonly backendReason: string;
  /** Validation accuracy of the kept (best) epoch; undefined for regression or without validation data. */
  readonly valAccuracy?: number;
  /** Training loss of the last epoch run. */
  readonly finalLoss: number;
  readonly durationSeconds: number;
  readonly metadata: ModelMetadata;
  readonly history: readonly EpochRecord[];
  /** Set when the run stopped early: the epoch whose weights were kept. */
  readonly stoppedEarly: boolean;
  /** The epoch the run resumed after (0 for a fresh run). */
  readonly resumedAfterEpoch: number;
  readonly trainCount: number;
  readonly valCount: number;
}

/** Thrown when a signal stops training; says where the last good checkpoint is. */
export class TrainingInterrupted extends ModelshipError {
  readonly checkpointDir: string | undefined;
  constructor(signal: string, epoch: number, checkpointDir: string | undefined) {
    super(
      checkpointDir
        ? `training stopped by ${signal} during epoch ${epoch}; the last good checkpoint (after epoch ${epoch - 1}) is in ${checkpointDir}.`
        : `training stopped by ${signal} during epoch ${epoch}, before the first checkpoint.`,
      checkpointDir ? `Run train again with resume-from: ${checkpointDir} to continue.` : 'Run train again; nothing was saved.',
    );
    this.checkpointDir = checkpointDir;
  }
}

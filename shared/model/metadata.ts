/**
 * The model folder's contract: tfjs layers `model.json` + weight files, and `modelship.json`
 * with what serving and evaluation need to reproduce the input pipeline exactly.
 * The server reads preprocessing from here, so training and serving cannot drift apart.
 */
import type { DatasetStatistics, SplitName, Task, TensorDtype } from '../data/index.ts';

export const MODEL_METADATA_FILE = 'modelship.json';
export const MODEL_JSON_FILE = 'model.json';
export const HISTORY_FILE = 'history.json';
/** The one weight file a model folder written by modelship has. */
export const WEIGHTS_FILE = 'weights.bin';
export const MODEL_CARD_FILE = 'model-card.md';
export const MODEL_SCHEMA_VERSION = 1;

export type BackendName = 'node' | 'wasm' | 'cpu';

/** raw → (raw * scale + offset - mean[c]) / std[c], per channel c (mean/std optional). */
export interface Preprocessing {
  readonly scale: number;
  readonly offset: number;
  readonly mean?: readonly number[];
  readonly std?: readonly number[];
}

export interface TrainParams {
  readonly architecture: string;
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly seed: number;
  readonly earlyStoppingPatience: number;
}

/**
 * The training data's reference statistics, copied from the data set manifest at training time,
 * so the model server bins live inputs exactly as the reference was binned and monitor-check can
 * compare the two without the data set at hand.
 */
export interface ModelReference {
  /** Fraction of examples per class, indexed like `classes`. */
  readonly classDistribution: DatasetStatistics['classDistribution'];
  /** Histogram of all raw input values (pixels 0..255 in 32 bins, or features over their range). */
  readonly histogram: DatasetStatistics['histogram'];
  readonly channels: DatasetStatistics['channels'];
  /** Per feature, for tabular data. */
  readonly features?: DatasetStatistics['features'];
  /** The raw input's dtype: uint8 pixels or float32 features. */
  readonly dtype?: TensorDtype;
}

/** What a fine-tuned model started from (train's init-from). */
export interface ModelInitFrom {
  /** As given: `production`, `fashion:3`, a folder. */
  readonly source: string;
  /** The registry reference it resolved to (`fashion:3`), for a registry source. */
  readonly ref?: string;
  readonly version?: number;
  /** The registry manifest digest, or a folder's files digest. */
  readonly digest: string;
  /** The data set digest the earlier model was trained on. */
  readonly dataset: string;
  readonly valAccuracy?: number;
}

export interface ModelMetadata {
  readonly schemaVersion: typeof MODEL_SCHEMA_VERSION;
  readonly kind: 'modelship.model';
  readonly name?: string;
  readonly task: Task;
  readonly inputShape: readonly number[];
  readonly classes: readonly string[];
  readonly preprocessing: Preprocessing;
  /** Reference statistics of the training data (absent in models trained before it was recorded). */
  readonly reference?: ModelReference;
  readonly dataset: {
    readonly digest: string;
    /** Digests of the splits used, so evaluation can check it scores held-out data. */
    readonly splits: Readonly<Partial<Record<SplitName, string>>>;
  };
  readonly params: TrainParams;
  /** Set when the model was fine-tuned from an earlier one (train's init-from). */
  readonly initFrom?: ModelInitFrom;
  readonly backend: BackendName;
  /** Why that backend (e.g. "tfjs-node not installed"). */
  readonly backendReason?: string;
  readonly versions: Readonly<Record<string, string>>;
  readonly git: {
    readonly commit?: string;
    /** True when tracked files differed from the commit when it trained (a local checkout). */
    readonly dirty?: boolean;
    readonly ref?: string;
    readonly repository?: string;
    readonly runUrl?: string;
  };
  readonly metrics: {
    readonly valAccuracy?: number;
    readonly valLoss?: number;
    readonly finalLoss?: number;
    readonly bestEpoch?: number;
    readonly epochsRun: number;
  };
  readonly training: {
    readonly startedAt: string;
    readonly finishedAt: string;
    readonly durationSeconds: number;
    readonly samplesPerSecond: number;
    /** Examples trained on and validated on. */
    readonly trainCount?: number;
    readonly valCount?: number;
  };
}

/** One epoch in history.json (an array of these). */
export interface EpochRecord {
  readonly epoch: number;
  readonly loss: number;
  readonly acc?: number;
  readonly valLoss?: number;
  readonly valAcc?: number;
  readonly samplesPerSecond: number;
  readonly seconds: number;
}

/**
 * The data set folder's contract: `manifest.json` plus per-split tensor files.
 *
 * Everything downstream (train, evaluate-gate, register, monitor-check) reads this, and names the
 * data by `digest`. Tensors are raw little-endian arrays (`<split>.x.bin`, `<split>.y.bin`) so the
 * trainer loads them without decoding images again.
 *
 * Every digest here can be recomputed from the tensors (digest.ts), and every reader does so
 * before it uses or records one (load.ts): a folder changed after setup-data wrote it is refused.
 */
export const MANIFEST_FILE = 'manifest.json';
/** 2: the manifest carries its own digest, and every reader verifies the folder against it (see digest.ts). */
export const DATASET_SCHEMA_VERSION = 2;

export type SplitName = 'train' | 'validation' | 'test';
export const SPLITS: readonly SplitName[] = ['train', 'validation', 'test'];

export type DatasetFormat = 'image-folder' | 'idx' | 'csv';
export type Task = 'classification' | 'regression';
export type TensorDtype = 'uint8' | 'int32' | 'float32';

/** A raw tensor file inside the data set folder. */
export interface TensorFile {
  /** Path relative to the data set folder, e.g. `train.x.bin`. */
  readonly file: string;
  readonly dtype: TensorDtype;
  /** Full shape, first dimension = examples, e.g. [54000, 28, 28, 1]. */
  readonly shape: readonly number[];
  readonly sha256: string;
}

export interface SplitRecord {
  readonly count: number;
  /** sha256:<hex> over the sorted example digests of this split. */
  readonly digest: string;
  /** Examples per class, indexed like `classes` (empty for regression). */
  readonly classCounts: readonly number[];
  readonly x: TensorFile;
  readonly y: TensorFile;
}

/** One source file (image-folder, idx and csv sources record theirs). */
export interface FileRecord {
  readonly path: string;
  readonly sha256: string;
  readonly size: number;
  /** Class name for image-folder files; absent for files that hold many examples. */
  readonly label?: string;
  readonly split?: SplitName;
  /** With several sources: the index in `sources` of the source this file belongs to. */
  readonly source?: number;
}

/** One of several sources a data set was prepared from (setup-data with more than one source). */
export interface SourceRecord {
  readonly uri: string;
  /** sha256 of its download or archive, when it was one. */
  readonly sha256?: string;
  readonly format: DatasetFormat;
  /** sha256:<hex> of its content alone: the digest setup-data gives that source by itself. */
  readonly digest: string;
  readonly examples: number;
  /** Its classes, in its own order (a subset of, or the same as, the data set's). */
  readonly classes: readonly string[];
}

export interface Histogram {
  /** Bin edges, length = counts.length + 1. */
  readonly edges: readonly number[];
  readonly counts: readonly number[];
}

export interface FeatureStatistics {
  readonly name: string;
  readonly mean: number;
  readonly std: number;
  readonly min: number;
  readonly max: number;
  readonly histogram: Histogram;
}

/** Reference statistics, computed on the train split: what drift checks compare against. */
export interface DatasetStatistics {
  /** Fraction of examples per class over the whole data set, indexed like `classes`. */
  readonly classDistribution: readonly number[];
  /** Per channel, over raw values (pixels 0..255 for images). */
  readonly channels: readonly { readonly mean: number; readonly std: number }[];
  /** Histogram of all raw input values (pixels or features). */
  readonly histogram: Histogram;
  /** Per feature, for tabular data. */
  readonly features?: readonly FeatureStatistics[];
}

export interface DatasetManifest {
  readonly schemaVersion: typeof DATASET_SCHEMA_VERSION;
  readonly kind: 'modelship.dataset';
  readonly format: DatasetFormat;
  readonly task: Task;
  /** The source (the first one, when there were several). */
  readonly source: { readonly uri: string; readonly sha256?: string };
  /** Every source with its own digest, when the data set was prepared from several. */
  readonly sources?: readonly SourceRecord[];
  /** sha256:<hex> of the content: independent of file order, names and location. */
  readonly digest: string;
  /** Ordered class names: index i is label i. Empty for regression. */
  readonly classes: readonly string[];
  /** Shape of one example, e.g. [28, 28, 1] or [13]. */
  readonly inputShape: readonly number[];
  /** Column names for tabular data, in input order. */
  readonly features?: readonly string[];
  readonly split: {
    /** Percentages train/validation/test. */
    readonly ratios: readonly [number, number, number];
    readonly seed: number;
    /** True when the source gave its own train/test split. */
    readonly given: boolean;
    /** With a given split: the splits carved from the given train examples by content hash. */
    readonly carved?: readonly SplitName[];
  };
  readonly splits: Readonly<Record<SplitName, SplitRecord>>;
  readonly files: readonly FileRecord[];
  readonly statistics: DatasetStatistics;
  readonly createdAt: string;
  readonly tool: { readonly name: 'modelship'; readonly version: string };
  /** sha256:<hex> of this manifest's canonical JSON without this field (see digest.ts). */
  readonly manifestDigest: string;
}

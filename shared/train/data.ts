/**
 * The training data: the train and validation splits of a prepared data set (never the test
 * split), the preprocessing recorded with the model, and batches cut from them.
 */
import { type DatasetManifest, type LoadedDataset, openDataset, type SplitTensors, type TensorArray } from '../data/index.ts';
import { applyPreprocessing, type Preprocessing } from '../model/index.ts';
import { ConfigurationError, formatBytes, type Logger } from '../util/index.ts';

export interface TrainingData {
  readonly dataset: LoadedDataset;
  readonly train: SplitTensors;
  /** Undefined when the data set has no validation examples. */
  readonly validation?: SplitTensors;
  readonly preprocessing: Preprocessing;
}

/**
 * How raw inputs become model input, decided from the data set: images (uint8 pixels) are scaled
 * by 1/255; tabular features are standardised with the train split's statistics; anything else
 * passes through.
 */
export function choosePreprocessing(manifest: Pick<DatasetManifest, 'inputShape' | 'statistics'>, xDtype: string): Preprocessing {
  if (xDtype === 'uint8') return { scale: 1 / 255, offset: 0 };
  const features = manifest.statistics?.features;
  if (manifest.inputShape.length === 1 && features && features.length === manifest.inputShape[0]) {
    return { scale: 1, offset: 0, mean: features.map((f) => f.mean), std: features.map((f) => (f.std > 0 ? f.std : 1)) };
  }
  return { scale: 1, offset: 0 };
}

/**
 * The train and validation splits, after verifying the whole data set folder against its manifest
 * (data/load.ts): the digest the model records is the digest of the data it was trained on. The
 * splits kept in memory must fit `memoryBudget` (bytes), checked before anything is read.
 */
export async function loadTrainingData(datasetPath: string, opts: { memoryBudget?: number; log?: Logger } = {}): Promise<TrainingData> {
  const ds = await openDataset(datasetPath, {
    inputName: 'dataset',
    load: ['train', 'validation'],
    ...(opts.memoryBudget !== undefined ? { memoryBudget: opts.memoryBudget } : {}),
  });
  opts.log?.info(
    `Verified data set ${ds.manifest.digest} against its manifest: ${formatBytes(ds.verified.bytes)} in ${ds.verified.seconds.toFixed(2)} s.`,
  );
  const m = ds.manifest;
  if (m.splits.train.count === 0) {
    throw new ConfigurationError(`dataset '${datasetPath}' has no training examples.`, 'Check the split ratios given to setup-data.');
  }
  const dataset: LoadedDataset = { dir: ds.dir, manifestPath: ds.manifestPath, manifest: m };
  const train = ds.splits.train!;
  const validation = m.splits.validation.count > 0 ? ds.splits.validation : undefined;
  return { dataset, train, ...(validation ? { validation } : {}), preprocessing: choosePreprocessing(m, m.splits.train.x.dtype) };
}

/**
 * Copies the examples at `indices` into contiguous model input (preprocessed) and labels;
 * `transform` (augmentation) sees the raw batch before preprocessing.
 */
export function gatherBatch(
  split: SplitTensors,
  indices: ArrayLike<number>,
  preprocessing: Preprocessing,
  transform?: (raw: TensorArray, count: number) => void,
): { x: Float32Array; y: Float32Array } {
  const per = split.inputShape.reduce((a, b) => a * b, 1);
  const yPer = split.count > 0 ? split.y.length / split.count : 1;
  const raw: TensorArray = new (split.x.constructor as new (n: number) => TensorArray)(indices.length * per);
  const y = new Float32Array(indices.length * yPer);
  for (let i = 0; i < indices.length; i++) {
    const k = indices[i];
    raw.set(split.x.subarray(k * per, (k + 1) * per), i * per);
    for (let j = 0; j < yPer; j++) y[i * yPer + j] = split.y[k * yPer + j]!;
  }
  transform?.(raw, indices.length);
  const channels = split.inputShape.length > 0 ? split.inputShape[split.inputShape.length - 1] : 1;
  return { x: applyPreprocessing(raw, preprocessing, channels), y };
}

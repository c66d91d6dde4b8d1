/**
 * The training data: the train and validation splits of a prepared data set (never the test
 * split), the preprocessing recorded with the model, and batches cut from them.
 */
import { loadManifest, readSplit, type LoadedDataset, type SplitTensors, type TensorArray } from '../data/load.ts';
import type { DatasetManifest } from '../data/manifest.ts';
import type { Preprocessing } from '../model/metadata.ts';
import { applyPreprocessing } from '../model/predict.ts';
import { ConfigurationError } from '../util/errors.ts';

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

export async function loadTrainingData(datasetPath: string): Promise<TrainingData> {
  const dataset = await loadManifest(datasetPath, 'dataset');
  const m = dataset.manifest;
  if (m.splits.train.count === 0) {
    throw new ConfigurationError(`dataset '${datasetPath}' has no training examples.`, 'Check the split ratios given to setup-data.');
  }
  const train = await readSplit(dataset, 'train');
  const validation = m.splits.validation.count > 0 ? await readSplit(dataset, 'validation') : undefined;
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

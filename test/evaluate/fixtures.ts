/**
 * Small, real inputs for evaluate-gate tests: a 3-class data set folder whose class names are
 * hostile Markdown, and tfjs model folders with hand-set weights, so their accuracy is known by
 * construction (a good model, a near-copy, one that confuses two classes).
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { DatasetManifest } from '../../shared/data/manifest.ts';
import { saveModel } from '../../shared/model/io.ts';
import type { EpochRecord, ModelMetadata } from '../../shared/model/metadata.ts';
import { mulberry32 } from '../../shared/util/prng.ts';
import { writeSealedDataset } from '../helpers/dataset.ts';

export const CLASSES = ['cat|dog', '<b>bird</b>', 'fish @octocat'];
export const DATASET_DIGEST = `sha256:${'1'.repeat(64)}`;
export const SPLIT_DIGESTS = {
  train: `sha256:${'a'.repeat(64)}`,
  validation: `sha256:${'b'.repeat(64)}`,
  test: `sha256:${'c'.repeat(64)}`,
};

/** The manifest the last writeDataset wrote: models written after it were trained on it by default. */
let written: DatasetManifest | undefined;

/** x[label] is large, the other two features are noise: a model that reads the largest feature is right ~95% of the time. */
export async function writeDataset(dir: string, testCount = 600, seed = 3): Promise<string> {
  const rand = mulberry32(seed);
  const split = (n: number) => {
    const x = new Uint8Array(n * 3);
    const y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const label = i % 3;
      y[i] = label;
      for (let f = 0; f < 3; f++) x[i * 3 + f] = f === label ? 200 + Math.floor(rand() * 56) : Math.floor(rand() * 231);
    }
    return { x, y };
  };
  written = await writeSealedDataset(dir, {
    format: 'csv',
    classes: CLASSES,
    inputShape: [3],
    splits: { train: split(30), validation: split(30), test: split(testCount) },
  });
  return dir;
}

export type ModelKind = 'good' | 'near-copy' | 'confused';

/** A one-layer softmax model; weights chosen by kind. */
export async function writeModel(
  dir: string,
  kind: ModelKind,
  over: { datasetDigest?: string; splits?: ModelMetadata['dataset']['splits']; name?: string } = {},
): Promise<string> {
  const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 3, inputShape: [3], activation: 'softmax' })] });
  const w = [10, 0, 0, 0, 10, 0, 0, 0, 10];
  if (kind === 'confused') {
    // columns 1 and 2 swapped: classes 1 and 2 are always mistaken for each other.
    w.splice(0, 9, 10, 0, 0, 0, 0, 10, 0, 10, 0);
  }
  const bias = kind === 'near-copy' ? [0.15, 0, 0] : [0, 0, 0];
  model.setWeights([tf.tensor2d(w, [3, 3]), tf.tensor1d(bias)]);
  const metadata: ModelMetadata = {
    schemaVersion: 1,
    kind: 'modelship.model',
    name: over.name ?? 'fashion',
    task: 'classification',
    inputShape: [3],
    classes: CLASSES,
    preprocessing: { scale: 1 / 255, offset: 0 },
    dataset: {
      digest: over.datasetDigest ?? written?.digest ?? DATASET_DIGEST,
      splits: over.splits ?? {
        train: written?.splits.train.digest ?? SPLIT_DIGESTS.train,
        validation: written?.splits.validation.digest ?? SPLIT_DIGESTS.validation,
      },
    },
    params: { architecture: 'dense', epochs: 3, batchSize: 32, learningRate: 0.001, seed: 1, earlyStoppingPatience: 0 },
    backend: 'cpu',
    versions: { 'tfjs-core': tf.version_core },
    git: { commit: '0123456789abcdef' },
    metrics: { epochsRun: 3 },
    training: { startedAt: '2026-01-01T00:00:00Z', finishedAt: '2026-01-01T00:01:00Z', durationSeconds: 60, samplesPerSecond: 100 },
  };
  const history: EpochRecord[] = [1, 2, 3].map((e) => ({
    epoch: e,
    loss: 1 / e,
    acc: 0.6 + e / 10,
    valLoss: 1.1 / e,
    valAcc: 0.55 + e / 10,
    samplesPerSecond: 100,
    seconds: 1,
  }));
  await saveModel(model, dir, metadata, { history });
  model.dispose();
  return dir;
}

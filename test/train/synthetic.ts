/**
 * Small synthetic data sets in the setup-data folder format (manifest.json + per-split .bin files),
 * learnable in an epoch or two, for training tests.
 */
import type { SplitName } from '../../shared/data/manifest.ts';
import { mulberry32 } from '../../shared/util/index.ts';
import { writeSealedDataset, type SplitData } from '../helpers/dataset.ts';

export interface SyntheticOptions {
  readonly kind?: 'images' | 'tabular';
  readonly counts?: readonly [number, number, number];
  readonly classes?: number;
  /** Image side (images) or feature count (tabular). */
  readonly size?: number;
  readonly seed?: number;
  /** Labels drawn independently of the inputs: nothing to learn, so validation loss rises (early stopping). */
  readonly randomLabels?: boolean;
}

/** Writes a data set folder; returns its path. Class k of an image has a bright horizontal band at row ∝ k. */
export async function writeSyntheticDataset(dir: string, o: SyntheticOptions = {}): Promise<string> {
  const kind = o.kind ?? 'images';
  const [nTrain, nVal, nTest] = o.counts ?? [120, 40, 40];
  const k = o.classes ?? 3;
  const size = o.size ?? 12;
  const rand = mulberry32(o.seed ?? 7);
  const inputShape = kind === 'images' ? [size, size, 1] : [size];
  const per = inputShape.reduce((a, b) => a * b, 1);
  const data = {} as Record<SplitName, SplitData>;
  const names: [SplitName, number][] = [
    ['train', nTrain],
    ['validation', nVal],
    ['test', nTest],
  ];
  for (const [split, n] of names) {
    const x = kind === 'images' ? new Uint8Array(n * per) : new Float32Array(n * per);
    const y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const label = Math.floor(rand() * k);
      y[i] = o.randomLabels ? Math.floor(rand() * k) : label;
      for (let j = 0; j < per; j++) {
        if (kind === 'images') {
          const row = Math.floor(j / size);
          const band = Math.floor(((label + 0.5) * size) / k);
          x[i * per + j] = Math.min(255, Math.floor(rand() * 90) + (Math.abs(row - band) <= 1 ? 150 : 0));
        } else {
          x[i * per + j] = rand() * 2 - 1 + (j % k === label ? 1.5 : 0) + 10;
        }
      }
    }
    data[split] = { x, y };
  }
  await writeSealedDataset(dir, {
    format: kind === 'images' ? 'idx' : 'csv',
    source: `synthetic:${kind}`,
    classes: Array.from({ length: k }, (_, i) => `class ${i}`),
    inputShape,
    ...(kind === 'tabular' ? { features: Array.from({ length: size }, (_, i) => `f${i}`) } : {}),
    splits: data,
    statistics: {
      classDistribution: new Array<number>(k).fill(1 / k),
      channels: [{ mean: 0, std: 1 }],
      histogram: { edges: [0, 1], counts: [0] },
      ...(kind === 'tabular'
        ? {
            features: Array.from({ length: size }, (_, i) => ({
              name: `f${i}`,
              mean: 10 + 0.5,
              std: 0.9,
              min: 8,
              max: 13,
              histogram: { edges: [0, 1], counts: [0] },
            })),
          }
        : {}),
    },
  });
  return dir;
}

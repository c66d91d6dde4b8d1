/**
 * Small synthetic data sets in the setup-data folder format (manifest.json + per-split .bin files),
 * learnable in an epoch or two, for training tests.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { DatasetManifest, SplitName, SplitRecord, TensorDtype } from '../../shared/data/manifest.ts';
import { sha256 } from '../../shared/util/fs.ts';

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

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Writes a data set folder; returns its path. Class k of an image has a bright horizontal band at row ∝ k. */
export async function writeSyntheticDataset(dir: string, o: SyntheticOptions = {}): Promise<string> {
  const kind = o.kind ?? 'images';
  const [nTrain, nVal, nTest] = o.counts ?? [120, 40, 40];
  const k = o.classes ?? 3;
  const size = o.size ?? 12;
  const rand = rng(o.seed ?? 7);
  const inputShape = kind === 'images' ? [size, size, 1] : [size];
  const per = inputShape.reduce((a, b) => a * b, 1);
  await mkdir(dir, { recursive: true });
  const splits: Partial<Record<SplitName, SplitRecord>> = {};
  const names: [SplitName, number][] = [
    ['train', nTrain],
    ['validation', nVal],
    ['test', nTest],
  ];
  for (const [split, n] of names) {
    const x = kind === 'images' ? new Uint8Array(n * per) : new Float32Array(n * per);
    const y = new Int32Array(n);
    const classCounts = new Array<number>(k).fill(0);
    for (let i = 0; i < n; i++) {
      const label = Math.floor(rand() * k);
      y[i] = o.randomLabels ? Math.floor(rand() * k) : label;
      classCounts[y[i]]++;
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
    const xFile = `${split}.x.bin`;
    const yFile = `${split}.y.bin`;
    const xBytes = new Uint8Array(x.buffer);
    const yBytes = new Uint8Array(y.buffer);
    await writeFile(path.join(dir, xFile), xBytes);
    await writeFile(path.join(dir, yFile), yBytes);
    const xd: TensorDtype = kind === 'images' ? 'uint8' : 'float32';
    splits[split] = {
      count: n,
      digest: `sha256:${sha256(new Uint8Array([...sha256(xBytes), ...sha256(yBytes)].map((c) => c.charCodeAt(0))))}`,
      classCounts,
      x: { file: xFile, dtype: xd, shape: [n, ...inputShape], sha256: sha256(xBytes) },
      y: { file: yFile, dtype: 'int32', shape: [n], sha256: sha256(yBytes) },
    };
  }
  const manifest: DatasetManifest = {
    schemaVersion: 1,
    kind: 'modelship.dataset',
    format: kind === 'images' ? 'idx' : 'csv',
    task: 'classification',
    source: { uri: `synthetic:${kind}` },
    digest: `sha256:${sha256(JSON.stringify(Object.values(splits).map((s) => s.digest)))}`,
    classes: Array.from({ length: k }, (_, i) => `class ${i}`),
    inputShape,
    ...(kind === 'tabular' ? { features: Array.from({ length: size }, (_, i) => `f${i}`) } : {}),
    split: { ratios: [60, 20, 20], seed: 1, given: false },
    splits: splits as Record<SplitName, SplitRecord>,
    files: [],
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
    createdAt: '2026-01-01T00:00:00.000Z',
    tool: { name: 'modelship', version: '0.0.0-test' },
  };
  await writeFile(path.join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return dir;
}

/** Test data for monitor-check: a data set manifest whose statistics are the drift reference. */
import path from 'node:path';
import { writeSealedDataset } from '../helpers/dataset.ts';
import { FASHION_MNIST_CLASSES } from '../../shared/data/readers/idx.ts';

/** 32 pixel bins of width 8 (setup-data's PIXEL_BINS over 0..256). */
export const EDGES = Array.from({ length: 33 }, (_, i) => i * 8);
/** Reference counts: half the pixels black, a bright tail, like Fashion-MNIST. */
export const REFERENCE_COUNTS = EDGES.slice(1).map((_, b) => (b === 0 ? 500 : b === 31 ? 200 : 10));
/** One tick of healthy input traffic: exactly proportional to the reference. */
export const HEALTHY_BINS = REFERENCE_COUNTS.map((c) => c / 10);
export const CLASSES: readonly string[] = FASHION_MNIST_CLASSES;

/** Writes a minimal setup-data manifest (the fields monitor-check reads) and returns its path. */
/** A real, sealed data set folder (tiny splits) whose statistics are the reference above. */
export async function writeReferenceManifest(dir: string): Promise<string> {
  const split = (n: number) => ({ x: new Uint8Array(n * 28 * 28), y: Int32Array.from({ length: n }, (_, i) => i % CLASSES.length) });
  await writeSealedDataset(dir, {
    classes: CLASSES,
    inputShape: [28, 28, 1],
    format: 'idx',
    splits: { train: split(10), validation: split(10), test: split(10) },
    statistics: {
      classDistribution: CLASSES.map(() => 0.1),
      channels: [{ mean: 72.9, std: 90.0 }],
      histogram: { edges: EDGES, counts: REFERENCE_COUNTS },
    },
  });
  return path.join(dir, 'manifest.json');
}

/** Predictions per tick, the same for every class. */
export function uniformPredictions(perClass: number): Record<string, number> {
  return Object.fromEntries(CLASSES.map((c) => [c, perClass]));
}

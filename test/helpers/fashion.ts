/**
 * The demo sample made to learn one class poorly (its training images of that class held out, but
 * a few), for the retraining tests; IDX files as Fashion-MNIST ships them; accuracy per class.
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { SplitTensors } from '../../shared/data/index.ts';
import { loadModel, predictProbabilities } from '../../shared/model/index.ts';

export const DEMO = path.resolve(import.meta.dirname, '../../demo/fashion-sample');

/** IDX files (magic, dimensions, payload), gzipped as Fashion-MNIST ships them. */
export function idx(images: Uint8Array[] | undefined, labels: number[] | undefined): Buffer {
  if (images) {
    const head = Buffer.alloc(16);
    head.writeUInt32BE(0x803, 0);
    head.writeUInt32BE(images.length, 4);
    head.writeUInt32BE(28, 8);
    head.writeUInt32BE(28, 12);
    return gzipSync(Buffer.concat([head, ...images]));
  }
  const head = Buffer.alloc(8);
  head.writeUInt32BE(0x801, 0);
  head.writeUInt32BE(labels!.length, 4);
  return gzipSync(Buffer.concat([head, Buffer.from(labels!)]));
}

/**
 * Writes the demo sample to `dir` with all but `kept` training images of class `cls` left out (the
 * test split as shipped); returns the images left out, in order.
 */
export async function sampleWithout(dir: string, cls: number, kept: number): Promise<Uint8Array[]> {
  const images = gunzipSync(await readFile(path.join(DEMO, 'train-images-idx3-ubyte.gz'))).subarray(16);
  const labels = gunzipSync(await readFile(path.join(DEMO, 'train-labels-idx1-ubyte.gz'))).subarray(8);
  const heldOut: Uint8Array[] = [];
  const keepImages: Uint8Array[] = [];
  const keepLabels: number[] = [];
  let n = 0;
  for (let i = 0; i < labels.length; i++) {
    const img = images.subarray(i * 784, (i + 1) * 784);
    if (labels[i] === cls && n++ >= kept) heldOut.push(img);
    else {
      keepImages.push(img);
      keepLabels.push(labels[i]);
    }
  }
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'train-images-idx3-ubyte.gz'), idx(keepImages, undefined));
  await writeFile(path.join(dir, 'train-labels-idx1-ubyte.gz'), idx(undefined, keepLabels));
  for (const f of ['t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz', 'classes.txt'])
    await copyFile(path.join(DEMO, f), path.join(dir, f));
  return heldOut;
}

/** A 28×28 grey image as a TF Serving row-format instance ([28][28][1]). */
export const instance = (img: Uint8Array): number[][][] =>
  Array.from({ length: 28 }, (_, r) => Array.from({ length: 28 }, (_, c) => [img[r * 28 + c]]));

/** Accuracy on a split, overall and on one class. */
export async function accuracy(modelDir: string, test: SplitTensors, cls: number): Promise<{ overall: number; cls: number }> {
  const { model, metadata } = await loadModel(modelDir);
  const p = await predictProbabilities(model, metadata, test.x, test.count);
  model.dispose();
  const k = p.length / test.count;
  let right = 0;
  let clsRight = 0;
  let clsCount = 0;
  for (let i = 0; i < test.count; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (p[i * k + j] > p[i * k + best]) best = j;
    const y = Number(test.y[i]);
    if (best === y) right++;
    if (y === cls) {
      clsCount++;
      if (best === y) clsRight++;
    }
  }
  return { overall: right / test.count, cls: clsRight / clsCount };
}

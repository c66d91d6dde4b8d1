/**
 * Regenerates demo/fashion-sample/ from Debian's dataset-fashion-mnist: the first TRAIN examples of
 * the training set and the first TEST of the test set, as gzipped IDX files (the format of the
 * originals), plus classes.txt. Deterministic: the same input files give byte-identical output.
 *
 *   node_modules/.bin/node demo/make-sample.ts [/usr/share/datasets/fashion-mnist] [demo/fashion-sample]
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';

export const TRAIN = 2000;
export const TEST = 1000;
const CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

function head(idx: Buffer, count: number): Buffer {
  const magic = idx.readUInt32BE(0);
  const dims = magic & 0xff;
  const headerBytes = 4 + 4 * dims;
  const n = idx.readUInt32BE(4);
  if (count > n) throw new Error(`asked for ${count} examples, the file has ${n}`);
  let per = 1;
  for (let d = 1; d < dims; d++) per *= idx.readUInt32BE(4 + 4 * d);
  const out = Buffer.from(idx.subarray(0, headerBytes + count * per));
  out.writeUInt32BE(count, 4);
  return out;
}

export async function main(from = '/usr/share/datasets/fashion-mnist', to = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fashion-sample')): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const [prefix, count] of [
    ['train', TRAIN],
    ['t10k', TEST],
  ] as const) {
    for (const kind of ['images-idx3', 'labels-idx1']) {
      const name = `${prefix}-${kind}-ubyte.gz`;
      const idx = gunzipSync(await readFile(path.join(from, name)));
      // level 9, no file name, mtime 0 (zlib's gzip header): byte-identical on every run.
      await writeFile(path.join(to, name), gzipSync(head(idx, count), { level: 9 }));
    }
  }
  await writeFile(path.join(to, 'classes.txt'), `${CLASSES.join('\n')}\n`);
  console.log(`wrote ${TRAIN} train + ${TEST} test examples to ${to}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await main(process.argv[2], process.argv[3]);
}

/**
 * setup-data on the full Fashion-MNIST (Debian's dataset-fashion-mnist): the first run (hash,
 * gunzip, digest, split, write) and the second (the state file recognises the unchanged source),
 * and the hashing throughput of our hasher against `sha256sum` over the same bytes, as a ratio
 * measured in the same run.
 *
 *   node_modules/.bin/node bench/data.bench.ts            (or: npm run bench -- data)
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { countingHasher, hashFile } from '../shared/data/hash.ts';
import { setupData } from '../shared/data/prepare.ts';
import { silentLogger } from '../shared/util/log.ts';

const FULL = process.env['FASHION_MNIST_DIR'] ?? '/usr/share/datasets/fashion-mnist';
const FIRST_RUNS = 3;
const SECOND_RUNS = 5;
const HASH_ROUNDS = 5;
const IMAGE_COUNT = 5000;

export interface DataBenchResult {
  readonly examples: number;
  /** Median seconds of a first run into an empty output folder. */
  readonly firstRunS: number;
  /** Median seconds of a re-run over the unchanged source. */
  readonly secondRunS: number;
  readonly secondRunFilesHashed: number;
  readonly hashBytes: number;
  readonly hashMBps: number;
  readonly sha256sumMBps: number;
  /** `openssl dgst -sha256` (the library Node hashes with), when installed. */
  readonly opensslMBps?: number;
  /** An image folder of IMAGE_COUNT 28×28 PNGs (written from the Fashion-MNIST pixels): first run, images/s. */
  readonly imageFolderS: number;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timed<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const v = await fn();
  return [(performance.now() - t0) / 1000, v];
}

export async function main(): Promise<DataBenchResult> {
  const work = await mkdtemp(path.join(tmpdir(), 'ms-bench-data-'));
  try {
    const opts = (outputDir: string) => ({ source: FULL, format: 'auto' as const, split: '80/10/10', cache: false, outputDir, cwd: work });
    const firsts: number[] = [];
    let examples = 0;
    for (let i = 0; i < FIRST_RUNS; i++) {
      const [s, r] = await timed(() => setupData(opts(`first-${i}`), { log: silentLogger }));
      firsts.push(s);
      const { train, validation, test } = r.manifest.splits;
      examples = train.count + validation.count + test.count;
    }
    const seconds: number[] = [];
    let hashed = 0;
    for (let i = 0; i < SECOND_RUNS; i++) {
      const hasher = countingHasher();
      const [s, r] = await timed(() => setupData(opts('first-0'), { log: silentLogger, hasher }));
      if (!r.cacheHit) throw new Error('the second run did not recognise the unchanged source');
      seconds.push(s);
      hashed += hasher.files.length;
    }

    // Hashing: the four source files and the prepared tensors (~86 MB), page cache warm for both.
    const prepared = path.join(work, 'first-0');
    const files = [
      ...['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'].map((f) =>
        path.join(FULL, f),
      ),
      ...['train', 'validation', 'test'].flatMap((s) => [path.join(prepared, `${s}.x.bin`), path.join(prepared, `${s}.y.bin`)]),
    ];
    let bytes = 0;
    for (const f of files) bytes += (await stat(f)).size;
    const ours: number[] = [];
    const theirs: number[] = [];
    const openssl: number[] = [];
    const hasOpenssl = spawnSync('openssl', ['version']).status === 0;
    for (let i = 0; i < HASH_ROUNDS; i++) {
      const [s] = await timed(async () => {
        for (const f of files) await hashFile(f);
      });
      ours.push(s);
      const t0 = performance.now();
      const r = spawnSync('sha256sum', files, { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`sha256sum failed: ${r.stderr}`);
      theirs.push((performance.now() - t0) / 1000);
      if (hasOpenssl) {
        const t1 = performance.now();
        const o = spawnSync('openssl', ['dgst', '-sha256', ...files], { encoding: 'utf8' });
        if (o.status !== 0) throw new Error(`openssl failed: ${o.stderr}`);
        openssl.push((performance.now() - t1) / 1000);
      }
    }
    // Same bytes, same digests: check one so the comparison is honest.
    const check = spawnSync('sha256sum', [files[0]], { encoding: 'utf8' }).stdout.split(' ')[0];
    if (check !== (await hashFile(files[0])).sha256) throw new Error('sha256sum and our hasher disagree');
    // An image folder made from the prepared test pixels: decode speed of the image-folder reader.
    const testX = await readFile(path.join(prepared, 'test.x.bin'));
    const testY = new Int32Array((await readFile(path.join(prepared, 'test.y.bin'))).buffer.slice(0));
    const imgRoot = path.join(work, 'images');
    for (let i = 0; i < IMAGE_COUNT; i++) {
      const dir = path.join(imgRoot, `class-${testY[i]}`);
      await mkdir(dir, { recursive: true });
      const png = await sharp(testX.subarray(i * 784, (i + 1) * 784), { raw: { width: 28, height: 28, channels: 1 } })
        .toColourspace('b-w')
        .png()
        .toBuffer();
      await writeFile(path.join(dir, `${i}.png`), png);
    }
    const [imageFolderS] = await timed(() => setupData({ ...opts('images-out'), source: imgRoot }, { log: silentLogger }));
    const mb = bytes / 1e6;
    return {
      examples,
      firstRunS: median(firsts),
      secondRunS: median(seconds),
      secondRunFilesHashed: hashed / SECOND_RUNS,
      hashBytes: bytes,
      hashMBps: mb / Math.min(...ours),
      sha256sumMBps: mb / Math.min(...theirs),
      ...(hasOpenssl ? { opensslMBps: mb / Math.min(...openssl) } : {}),
      imageFolderS,
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export function summary(r: DataBenchResult): string {
  return [
    `setup-data, full Fashion-MNIST (${r.examples.toLocaleString('en-US')} examples): first run ${r.firstRunS.toFixed(2)} s (median of ${FIRST_RUNS}), ` +
      `second run ${(r.secondRunS * 1000).toFixed(1)} ms (median of ${SECOND_RUNS}, ${r.secondRunFilesHashed} files re-hashed) = ${(r.firstRunS / r.secondRunS).toFixed(0)}x faster`,
    `hash: ${r.hashMBps.toFixed(0)} MB/s vs sha256sum ${r.sha256sumMBps.toFixed(0)} MB/s = ${(r.hashMBps / r.sha256sumMBps).toFixed(2)}x ` +
      `(${(r.hashBytes / 1e6).toFixed(1)} MB, best of ${HASH_ROUNDS})`,
    ...(r.opensslMBps
      ? [
          `hash: ${r.hashMBps.toFixed(0)} MB/s vs openssl dgst -sha256 ${r.opensslMBps.toFixed(0)} MB/s = ${(r.hashMBps / r.opensslMBps).toFixed(2)}x`,
        ]
      : []),
    `image-folder: ${IMAGE_COUNT.toLocaleString('en-US')} PNGs (28x28) prepared in ${r.imageFolderS.toFixed(2)} s = ${Math.round(IMAGE_COUNT / r.imageFolderS)} images/s`,
  ].join('\n');
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  console.log(summary(await main()));
}

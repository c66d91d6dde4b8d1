/** The image-folder and IDX readers, and every bad-input error they raise. */
import assert from 'node:assert/strict';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { crc32, deflateSync, gzipSync } from 'node:zlib';
import { hashFile } from '../../shared/data/hash.ts';
import { readIdx } from '../../shared/data/readers/idx.ts';
import { readImageFolder } from '../../shared/data/readers/image-folder.ts';
import { listTree } from '../../shared/data/tree.ts';
import { GIVEN_TEST, GIVEN_TRAIN, GIVEN_VALIDATION, type SourceTree } from '../../shared/data/types.ts';
import { ConfigurationError } from '../../shared/util/errors.ts';
import { memoryLogger, silentLogger } from '../../shared/util/log.ts';
import { idxImages, idxLabels, makeImageFolder, pixels, removeTempDirs, tempDir, writeIdxPair, writeImage } from './helpers.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const fixtures = path.join(here, '../fixtures/data');
const sample = path.join(here, '../../demo/fashion-sample');

async function treeOf(root: string, label = 'data'): Promise<SourceTree> {
  const l = await listTree(root);
  const files = await Promise.all(
    l.files.map(async (rel) => ({ rel, abs: path.join(root, rel), ...(await hashFile(path.join(root, rel))) })),
  );
  return { root, label, files, dirs: l.dirs };
}

function configError(pattern: RegExp | string) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof ConfigurationError, `expected a ConfigurationError, got ${String(err)}`);
    if (typeof pattern === 'string') assert.equal(err.message, pattern);
    else assert.match(err.message, pattern);
    return true;
  };
}

describe('image-folder reader', () => {
  it('reads the fixture: sorted classes, greyscale stays one channel, pixels as written', async () => {
    const r = await readImageFolder(await treeOf(path.join(fixtures, 'images')), { log: silentLogger });
    assert.deepEqual(r.classes, ['boot', 'sandal', 'shirt']);
    assert.deepEqual(r.inputShape, [8, 8, 1]);
    assert.equal(r.count, 12);
    assert.equal(r.given, undefined);
    assert.deepEqual([...r.y], [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
    // boot-0.png is the first file and was written from pixels(8, 8, 1, seed 1).
    assert.deepEqual(Buffer.from(r.x.subarray(0, 64)), pixels(8, 8, 1, 1));
    assert.equal(r.files.length, 12);
    assert.equal(r.files[0].label, 'boot');
    assert.match(r.files[0].sha256, /^[0-9a-f]{64}$/);
  });
  it('colour images keep three channels; JPEG decodes too', async () => {
    const dir = await tempDir();
    await writeImage(path.join(dir, 'cat/a.png'), { channels: 3, seed: 1 });
    await writeImage(path.join(dir, 'dog/b.jpg'), { channels: 3, seed: 2, format: 'jpeg' });
    const r = await readImageFolder(await treeOf(dir), { log: silentLogger });
    assert.deepEqual(r.inputShape, [8, 8, 3]);
    assert.deepEqual(Buffer.from(r.x.subarray(0, 192)), pixels(8, 8, 3, 1));
  });
  it('respects train/ and test/ (and val/) folders as a given split', async () => {
    const dir = await tempDir();
    await makeImageFolder(path.join(dir, 'train'), { cat: 2, dog: 2 }, { seedBase: 1 });
    await makeImageFolder(path.join(dir, 'val'), { cat: 1, dog: 1 }, { seedBase: 10 });
    await makeImageFolder(path.join(dir, 'test'), { cat: 1, dog: 1 }, { seedBase: 20 });
    const r = await readImageFolder(await treeOf(dir), { log: silentLogger });
    assert.deepEqual(r.classes, ['cat', 'dog']);
    const given = [...r.given!];
    assert.equal(given.filter((g) => g === GIVEN_TRAIN).length, 4);
    assert.equal(given.filter((g) => g === GIVEN_VALIDATION).length, 2);
    assert.equal(given.filter((g) => g === GIVEN_TEST).length, 2);
  });
  it('image-size resizes every image', async () => {
    const dir = await tempDir();
    await writeImage(path.join(dir, 'a/1.png'), { width: 8, height: 8 });
    await writeImage(path.join(dir, 'b/2.png'), { width: 12, height: 6, seed: 3 });
    const r = await readImageFolder(await treeOf(dir), { log: silentLogger, imageSize: [4, 5] });
    assert.deepEqual(r.inputShape, [5, 4, 1]);
    assert.equal(r.x.length, 2 * 20);
  });
  it('a class folder with no images is the UX error', async () => {
    const dir = await tempDir();
    await makeImageFolder(dir, { sandal: 2 });
    await mkdir(path.join(dir, 'boot'));
    await writeFile(path.join(dir, 'boot', 'notes.txt'), 'not an image');
    await assert.rejects(readImageFolder(await treeOf(dir, 'data/'), { log: silentLogger }), (err: unknown) => {
      assert.ok(err instanceof ConfigurationError);
      assert.equal(err.message, "source 'data/' has a class folder 'boot' with no images.");
      assert.equal(err.hint, 'Add images to data/boot/ or remove the folder.');
      return true;
    });
  });
  it('mixed sizes without image-size name two files with their sizes', async () => {
    const dir = await tempDir();
    await writeImage(path.join(dir, 'a/1.png'), { width: 8, height: 8 });
    await writeImage(path.join(dir, 'b/2.png'), { width: 10, height: 7 });
    await assert.rejects(
      readImageFolder(await treeOf(dir), { log: silentLogger }),
      configError("images differ in size: 'a/1.png' is 8x8 but 'b/2.png' is 10x7."),
    );
  });
  for (const [name, make] of [
    ['a corrupt PNG', async (f: string) => writeFile(f, Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47]), Buffer.from('garbage')]))],
    [
      'a truncated PNG',
      async (f: string) => {
        await writeImage(f, { width: 8, height: 8, seed: 9 });
        const b = await readFile(f);
        await writeFile(f, b.subarray(0, b.length - 30));
      },
    ],
    [
      'a truncated JPEG',
      async (f: string) => {
        await writeImage(f, { width: 8, height: 8, seed: 9, format: 'jpeg', channels: 3 });
        const b = await readFile(f);
        await writeFile(f, b.subarray(0, Math.floor(b.length / 2)));
      },
    ],
  ] as const) {
    it(`${name} is refused, naming the file`, async () => {
      const dir = await tempDir();
      await makeImageFolder(dir, { a: 2 });
      const ext = name.includes('JPEG') ? 'jpg' : 'png';
      await mkdir(path.join(dir, 'b'));
      await make(path.join(dir, 'b', `broken.${ext}`));
      await assert.rejects(
        readImageFolder(await treeOf(dir), { log: silentLogger }),
        configError(new RegExp(`image file 'b/broken\\.${ext}' is corrupt or truncated`)),
      );
    });
  }
  it('refuses an image whose header claims more pixels than the limit, before decoding it', async () => {
    const dir = await tempDir();
    await makeImageFolder(dir, { a: 1 });
    // A valid PNG header claiming 20000x20000 greyscale, with a tiny IDAT: only the header is read.
    const pngChunk = (type: string, data: Buffer): Buffer => {
      const body = Buffer.concat([Buffer.from(type), data]);
      const head = Buffer.alloc(4);
      head.writeUInt32BE(data.length);
      const tail = Buffer.alloc(4);
      tail.writeUInt32BE(crc32(body));
      return Buffer.concat([head, body, tail]);
    };
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(20000, 0);
    ihdr.writeUInt32BE(20000, 4);
    ihdr[8] = 8; // bit depth 8, colour type 0 (greyscale)
    await mkdir(path.join(dir, 'b'));
    await writeFile(
      path.join(dir, 'b', 'bomb.png'),
      Buffer.concat([
        Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
        pngChunk('IHDR', ihdr),
        pngChunk('IDAT', deflateSync(Buffer.alloc(64))),
        pngChunk('IEND', Buffer.alloc(0)),
      ]),
    );
    await assert.rejects(
      readImageFolder(await treeOf(dir), { log: silentLogger }),
      configError("image file 'b/bomb.png' is 20000x20000, more than 100,000,000 pixels."),
    );
  });
  it('warns about files it ignores', async () => {
    const dir = await tempDir();
    await makeImageFolder(dir, { a: 1, b: 1 });
    await writeFile(path.join(dir, 'a', 'README.txt'), 'x');
    const log = memoryLogger();
    await readImageFolder(await treeOf(dir), { log });
    assert.ok(log.lines.some((l) => /Ignored 1 file/.test(l)));
  });
});

describe('IDX reader', () => {
  it('reads the shipped sample: given train/test, classes.txt names, 28x28x1', async () => {
    const r = await readIdx(await treeOf(sample), { log: silentLogger });
    assert.equal(r.count, 3000);
    assert.deepEqual(r.inputShape, [28, 28, 1]);
    assert.equal(r.classes[0], 'T-shirt/top');
    assert.equal(r.classes[9], 'Ankle boot');
    const given = [...r.given!];
    assert.equal(given.filter((g) => g === GIVEN_TRAIN).length, 2000);
    assert.equal(given.filter((g) => g === GIVEN_TEST).length, 1000);
    assert.deepEqual(
      r.files.map((f) => f.path),
      ['t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz', 'train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 'classes.txt'],
    );
  });
  it('reads plain (not gzipped) files the same as gzipped ones; unknown data gets "0".."9"', async () => {
    const a = await tempDir();
    const b = await tempDir();
    await writeIdxPair(a, 'train', 20, { gzip: true });
    await writeIdxPair(b, 'train', 20, { gzip: false });
    const ra = await readIdx(await treeOf(a), { log: silentLogger });
    const rb = await readIdx(await treeOf(b), { log: silentLogger });
    assert.deepEqual(Buffer.from(ra.x), Buffer.from(rb.x));
    assert.deepEqual([...ra.y], [...rb.y]);
    assert.deepEqual(ra.classes, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    assert.deepEqual(new Set(ra.given), new Set([GIVEN_TRAIN]), 'train-* files are given train');
  });
  const broken: [string, (dir: string) => Promise<void>, RegExp][] = [
    [
      'truncated images',
      async (dir) => {
        await writeIdxPair(dir, 'train', 10, { gzip: false });
        const f = path.join(dir, 'train-images-idx3-ubyte');
        await writeFile(f, (await readFile(f)).subarray(0, 100));
      },
      /IDX file 'train-images-idx3-ubyte' holds 84 bytes of pixels, but its header says 10 × 4 × 4 = 160/,
    ],
    [
      'a truncated gzip stream',
      async (dir) => {
        await writeIdxPair(dir, 'train', 10);
        const f = path.join(dir, 'train-images-idx3-ubyte.gz');
        const b = await readFile(f);
        await writeFile(f, b.subarray(0, b.length - 12));
      },
      /IDX file 'train-images-idx3-ubyte\.gz' is not a valid gzip stream/,
    ],
    [
      'a wrong magic',
      async (dir) => {
        await writeIdxPair(dir, 'train', 10);
        await writeFile(path.join(dir, 'train-labels-idx1-ubyte.gz'), gzipSync(idxImages(10, 4, 4)));
      },
      /IDX file 'train-labels-idx1-ubyte\.gz' has magic 0x803, not 0x801/,
    ],
    [
      'labels that do not match the images',
      async (dir) => {
        await writeIdxPair(dir, 'train', 10);
        await writeFile(path.join(dir, 'train-labels-idx1-ubyte.gz'), gzipSync(idxLabels([1, 2, 3])));
      },
      /disagree: 10 images but 3 labels/,
    ],
    [
      'images without labels',
      async (dir) => {
        await writeIdxPair(dir, 'train', 10);
        await writeFile(path.join(dir, 't10k-images-idx3-ubyte.gz'), gzipSync(idxImages(2, 4, 4)));
      },
      /t10k-images-idx3-ubyte\.gz but no matching labels file/,
    ],
    [
      'classes.txt naming too few classes',
      async (dir) => {
        await writeIdxPair(dir, 'train', 10);
        await writeFile(path.join(dir, 'classes.txt'), 'a\nb\n');
      },
      /'classes\.txt' names 2 classes but the labels go up to 9/,
    ],
  ];
  for (const [name, make, message] of broken) {
    it(`refuses ${name}, naming the file`, async () => {
      const dir = await tempDir();
      await make(dir);
      await assert.rejects(readIdx(await treeOf(dir), { log: silentLogger }), configError(message));
    });
  }
  it('a copy of the sample in a subfolder reads the same', async () => {
    const dir = await tempDir();
    await cp(sample, path.join(dir, 'nested'), { recursive: true });
    const r = await readIdx(await treeOf(dir), { log: silentLogger });
    assert.equal(r.count, 3000);
    assert.equal(r.classes[0], 'T-shirt/top');
  });
});

after(removeTempDirs);

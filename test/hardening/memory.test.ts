/**
 * Defect 5: memory is budgeted. setup-data estimates the prepared size (examples × height × width ×
 * channels × bytes, and labels) from headers before it decodes anything, and refuses above
 * memory-budget with the estimate and the fix; train and evaluate-gate refuse a data set whose
 * kept splits exceed theirs before reading it. A data set that fits is prepared in bounded memory:
 * tensors are written in chunks, CSV and IDX files are streamed.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { openDataset } from '../../shared/data/load.ts';
import { writeGathered } from '../../shared/data/prepare.ts';
import { CsvParser, parseCsv } from '../../shared/data/readers/csv.ts';
import { makeImageFolder } from '../data/helpers.ts';
import { cli, removeTempDirs, snapshot, tempDir } from './helpers.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const sample = path.join(here, '../../demo/fashion-sample');
after(removeTempDirs);

describe('defect 5: the memory budget', () => {
  it('13 colour images resized to 8192x8192 are refused with the estimate before any is decoded', async () => {
    const cwd = await tempDir();
    await makeImageFolder(path.join(cwd, 'images'), { a: 7, b: 6 }, { channels: 3 });
    const tree = await snapshot(cwd);
    const r = await cli(['setup-data', '--source', 'images', '--image-size', '8192x8192', '--output-dir', 'out'], cwd);
    assert.equal(r.code, 2, r.err);
    assert.match(
      r.err,
      /the prepared data set would take 2\.4 GiB in memory \(13 images × 8192×8192×3 bytes, and their labels\), above input 'memory-budget' \(2 GiB\); nothing was decoded\./,
    );
    assert.match(
      r.err,
      /Set a smaller image-size \(e\.g\. image-size: 224x224\), use fewer images, or raise memory-budget \(e\.g\. memory-budget: 4GiB\)/,
    );
    assert.doesNotMatch(r.err, /decoded \d/);
    assert.deepEqual(await snapshot(cwd), tree);
  });

  it('an IDX file whose header claims a terabyte is refused from its header, not decompressed', async () => {
    const cwd = await tempDir();
    const head = Buffer.alloc(16);
    head.writeUInt32BE(0x803, 0);
    head.writeUInt32BE(1_000_000, 4);
    head.writeUInt32BE(1000, 8);
    head.writeUInt32BE(1000, 12);
    const labels = Buffer.alloc(8);
    labels.writeUInt32BE(0x801, 0);
    labels.writeUInt32BE(1_000_000, 4);
    await mkdir(path.join(cwd, 'idx'));
    await writeFile(path.join(cwd, 'idx', 'train-images-idx3-ubyte.gz'), gzipSync(head));
    await writeFile(path.join(cwd, 'idx', 'train-labels-idx1-ubyte.gz'), gzipSync(labels));
    const tree = await snapshot(cwd);
    const r = await cli(['setup-data', '--source', 'idx', '--output-dir', 'out'], cwd);
    assert.equal(r.code, 2, r.err);
    assert.match(
      r.err,
      /would take 931\.3 GiB in memory \(1,000,000 images × 1000×1000 bytes, and their labels\), above input 'memory-budget'/,
    );
    assert.deepEqual(await snapshot(cwd), tree);
  });

  it('setup-data honours a lower memory-budget, naming it', async () => {
    const cwd = await tempDir();
    const r = await cli(['setup-data', '--source', sample, '--output-dir', 'out', '--memory-budget', '1MiB'], cwd);
    assert.equal(r.code, 2, r.err);
    assert.match(
      r.err,
      /would take 2\.3 MiB in memory \(3,000 images × 28×28 bytes, and their labels\), above input 'memory-budget' \(1 MiB\)/,
    );
  });

  it('train and evaluate-gate refuse splits above their memory-budget before reading them', async () => {
    const cwd = await tempDir();
    assert.equal((await cli(['setup-data', '--source', sample, '--output-dir', 'data'], cwd)).code, 0);
    const tree = await snapshot(cwd);
    const t = await cli(['train', '--dataset', 'data', '--memory-budget', '1MiB'], cwd);
    assert.equal(t.code, 2, t.err);
    assert.match(
      t.err,
      /the train and validation splits of data set folder '[^']*data' take 1\.5 MiB in memory, above input 'memory-budget' \(1 MiB\)/,
    );
    assert.match(t.err, /Raise memory-budget \(e\.g\. memory-budget: 2MiB\)/);
    const e = await cli(['evaluate-gate', '--model', 'm', '--dataset', 'data', '--memory-budget', '1MiB'], cwd);
    assert.equal(e.code, 2, e.err);
    assert.match(e.err, /input 'model' 'm' is not a model folder/, 'the data set was verified and its test split (0.8 MiB) kept');
    // evaluate-gate keeps the test split only, through the same budgeted reader.
    await assert.rejects(
      openDataset(path.join(cwd, 'data'), { load: ['test'], memoryBudget: 512 * 1024 }),
      /the test split of data set folder .* take 769\.5 KiB in memory, above input 'memory-budget' \(512 KiB\)/,
    );
    assert.deepEqual(await snapshot(cwd), tree);
  });

  it('a split is written in chunks: the file is the examples in order, whatever the chunk size', async () => {
    const dir = await tempDir();
    const per = 10;
    const src = Uint8Array.from({ length: 50 * per }, (_, i) => (i * 7) % 251);
    const order = [4, 0, 49, 17, 3, 3, 25];
    const want = Buffer.concat(order.map((i) => Buffer.from(src.subarray(i * per, (i + 1) * per))));
    for (const chunk of [1, 25, 1000]) {
      const file = path.join(dir, `s${chunk}.bin`);
      await writeGathered(file, src, per, order, chunk);
      assert.deepEqual(await readFile(file), want, `chunk ${chunk}`);
    }
  });

  it('CSV is parsed as a stream: any chunking gives the rows of the whole text', () => {
    const text = '\ufeffa,b\r\n"x, ""y""",2\n\n3,"multi\nline"\r\n5,6';
    const whole = parseCsv(text);
    for (const size of [1, 2, 3, 7]) {
      const rows: string[][] = [];
      const p = new CsvParser((r) => rows.push(r));
      for (let i = 0; i < text.length; i += size) p.push(text.slice(i, i + size));
      p.end();
      assert.deepEqual(rows, whole, `chunks of ${size}`);
    }
    assert.deepEqual(whole, [
      ['a', 'b'],
      ['x, "y"', '2'],
      ['3', 'multi\nline'],
      ['5', '6'],
    ]);
  });
});

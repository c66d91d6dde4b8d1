/**
 * setup-data over several sources: the demo's Fashion-MNIST sample (IDX, with its own train/test
 * split) plus a feedback set exported from the store (an image folder with provenance.jsonl), or an
 * image folder / CSV without a split of its own plus its feedback. Old examples stay in the split
 * they were in, the test split a source fixed stays as it was (feedback never enters it, except a
 * copy of a test example, which goes to test), classes are matched by name (T-shirt/top through
 * its %2F folder), and the manifest records each source with the digest of its content alone.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { openDataset, setupData, SPLITS, type DatasetManifest, type SplitName, type VerifiedDataset } from '../../shared/data/index.ts';
import { exportFeedback, FeedbackStore, type FeedbackRecord } from '../../shared/feedback/index.ts';
import { memoryLogger, silentLogger } from '../../shared/util/log.ts';
import { makeImageFolder, removeTempDirs, tempDir } from './helpers.ts';

const DEMO = path.resolve(import.meta.dirname, '../../demo/fashion-sample');
const TABULAR = path.resolve(import.meta.dirname, '../fixtures/data/tabular/iris-mini.csv');

after(removeTempDirs);

async function prepare(cwd: string, source: string | string[], out: string, extra: { split?: string } = {}): Promise<VerifiedDataset> {
  const r = await setupData(
    { source, format: 'auto', split: extra.split ?? '80/10/10', cache: false, outputDir: out, cwd },
    { log: silentLogger },
  );
  return openDataset(r.datasetDir, { load: ['train', 'validation', 'test'] });
}

/** Per example (by content sha256): the split it is in and its label. */
function placement(ds: VerifiedDataset): Map<string, { split: SplitName; label: string }> {
  const out = new Map<string, { split: SplitName; label: string }>();
  const m = ds.manifest;
  for (const split of SPLITS) {
    const t = ds.splits[split]!;
    const per = t.x.length / Math.max(1, t.count);
    const bytes = new Uint8Array(t.x.buffer, t.x.byteOffset, t.x.byteLength);
    const eb = bytes.length / Math.max(1, t.count);
    for (let i = 0; i < t.count; i++) {
      const h = createHash('sha256')
        .update(bytes.subarray(i * eb, (i + 1) * eb))
        .digest('hex');
      out.set(`${h}:${per}`, { split, label: m.classes.length ? m.classes[Number(t.y[i])] : String(t.y[i]) });
    }
  }
  return out;
}

function rec(
  id: string,
  label: string,
  predicted: string,
  data: Uint8Array | Float32Array,
  shape: number[],
  extra: Partial<FeedbackRecord> = {},
): FeedbackRecord {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return {
    v: 1,
    id,
    index: 0,
    model: 'fashion',
    version: '3',
    digest: `sha256:${'c'.repeat(64)}`,
    predicted,
    label,
    predictedAt: '2026-12-01T10:00:00.000Z',
    time: '2026-12-01T10:05:00.000Z',
    input: { dtype: data instanceof Uint8Array ? 'uint8' : 'float32', shape, data: Buffer.from(bytes).toString('base64') },
    ...extra,
  };
}

describe('setup-data over several sources', () => {
  it('adds an exported feedback set to the demo sample without moving an old example or touching its test split', async () => {
    const cwd = await tempDir();
    const before = await prepare(cwd, DEMO, 'old');
    const old = placement(before);
    const test = before.splits.test!;
    const classes = before.manifest.classes;
    assert.equal(classes[0], 'T-shirt/top');

    // Feedback: 60 images the data set has never seen (test images, inverted), labelled across
    // classes (T-shirt/top among them), plus a copy of one test image and of one train image,
    // each with the label the data set gives it.
    const store = path.join(cwd, 'store');
    const s = new FeedbackStore({ dir: store });
    const records: FeedbackRecord[] = [];
    for (let i = 0; i < 60; i++) {
      const img = Uint8Array.from(test.x.subarray(i * 784, (i + 1) * 784), (v) => 255 - v);
      records.push(rec(`req-${i}`, classes[Number(test.y[i])], classes[(Number(test.y[i]) + 1) % 10], img, [28, 28, 1]));
    }
    records.push(rec('dup-test', classes[Number(test.y[7])], 'Bag', Uint8Array.from(test.x.subarray(7 * 784, 8 * 784)), [28, 28, 1]));
    const train = before.splits.train!;
    records.push(rec('dup-train', classes[Number(train.y[3])], 'Bag', Uint8Array.from(train.x.subarray(3 * 784, 4 * 784)), [28, 28, 1]));
    await s.append(records);
    await s.close();
    const exported = await exportFeedback({ store, out: path.join(cwd, 'feedback-data') });
    assert.equal(exported.format, 'image-folder');
    assert.equal(exported.examples, 62);

    const log = memoryLogger();
    const r = await setupData(
      { source: [DEMO, exported.dir], format: 'auto', split: '80/10/10', cache: false, outputDir: 'new', cwd },
      { log },
    );
    assert.ok(!log.lines.some((l) => /Ignored/.test(l)), 'provenance.jsonl is not warned about');
    const merged = await openDataset(r.datasetDir, { load: ['train', 'validation', 'test'] });
    const m: DatasetManifest = merged.manifest;
    assert.deepEqual(m.classes, classes, "the first source's classes, in its order");
    const now = placement(merged);
    let moved = 0;
    for (const [k, v] of old) {
      const w = now.get(k);
      assert.ok(w, 'every old example is still there');
      if (w.split !== v.split || w.label !== v.label) moved++;
    }
    assert.equal(moved, 0, 'no old example moved between splits');
    assert.equal(m.splits.test.count, before.manifest.splits.test.count, 'the copy of a test image with its label is not counted twice');
    assert.equal(m.splits.train.count + m.splits.validation.count + m.splits.test.count, 3060, 'the two copies are left out');
    assert.match(
      log.lines.join('\n'),
      /2 of the 62 examples of '.*feedback-data' are already in an earlier source with the same label: left out/,
    );
    const added = [...now].filter(([k]) => !old.has(k));
    assert.equal(added.length, 60);
    assert.ok(
      added.every(([, v]) => v.split !== 'test'),
      'new feedback never enters the test split the source fixed',
    );
    assert.ok(added.some(([, v]) => v.split === 'validation') && added.some(([, v]) => v.split === 'train'));
    assert.equal(now.get([...old.keys()][0])?.label, old.get([...old.keys()][0])?.label);

    // Each source with its own digest: the digest setup-data gives it alone.
    const alone = await prepare(cwd, exported.dir, 'alone');
    assert.deepEqual(
      m.sources?.map((x) => [x.uri, x.format, x.examples, x.digest]),
      [
        [DEMO, 'idx', 3000, before.manifest.digest],
        [exported.dir, 'image-folder', 62, alone.manifest.digest],
      ],
    );
    assert.equal(m.source.uri, DEMO);
    const prov = m.files.find((f) => f.path === 'provenance.jsonl');
    assert.equal(prov?.source, 1);
    assert.equal(
      prov?.sha256,
      createHash('sha256')
        .update(await readFile(exported.provenancePath))
        .digest('hex'),
    );
    const tshirt = m.files.find((f) => f.source === 1 && f.label === 'T-shirt/top');
    assert.match(tshirt?.path ?? '', /^T-shirt%2Ftop\/req-\d+-0-[0-9a-f]{10}\.png$/, 'each example records where it came from');
    assert.ok(tshirt?.split === 'train' || tshirt?.split === 'validation');
    const lines = (await readFile(exported.provenancePath, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const line = lines.find((l) => l['file'] === tshirt?.path)!;
    assert.deepEqual(
      [line['model'], line['version'], line['label'], typeof line['predicted'], (line['store'] as { line: number }).line > 0],
      ['fashion', '3', 'T-shirt/top', 'string', true],
    );

    const again = await setupData(
      { source: [DEMO, exported.dir], format: 'auto', split: '80/10/10', cache: false, outputDir: 'new', cwd },
      { log: silentLogger },
    );
    assert.equal(again.origin, 'unchanged');
  });

  it('keeps the hash-stable split for sources without a split of their own, image folders and CSV alike', async () => {
    const cwd = await tempDir();
    const images = path.join(cwd, 'images');
    await makeImageFolder(images, { boot: 30, shirt: 30 });
    const before = await prepare(cwd, images, 'old', { split: '60/20/20' });
    const more = path.join(cwd, 'more');
    await makeImageFolder(more, { shirt: 40, sandal: 10 }, { seedBase: 500 });
    const log = memoryLogger();
    const r = await setupData({ source: [images, more], format: 'auto', split: '60/20/20', cache: false, outputDir: 'new', cwd }, { log });
    const merged = await openDataset(r.datasetDir, { load: ['train', 'validation', 'test'] });
    assert.deepEqual(merged.manifest.classes, ['boot', 'shirt', 'sandal'], 'a class only the later source has comes last');
    assert.match(log.lines.join('\n'), /source '.*more' has the class 'sandal', which '.*images' has not: it is class 2/);
    const old = placement(before);
    const now = placement(merged);
    for (const [k, v] of old) assert.deepEqual(now.get(k), v);
    const added = [...now].filter(([k]) => !old.has(k)).map(([, v]) => v.split);
    assert.equal(added.length, 50);
    assert.ok(added.includes('test'), 'without a fixed split, new examples go to every split by their hash');

    // Tabular: a CSV plus a CSV feedback export of float32 features.
    const csvBefore = await prepare(cwd, TABULAR, 'csv-old', { split: '50/25/25' });
    const store = path.join(cwd, 'tab-store');
    const s = new FeedbackStore({ dir: store });
    const features = ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'];
    await s.append([
      rec('t1', 'versicolor', 'setosa', Float32Array.from([6.1, 2.8, 4.7, 1.2]), [4], { model: 'iris', features }),
      rec('t2', 'setosa', 'setosa', Float32Array.from([5.0, 3.6, 1.4, 0.2]), [4], { model: 'iris', features }),
    ]);
    await s.close();
    const csvExport = await exportFeedback({ store, out: path.join(cwd, 'tab-export') });
    assert.equal(csvExport.format, 'csv');
    const text = await readFile(path.join(csvExport.dir, 'feedback.csv'), 'utf8');
    assert.equal(text, 'sepal_length,sepal_width,petal_length,petal_width,label\n6.1,2.8,4.7,1.2,versicolor\n5,3.6,1.4,0.2,setosa\n');
    const csvMerged = await prepare(cwd, [TABULAR, csvExport.dir], 'csv-new', { split: '50/25/25' });
    const cOld = placement(csvBefore);
    const cNew = placement(csvMerged);
    for (const [k, v] of cOld) assert.deepEqual(cNew.get(k), v);
    assert.equal(cNew.size, cOld.size + 1, 'one new row; the other is a copy of an existing one');
    const splitsOfCopy = SPLITS.filter((split) => {
      const t = csvMerged.splits[split]!;
      return Array.from({ length: t.count }, (_, i) => t.x.subarray(i * 4, i * 4 + 4).join(',')).includes(
        Float32Array.from([5.0, 3.6, 1.4, 0.2]).join(','),
      );
    });
    assert.equal(splitsOfCopy.length, 1, 'the row is in one split, once: its copy with the same label is left out');
    assert.equal(
      csvMerged.manifest.splits.train.count + csvMerged.manifest.splits.validation.count + csvMerged.manifest.splits.test.count,
      13,
      'the copy with the same label is left out',
    );
  });

  it('refuses sources that do not fit together, naming both and the fix', async () => {
    const cwd = await tempDir();
    const small = path.join(cwd, 'small');
    await makeImageFolder(small, { boot: 3 }, { width: 16, height: 16 });
    await assert.rejects(
      setupData({ source: [DEMO, small], format: 'auto', split: '80/10/10', cache: false, outputDir: 'x', cwd }, { log: silentLogger }),
      (err: Error & { hint?: string }) => {
        assert.match(
          err.message,
          /sources '.*small' and '.*fashion-sample' have examples of different shapes: '.*small' 16x16 with 1 channel \(uint8\), '.*fashion-sample' 28x28 with 1 channel/,
        );
        assert.match(err.hint ?? '', /Set image-size: 28x28/);
        return true;
      },
    );
    const fixed = await setupData(
      { source: [DEMO, small], format: 'auto', split: '80/10/10', imageSize: '28x28', cache: false, outputDir: 'x', cwd },
      { log: silentLogger },
    );
    assert.equal(fixed.manifest.sources?.[1].examples, 3);
    await assert.rejects(
      setupData({ source: [DEMO, TABULAR], format: 'auto', split: '80/10/10', cache: false, outputDir: 'y', cwd }, { log: silentLogger }),
      /do not hold the same kind of data|different shapes/,
    );
    await assert.rejects(
      setupData({ source: [DEMO, DEMO], format: 'auto', split: '80/10/10', cache: false, outputDir: 'z', cwd }, { log: silentLogger }),
      /names '.*' twice/,
    );
  });
});

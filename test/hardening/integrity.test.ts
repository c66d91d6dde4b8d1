/**
 * Defect 1: a data set folder is never trusted without checking. train and evaluate-gate verify the
 * prepared files against the manifest (which is bound to its own content), by recomputing every
 * digest from the tensors: flipped bytes, an edited digest, edited per-file sha256 values, a digest
 * forged together with a re-sealed manifest, and an example moved between splits are all refused,
 * naming the file and the fix (run setup-data again), and the fix works.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { manifestDigestOf, RECORD_BYTES, sealManifest, splitDigest, writeRecords } from '../../shared/data/digest.ts';
import { openDataset } from '../../shared/data/load.ts';
import type { DatasetManifest } from '../../shared/data/manifest.ts';
import { sha256 } from '../../shared/util/fs.ts';
import { makeImageFolder } from '../data/helpers.ts';
import { cli, removeTempDirs, snapshot, tempDir } from './helpers.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const sample = path.join(here, '../../demo/fashion-sample');
const FIX = /run setup-data again/;

let cwd: string;
let pristine: Map<string, Buffer>;

async function readManifest(): Promise<DatasetManifest & Record<string, unknown>> {
  return JSON.parse(await readFile(path.join(cwd, 'data', 'manifest.json'), 'utf8')) as DatasetManifest & Record<string, unknown>;
}
async function writeManifest(m: unknown): Promise<void> {
  await writeFile(path.join(cwd, 'data', 'manifest.json'), JSON.stringify(m, null, 2));
}
/** Puts every file of the prepared folder back as setup-data wrote it. */
async function restore(): Promise<void> {
  for (const [name, bytes] of pristine) await writeFile(path.join(cwd, 'data', name), bytes);
}

before(async () => {
  cwd = await tempDir();
  const r = await cli(['setup-data', '--source', sample, '--output-dir', 'data'], cwd);
  assert.equal(r.code, 0, r.err);
  pristine = new Map();
  for (const name of ['manifest.json', 'train.x.bin', 'train.y.bin', 'validation.x.bin', 'validation.y.bin', 'test.x.bin', 'test.y.bin'])
    pristine.set(name, await readFile(path.join(cwd, 'data', name)));
});
after(removeTempDirs);

describe('defect 1: data integrity end to end', () => {
  afterEach(restore);
  it('evaluate-gate refuses flipped bytes in test.x.bin, naming the file and the fix, and writes nothing', async () => {
    const f = path.join(cwd, 'data', 'test.x.bin');
    const bytes = Buffer.from(pristine.get('test.x.bin')!);
    for (let i = 1000; i < 1010; i++) bytes[i] ^= 0xff;
    await writeFile(f, bytes);
    const tree = await snapshot(cwd);
    const r = await cli(['evaluate-gate', '--model', 'model', '--dataset', 'data', '--baseline', 'none'], cwd);
    assert.equal(r.code, 2, r.err);
    assert.match(
      r.err,
      /data set folder '[^']*data': test\.x\.bin does not match manifest\.json: its sha256 is [0-9a-f]{64}; the manifest says [0-9a-f]{64}/,
    );
    assert.match(r.err, FIX);
    assert.deepEqual(await snapshot(cwd), tree, 'no report written');
  });

  it('train refuses an edited digest in manifest.json (the manifest is bound to its own content)', async () => {
    const m = await readManifest();
    await writeManifest({ ...m, digest: `sha256:${'0'.repeat(64)}` });
    const tree = await snapshot(cwd);
    const r = await cli(['train', '--dataset', 'data', '--epochs', '1', '--backend', 'cpu'], cwd);
    assert.equal(r.code, 2, r.err);
    assert.match(
      r.err,
      /manifest\.json in data set folder '[^']*data' was edited after setup-data wrote it: its content hashes to sha256:[0-9a-f]{64}, it records sha256:/,
    );
    assert.match(r.err, /Run setup-data again/);
    assert.deepEqual(await snapshot(cwd), tree, 'no model written');
  });

  it('train refuses edited per-file sha256 values', async () => {
    const m = await readManifest();
    const splits = { ...m.splits, train: { ...m.splits.train, x: { ...m.splits.train.x, sha256: 'a'.repeat(64) } } };
    await writeManifest({ ...m, splits });
    const r = await cli(['train', '--dataset', 'data', '--epochs', '1', '--backend', 'cpu'], cwd);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /manifest\.json in data set folder '[^']*data' was edited after setup-data wrote it/);
  });

  it('a forged digest in a re-sealed manifest does not survive recomputation', async () => {
    const m = await readManifest();
    const { manifestDigest: _old, ...rest } = m;
    await writeManifest(sealManifest({ ...rest, digest: `sha256:${'0'.repeat(64)}` }));
    const r = await cli(['train', '--dataset', 'data', '--epochs', '1', '--backend', 'cpu'], cwd);
    assert.equal(r.code, 2, r.err);
    assert.match(
      r.err,
      /the data set does not match manifest\.json: its content hashes to (sha256:[0-9a-f]{64}); the manifest says sha256:0{64}/,
    );
    assert.equal(
      /its content hashes to (sha256:[0-9a-f]{64})/.exec(r.err)?.[1],
      m.digest,
      'the recomputed digest is the one setup-data wrote',
    );
    assert.match(r.err, FIX);
  });

  it('tampered tensors with their sha256 and the manifest re-sealed are refused by the split digest', async () => {
    const m = await readManifest();
    const bytes = Buffer.from(pristine.get('train.x.bin')!);
    bytes[5] ^= 0x01;
    await writeFile(path.join(cwd, 'data', 'train.x.bin'), bytes);
    const { manifestDigest: _old, ...rest } = m;
    const splits = { ...m.splits, train: { ...m.splits.train, x: { ...m.splits.train.x, sha256: sha256(bytes) } } };
    await writeManifest(sealManifest({ ...rest, splits }));
    const r = await cli(['train', '--dataset', 'data', '--epochs', '1', '--backend', 'cpu'], cwd);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /the train split does not match manifest\.json: its examples hash to sha256:[0-9a-f]{64}; the manifest says/);
  });

  it('setup-data again rebuilds a folder changed in place, and the result verifies', async () => {
    const bytes = Buffer.from(pristine.get('test.x.bin')!);
    bytes[0] ^= 0xff;
    await writeFile(path.join(cwd, 'data', 'test.x.bin'), bytes);
    const r = await cli(['setup-data', '--source', sample, '--output-dir', 'data'], cwd);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /The prepared data in .* was changed after it was written \(.*test\.x\.bin does not match manifest\.json/);
    assert.match(r.out, /cache-hit=false/);
    assert.deepEqual(await readFile(path.join(cwd, 'data', 'test.x.bin')), pristine.get('test.x.bin'));
    const ds = await openDataset(path.join(cwd, 'data'));
    assert.equal(ds.manifest.digest, (JSON.parse(pristine.get('manifest.json')!.toString()) as DatasetManifest).digest);
    // Unchanged since: the fast path again, nothing read.
    const again = await cli(['setup-data', '--source', sample, '--output-dir', 'data'], cwd);
    assert.match(again.err, /Source unchanged since the last run/);
    assert.doesNotMatch(again.err, /was changed after it was written/);
  });

  it('an example moved to another split, with every digest and the manifest recomputed, is refused by the split rule', async () => {
    const dir = await tempDir();
    await makeImageFolder(path.join(dir, 'images'), { a: 12, b: 12, c: 12 });
    assert.equal((await cli(['setup-data', '--source', 'images', '--output-dir', 'out', '--split', '50/0/50'], dir)).code, 0);
    const file = (n: string): string => path.join(dir, 'out', n);
    const m = JSON.parse(await readFile(file('manifest.json'), 'utf8')) as DatasetManifest;
    const per = m.inputShape.reduce((a, b) => a * b, 1);
    // Move the first test example to the end of train, and make every recorded value agree.
    const tx = await readFile(file('test.x.bin'));
    const ty = await readFile(file('test.y.bin'));
    const trx = Buffer.concat([await readFile(file('train.x.bin')), tx.subarray(0, per)]);
    const try_ = Buffer.concat([await readFile(file('train.y.bin')), ty.subarray(0, 4)]);
    const tex = tx.subarray(per);
    const tey = ty.subarray(4);
    const label = ty.readInt32LE(0);
    const records = (x: Buffer, y: Buffer): Buffer => {
      const out = Buffer.alloc((y.length / 4) * RECORD_BYTES);
      writeRecords(x, y, y.length / 4, per, out);
      return out;
    };
    await writeFile(file('train.x.bin'), trx);
    await writeFile(file('train.y.bin'), try_);
    await writeFile(file('test.x.bin'), tex);
    await writeFile(file('test.y.bin'), tey);
    const counts = (c: readonly number[], d: number): number[] => c.map((v, i) => (i === label ? v + d : v));
    const { manifestDigest: _old, ...rest } = m;
    const forged = sealManifest({
      ...rest,
      splits: {
        ...m.splits,
        train: {
          count: m.splits.train.count + 1,
          digest: splitDigest(records(trx, try_)),
          classCounts: counts(m.splits.train.classCounts, 1),
          x: { ...m.splits.train.x, shape: [m.splits.train.count + 1, ...m.inputShape], sha256: sha256(trx) },
          y: { ...m.splits.train.y, shape: [m.splits.train.count + 1], sha256: sha256(try_) },
        },
        test: {
          count: m.splits.test.count - 1,
          digest: splitDigest(records(tex, tey)),
          classCounts: counts(m.splits.test.classCounts, -1),
          x: { ...m.splits.test.x, shape: [m.splits.test.count - 1, ...m.inputShape], sha256: sha256(tex) },
          y: { ...m.splits.test.y, shape: [m.splits.test.count - 1], sha256: sha256(tey) },
        },
      },
    });
    assert.equal(forged.manifestDigest, manifestDigestOf(forged));
    await writeFile(file('manifest.json'), JSON.stringify(forged));
    // The data set digest is unchanged (the same examples): only the split rule can tell.
    await assert.rejects(openDataset(path.join(dir, 'out')), (err: Error) => {
      assert.match(
        err.message,
        /the train split does not match manifest\.json: example \d+ \(sha256 [0-9a-f]{12}…\) belongs in test by the recorded split \(seed 0, 50\/0\/50\)/,
      );
      return true;
    });
  });
});

/**
 * Defect 2: no reader follows a link (or opens a FIFO, socket or device) out of a folder it reads.
 * register, train's resume-from, evaluate-gate, the registry pull's destination, the image-folder
 * reader, CSV sources and the model loader the server uses all take regular files inside the folder
 * only, and refuse anything else naming the file and the fix, leaving nothing behind.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadModel } from '../../shared/model/io.ts';
import { openRegistry } from '../../shared/registry/index.ts';
import { ConfigurationError } from '../../shared/util/errors.ts';
import { silentLogger } from '../../shared/util/log.ts';
import { makeImageFolder, writeImage } from '../data/helpers.ts';
import { makeModelDir } from '../registry/helpers.ts';
import { cli, removeTempDirs, snapshot, tempDir } from './helpers.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const sample = path.join(here, '../../demo/fashion-sample');
const LINK_REFUSED = /a symbolic link \(to [^)]+\); only regular files inside the folder are read, never what a link points to/;

let cwd: string;
/** A file outside every folder read: what a hostile link points to. */
let secret: string;

before(async () => {
  cwd = await tempDir();
  const outside = await tempDir('ms-outside-');
  secret = path.join(outside, 'secret.txt');
  await writeFile(secret, 'the runner token');
  await makeModelDir(path.join(cwd, 'model'), 1);
});
after(removeTempDirs);

/** A copy of the model folder with `file` replaced by a link to `target`. */
async function linkedModel(name: string, file: string, target = secret): Promise<string> {
  const dir = path.join(cwd, name);
  await cp(path.join(cwd, 'model'), dir, { recursive: true });
  await rm(path.join(dir, file));
  await symlink(target, path.join(dir, file));
  return name;
}

describe('defect 2: links and special files', () => {
  it('register refuses a weight file that is a link out of the model folder, and creates no registry', async () => {
    const model = await linkedModel('model-weights-link', 'weights.bin');
    const tree = await snapshot(cwd);
    const r = await cli(['register', '--model', model, '--name', 'fashion', '--registry', 'reg'], cwd);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, new RegExp(`model folder '[^']*${model}' has 'weights\\.bin', ${LINK_REFUSED.source}`));
    assert.match(
      r.err,
      /Replace \S*model-weights-link\/weights\.bin with the file itself \(copy it in place of the link\), or remove it\./,
    );
    assert.deepEqual(await snapshot(cwd), tree);
  });

  it('register refuses an optional file (the model card) that is a link', async () => {
    const model = await linkedModel('model-card-link', 'model-card.md');
    const tree = await snapshot(cwd);
    const r = await cli(['register', '--model', model, '--name', 'fashion', '--registry', 'reg'], cwd);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /has 'model-card\.md', a symbolic link/);
    assert.deepEqual(await snapshot(cwd), tree);
  });

  it('the model loader (evaluate-gate, the server) refuses a link named like a weight file', async () => {
    const model = await linkedModel('model-load-link', 'weights.bin', '/etc/passwd');
    await assert.rejects(loadModel(path.join(cwd, model)), (err: unknown) => {
      assert.ok(err instanceof ConfigurationError);
      assert.match(err.message, /has 'weights\.bin', a symbolic link \(to \/etc\/passwd\)/);
      return true;
    });
  });

  it('evaluate-gate refuses a candidate whose metadata is a link, and writes no report', async () => {
    const dir = await tempDir();
    assert.equal((await cli(['setup-data', '--source', sample, '--output-dir', 'data'], dir)).code, 0);
    await cp(path.join(cwd, 'model'), path.join(dir, 'model'), { recursive: true });
    await rm(path.join(dir, 'model', 'modelship.json'));
    await symlink(secret, path.join(dir, 'model', 'modelship.json'));
    const tree = await snapshot(dir);
    const r = await cli(['evaluate-gate', '--model', 'model', '--dataset', 'data', '--baseline', 'none', '--comment', 'false'], dir);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /has 'modelship\.json', a symbolic link/);
    assert.deepEqual(await snapshot(dir), tree);
  });

  it("train's resume-from refuses a checkpoint whose weights are a link to /etc/passwd", async () => {
    const dir = await tempDir();
    assert.equal((await cli(['setup-data', '--source', sample, '--output-dir', 'data'], dir)).code, 0);
    const ck = path.join(dir, 'ck');
    await cp(path.join(cwd, 'model'), ck, { recursive: true });
    await writeFile(path.join(ck, 'state.json'), JSON.stringify({ kind: 'modelship.checkpoint', schemaVersion: 1, epoch: 1 }));
    await rm(path.join(ck, 'weights.bin'));
    await symlink('/etc/passwd', path.join(ck, 'weights.bin'));
    const tree = await snapshot(dir);
    const r = await cli(['train', '--dataset', 'data', '--resume-from', 'ck', '--epochs', '2'], dir);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /input 'resume-from' checkpoint folder '[^']*ck' has 'weights\.bin', a symbolic link \(to \/etc\/passwd\)/);
    assert.match(r.err, /with the file itself/);
    assert.doesNotMatch(r.err, /root:/);
    assert.deepEqual(await snapshot(dir), tree);
  });

  it('registry pull refuses a destination that is a link, and changes nothing', async () => {
    const dir = await tempDir();
    const reg = await openRegistry(path.join(dir, 'reg'), { log: silentLogger });
    await reg.push(path.join(cwd, 'model'), { name: 'fashion' });
    await mkdir(path.join(dir, 'elsewhere'));
    await symlink('elsewhere', path.join(dir, 'dest'));
    const tree = await snapshot(dir);
    const r = await cli(['registry', 'pull', 'fashion:1', 'dest', '--registry', 'reg'], dir);
    assert.equal(r.code, 2, r.err);
    assert.match(
      r.err,
      /pull destination '[^']*dest' is a symbolic link \(to elsewhere\); a pull writes a real folder, never through a link/,
    );
    assert.deepEqual(await snapshot(dir), tree);
  });

  it('setup-data refuses an image folder holding a link to a file outside it', async () => {
    const dir = await tempDir();
    await makeImageFolder(path.join(dir, 'images'), { a: 3, b: 3 });
    const outsidePng = path.join(await tempDir('ms-outside-'), 'x.png');
    await writeImage(outsidePng, { seed: 99 });
    await symlink(outsidePng, path.join(dir, 'images', 'a', 'linked.png'));
    const tree = await snapshot(dir);
    const r = await cli(['setup-data', '--source', 'images', '--output-dir', 'out'], dir);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /source 'images' has 'a\/linked\.png', a symbolic link/);
    assert.deepEqual(await snapshot(dir), tree, 'no output, no work folder, no .modelship');
  });

  it('setup-data refuses a FIFO in a CSV source folder, and a FIFO named as the source, without blocking', async () => {
    const dir = await tempDir();
    await mkdir(path.join(dir, 'tab'));
    await writeFile(path.join(dir, 'tab', 'data.csv'), 'x,label\n1,a\n2,b\n');
    execFileSync('mkfifo', [path.join(dir, 'tab', 'pipe.csv')]);
    execFileSync('mkfifo', [path.join(dir, 'lone.csv')]);
    const tree = await snapshot(dir);
    const r1 = await cli(['setup-data', '--source', 'tab', '--output-dir', 'out'], dir);
    assert.equal(r1.code, 2, r1.err);
    assert.match(r1.err, /source 'tab' has 'pipe\.csv', a named pipe \(FIFO\); only regular files inside the folder are read/);
    assert.match(r1.err, /Remove tab\/pipe\.csv, or replace it with a regular file\./);
    const r2 = await cli(['setup-data', '--source', 'lone.csv', '--output-dir', 'out'], dir);
    assert.equal(r2.code, 2, r2.err);
    assert.match(r2.err, /input 'source': 'lone\.csv' is a named pipe \(FIFO\); setup-data reads regular files and folders only/);
    assert.deepEqual(await snapshot(dir), tree);
  });
});

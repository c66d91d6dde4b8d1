/**
 * Defect 6, the smaller ones, each at the command line: every refusal names the input (or the
 * modelship.yml key) and the fix, exits as a configuration error, and leaves nothing behind.
 */
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { writeDataset, writeModel } from '../evaluate/fixtures.ts';
import { makeModelDir } from '../registry/helpers.ts';
import { cli, removeTempDirs, snapshot, tempDir } from './helpers.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const sample = path.join(here, '../../demo/fashion-sample');

let cwd: string;
before(async () => {
  cwd = await tempDir();
  assert.equal((await cli(['setup-data', '--source', sample, '--output-dir', 'data'], cwd)).code, 0);
});
after(removeTempDirs);

/** Runs the CLI in `dir`, expects exit 2 and an unchanged tree; returns stderr. */
async function refused(argv: string[], dir = cwd): Promise<string> {
  const tree = await snapshot(dir);
  const r = await cli(argv, dir);
  assert.equal(r.code, 2, `exit code of ${argv.join(' ')}: ${r.err}`);
  assert.deepEqual(await snapshot(dir), tree, 'nothing left behind');
  return r.err;
}

describe('defect 6: the smaller defects', () => {
  it('a YAML alias bomb in modelship.yml is a configuration error naming the file and the fix', async () => {
    const dir = await tempDir();
    const lines = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 9; i++)
      lines.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(9)
          .fill(`*${String.fromCharCode(96 + i)}`)
          .join(', ')}]`,
      );
    await writeFile(path.join(dir, 'modelship.yml'), `${lines.join('\n')}\n`);
    const err = await refused(['train', '--dataset', 'data'], dir);
    assert.match(err, /modelship\.yml cannot be read: its YAML aliases expand too far/);
    assert.match(err, /Write the values out in modelship\.yml instead of nesting aliases/);
  });

  it('an action default that is an expression never reaches the registry as the user name', async () => {
    const model = await makeModelDir(path.join(await tempDir(), 'model'), 1);
    const users: string[] = [];
    const server = createServer((req, res) => {
      const auth = req.headers.authorization;
      if (auth?.startsWith('Basic ')) users.push(Buffer.from(auth.slice(6), 'base64').toString().split(':')[0]);
      res.writeHead(401, { 'www-authenticate': 'Basic realm="test"', 'content-type': 'application/json' }).end('{"errors":[]}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      const r = await cli(['register', '--model', model, '--name', 'fashion', '--registry', `oci://127.0.0.1:${port}/models`], cwd, {
        MODELSHIP_REGISTRY_PASSWORD: 'pw',
      });
      assert.notEqual(r.code, 0);
      assert.ok(users.length > 0, 'the registry was asked with credentials');
      assert.deepEqual([...new Set(users)], [''], 'no user name, never the literal ${{ github.actor }}');
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
    const help = await cli(['register', '--help'], cwd);
    assert.doesNotMatch(help.out, /\$\{\{/);
  });

  it('a CSV without label-column and without a conventional label column is refused, naming the input', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'rows.csv'), 'id,height,weight\n1,2,3\n2,3,4\n');
    const err = await refused(['setup-data', '--source', 'rows.csv', '--output-dir', 'out'], dir);
    assert.match(
      err,
      /input 'label-column' is not set, and CSV file 'rows\.csv' has no column named label, target, class, y; its columns are: id, height, weight\./,
    );
    assert.match(err, /Set label-column to the column that holds the label \(e\.g\. label-column: weight\), or name that column label\./);
  });

  it('a CSV with a conventional label column says which it took', async () => {
    const dir = await tempDir();
    await writeFile(
      path.join(dir, 'rows.csv'),
      `x,y,target\n${Array.from({ length: 10 }, (_, i) => `${i},${i * 2},${i % 2 ? 'a' : 'b'}`).join('\n')}\n`,
    );
    const r = await cli(['setup-data', '--source', 'rows.csv', '--output-dir', 'out'], dir);
    assert.equal(r.code, 0, r.err);
    assert.match(
      r.err,
      /Label column 'target' taken by its name \(the first of label, target, class, y among the columns\); set label-column to use another\./,
    );
  });

  it('learning-rate 0 is told the bound is exclusive', async () => {
    const err = await refused(['train', '--dataset', 'data', '--learning-rate', '0']);
    assert.match(err, /input 'learning-rate' is 0, out of range\.\n\s+Set 'learning-rate' to a value above 0, at most 10\./);
  });

  it('rule errors count blank and comment lines (modelship.yml, the command line, and at evaluation)', async () => {
    const dir = await tempDir();
    await writeFile(
      path.join(dir, 'modelship.yml'),
      'gate:\n  thresholds: |\n    accuracy >= 0.9\n\n    # a comment\n    accuracy = 0.9\n',
    );
    const fromFile = await refused(['evaluate-gate', '--model', 'm', '--dataset', 'data'], dir);
    assert.match(fromFile, /modelship\.yml: key 'gate\.thresholds' line 4: 'accuracy = 0\.9' uses '=', which is not an operator here\./);
    const fromCli = await refused([
      'evaluate-gate',
      '--model',
      'm',
      '--dataset',
      'data',
      '--thresholds',
      'accuracy >= 0.9',
      '--thresholds',
      '',
      '--thresholds',
      'accuracy => 0.9',
    ]);
    assert.match(fromCli, /input 'thresholds' line 3: 'accuracy => 0\.9'/);
    const atRun = await refused([
      'evaluate-gate',
      '--model',
      'm',
      '--dataset',
      'data',
      '--thresholds',
      'accuracy >= 0.9\n\n# later\nacc >= 0.9',
    ]);
    assert.match(atRun, /thresholds line 4: 'acc >= 0\.9' names an unknown metric 'acc'\./);
  });

  it('a model name is checked by one grammar where it enters: --name, modelship.yml and a model folder', async () => {
    const err = await refused(['train', '--dataset', 'data', '--name', 'Fashion']);
    assert.match(
      err,
      /input 'name': 'Fashion' is not a valid model name: 'F' is refused: OCI registries accept only lower-case names \(use 'fashion'\)\./,
    );
    assert.match(err, /Use lower-case letters, digits and single '\.', '_' or '-' between them/);
    const dir = await tempDir();
    await writeFile(path.join(dir, 'modelship.yml'), 'name: Fashion\n');
    const fromFile = await refused(['train', '--dataset', 'data'], dir);
    assert.match(fromFile, /modelship\.yml: key 'name': 'Fashion' is not a valid model name: 'F' is refused/);
    const registerErr = await refused(['register', '--model', 'model', '--name', 'my_model-', '--registry', 'reg']);
    assert.match(registerErr, /input 'name': 'my_model-' is not a valid model name: '-' is refused at the end/);
    // A model folder that names itself badly says so (instead of "the name is not set").
    const model = await makeModelDir(path.join(dir, 'model'), 1);
    const metadata = JSON.parse(await readFile(path.join(model, 'modelship.json'), 'utf8')) as Record<string, unknown>;
    await writeFile(path.join(model, 'modelship.json'), JSON.stringify({ ...metadata, name: 'Fashion' }));
    await rm(path.join(dir, 'modelship.yml'));
    const fromFolder = await refused(['register', '--model', 'model', '--registry', 'reg'], dir);
    assert.match(fromFolder, /the name in [^:]*modelship\.json: 'Fashion' is not a valid model name: 'F' is refused/);
    assert.match(fromFolder, /Set 'name' in the step's 'with:' \(or name: in modelship\.yml\) to a valid name/);
  });

  it('gate.thresholds: 0.9 says what a rule looks like', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'modelship.yml'), 'gate:\n  thresholds: 0.9\n');
    const err = await refused(['evaluate-gate', '--model', 'm', '--dataset', 'data'], dir);
    assert.match(
      err,
      /modelship\.yml: key 'gate\.thresholds' line 1: '0\.9' is not a rule\.\n\s+Write it as 'metric OP number' \(e\.g\. 'accuracy >= 0\.90'; OP is one of >= > <= < == !=\)\./,
    );
    await writeFile(path.join(dir, 'modelship.yml'), 'gate:\n  thresholds: [[0.9]]\n');
    const nested = await refused(['evaluate-gate', '--model', 'm', '--dataset', 'data'], dir);
    assert.match(
      nested,
      /key 'gate\.thresholds' must be a string, a list of strings or a mapping of key: value\.\n\s+Write e\.g\. thresholds: \['accuracy >= 0\.9'\]\./,
    );
  });

  it('fashion@sha256:../../etc is a malformed digest, wherever a reference is read', async () => {
    const pull = await refused(['registry', 'pull', 'fashion@sha256:../../etc', 'out']);
    assert.match(
      pull,
      /registry pull 'fashion@sha256:\.\.\/\.\.\/etc' is not a valid model reference: 'sha256:\.\.\/\.\.\/etc' is not a sha256 digest \(sha256: and 64 lower-case hex digits; a digest is never a path\)\./,
    );
    assert.match(pull, /Write name, name:7, name@production, name@sha256:<64 hex>/);
    const dir = await tempDir();
    await writeDataset(path.join(dir, 'data'));
    await writeModel(path.join(dir, 'model'), 'good');
    const gate = await refused(
      ['evaluate-gate', '--model', 'model', '--dataset', 'data', '--baseline', 'fashion@sha256:../../etc', '--comment', 'false'],
      dir,
    );
    assert.match(
      gate,
      /input 'baseline' 'fashion@sha256:\.\.\/\.\.\/etc' is not a valid model reference: 'sha256:\.\.\/\.\.\/etc' is not a sha256 digest/,
    );
  });
});

/**
 * verify, as the runner runs it: a data set from setup-data (the demo sample), a model folder and
 * a report, each checked against the digest its producer outputs; changed, partial and substituted
 * copies fail with a message that names the artifact.
 */
import assert from 'node:assert/strict';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { modelFilesDigest } from '../../shared/model/index.ts';
import { setupDataStep, verifyStep } from '../../shared/steps/index.ts';
import { sha256 } from '../../shared/util/index.ts';
import { runAsRunner } from '../helpers/runner.ts';

const root = path.resolve(import.meta.dirname, '../..');

/** The one-line failure the runner shows (workflow commands escape newlines as %0A). */
function failure(commands: string): string {
  return (/::error::(.*)/.exec(commands)?.[1] ?? '').replace(/%0A/g, '\n');
}

describe('verify', () => {
  let dir = '';
  let manifestDigest = '';
  let contentDigest = '';
  const run = (inputs: Record<string, string>) => runAsRunner(verifyStep, inputs, { cwd: dir });
  const copy = async (from: string, to: string): Promise<string> => {
    await rm(path.join(dir, to), { recursive: true, force: true });
    await cp(path.join(dir, from), path.join(dir, to), { recursive: true });
    return to;
  };

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'modelship-verify-'));
    const data = await runAsRunner(
      setupDataStep,
      { source: path.join(root, 'demo', 'fashion-sample'), 'output-dir': 'data', cache: 'false' },
      { cwd: dir },
    );
    assert.equal(data.failed, false, data.commands);
    manifestDigest = data.outputs['manifest-digest'];
    contentDigest = data.outputs['digest'];
    assert.match(manifestDigest, /^sha256:[0-9a-f]{64}$/);
    assert.notEqual(manifestDigest, contentDigest);

    await mkdir(path.join(dir, 'model'));
    await writeFile(
      path.join(dir, 'model', 'model.json'),
      JSON.stringify({ format: 'layers-model', weightsManifest: [{ paths: ['weights.bin'], weights: [] }] }),
    );
    await writeFile(path.join(dir, 'model', 'weights.bin'), Buffer.from([1, 2, 3, 4]));
    await writeFile(path.join(dir, 'model', 'modelship.json'), '{"kind": "modelship.model"}');
    await writeFile(path.join(dir, 'model', 'history.json'), '[]');
    await mkdir(path.join(dir, 'report'));
    await writeFile(path.join(dir, 'report', 'report.json'), '{"kind": "modelship.gate-report", "passed": true}\n');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('passes a data set against manifest-digest, and against the content digest', async () => {
    const r = await run({ path: 'data', digest: manifestDigest, artifact: 'dataset' });
    assert.equal(r.failed, false, r.commands);
    assert.deepEqual(r.outputs, { kind: 'dataset', digest: manifestDigest, path: 'data' });
    assert.match(r.log, /artifact 'dataset' \(data\): data set sha256:[0-9a-f]{64}, manifest sha256:/);
    const byContent = await run({ path: 'data/manifest.json', digest: contentDigest });
    assert.equal(byContent.failed, false, byContent.commands);
    assert.match(byContent.log, /does not cover the split: pass manifest-digest/);
  });

  it('fails a data set with a changed tensor file, naming the artifact and the file', async () => {
    const copyDir = await copy('data', 'data-changed');
    const tensor = (await readdir(path.join(dir, copyDir))).find((f) => f.startsWith('test') && f.endsWith('.bin'));
    assert.ok(tensor, 'a test-split tensor file');
    const file = path.join(dir, copyDir, tensor);
    const bytes = await readFile(file);
    bytes[bytes.length - 1] ^= 0xff;
    await writeFile(file, bytes);
    const r = await run({ path: copyDir, digest: manifestDigest, artifact: 'dataset' });
    assert.equal(r.failed, true);
    assert.match(
      failure(r.commands),
      new RegExp(`^verify failed: artifact 'dataset' \\(data-changed\\) is damaged or incomplete: .*${tensor.replace('.', '\\.')}`),
    );
    assert.match(failure(r.commands), /\n {2}Run the workflow again/);
  });

  it('fails a partial data set (a file missing) and a substituted one (another digest)', async () => {
    const partial = await copy('data', 'data-partial');
    const tensor = (await readdir(path.join(dir, partial))).find((f) => f.startsWith('train') && f.endsWith('.bin'))!;
    await rm(path.join(dir, partial, tensor));
    const r = await run({ path: partial, digest: manifestDigest, artifact: 'dataset' });
    assert.equal(r.failed, true);
    assert.match(failure(r.commands), /artifact 'dataset' \(data-partial\) is damaged or incomplete/);
    const other = `sha256:${'0'.repeat(64)}`;
    const s = await run({ path: 'data', digest: other, artifact: 'dataset' });
    assert.equal(s.failed, true);
    assert.match(
      failure(s.commands),
      new RegExp(`is not the data set that was uploaded: its manifest digest is ${manifestDigest}.*expected ${other}`),
    );
  });

  it('checks a model folder by its files digest: changed and partial folders fail', async () => {
    const digest = await modelFilesDigest(path.join(dir, 'model'));
    const ok = await run({ path: 'model', digest, artifact: 'model' });
    assert.equal(ok.failed, false, ok.commands);
    assert.deepEqual(ok.outputs, { kind: 'model', digest, path: 'model' });
    // history.json is a description of the model, not part of it.
    await writeFile(path.join(dir, 'model', 'history.json'), '[{"epoch": 1}]');
    assert.equal((await run({ path: 'model', digest })).failed, false);

    const changed = await copy('model', 'model-changed');
    await writeFile(path.join(dir, changed, 'weights.bin'), Buffer.from([1, 2, 3, 5]));
    const c = await run({ path: changed, digest, artifact: 'model' });
    assert.equal(c.failed, true);
    assert.match(
      failure(c.commands),
      new RegExp(
        `^verify failed: artifact 'model' \\(model-changed\\) does not match its digest: its files \\(model\\.json, modelship\\.json, weights\\.bin\\) hash to sha256:[0-9a-f]{64}, expected ${digest}`,
      ),
    );
    const partial = await copy('model', 'model-partial');
    await rm(path.join(dir, partial, 'weights.bin'));
    const p = await run({ path: partial, digest, artifact: 'model' });
    assert.equal(p.failed, true);
    assert.match(failure(p.commands), /artifact 'model' \(model-partial\) is incomplete: weights\.bin is missing\./);
  });

  it('checks a report by the sha256 of report.json, given as the file or its folder', async () => {
    const digest = `sha256:${sha256(await readFile(path.join(dir, 'report', 'report.json')))}`;
    const ok = await run({ path: 'report', digest, artifact: 'report' });
    assert.equal(ok.failed, false, ok.commands);
    assert.deepEqual(ok.outputs, { kind: 'report', digest, path: path.join('report', 'report.json') });
    assert.equal((await run({ path: 'report/report.json', digest })).failed, false);
    const changed = await copy('report', 'report-changed');
    await writeFile(path.join(dir, changed, 'report.json'), '{"kind": "modelship.gate-report", "passed": false}\n');
    const c = await run({ path: changed, digest, artifact: 'report' });
    assert.equal(c.failed, true);
    assert.match(failure(c.commands), /artifact 'report' \(report-changed\) does not match its digest: report\.json hashes to/);
  });

  it('says what is wrong with the inputs and the download', async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [
        { path: 'model' },
        /input 'digest' is empty, so 'model' cannot be verified\.\n {2}Pass the digest the uploading job output, through its jobs\.<id>\.outputs/,
      ],
      [{ path: 'model', digest: 'abc' }, /input 'digest' is 'abc', not a sha256:<64 hex digits> digest/],
      [
        { path: 'nowhere', digest: manifestDigest, artifact: 'model' },
        /artifact 'model' \(nowhere\) does not exist: the artifact was not downloaded there/,
      ],
      [{ path: '.', digest: manifestDigest }, /'\.' holds none of manifest\.json \(a data set\), model\.json \(a model\) or report\.json/],
      [{ path: 'model', digest: manifestDigest, kind: 'dataset' }, /'model' holds a model, not a dataset/],
    ];
    await mkdir(path.join(dir, 'empty'), { recursive: true });
    for (const [inputs, message] of cases) {
      const r = await run(inputs.path === '.' ? { ...inputs, path: 'empty' } : inputs);
      assert.equal(r.failed, true, JSON.stringify(inputs));
      assert.match(failure(r.commands).replace("'empty'", "'.'"), message);
    }
  });
});

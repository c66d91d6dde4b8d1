/** The train step through the action door: INPUT_* in, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY out. */
import assert from 'node:assert/strict';
import { modelFilesDigest } from '../../shared/model/index.ts';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { trainStep } from '../../shared/steps/train.ts';
import type { ModelMetadata } from '../../shared/model/metadata.ts';
import { memoryLogger } from '../../shared/util/log.ts';
import { runAsRunner } from '../helpers/runner.ts';
import { writeSyntheticDataset } from './synthetic.ts';

describe('train step (action)', () => {
  let root: string;
  let dataset: string;
  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'modelship-train-step-'));
    dataset = await writeSyntheticDataset(path.join(root, 'data'), { kind: 'tabular', counts: [90, 30, 30], size: 6 });
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('trains, sets every declared output and writes the summary with the curves', async () => {
    const log = memoryLogger();
    const r = await runAsRunner(
      trainStep,
      {
        dataset,
        architecture: 'mlp',
        epochs: '2',
        'batch-size': '16',
        'learning-rate': '0.01',
        backend: 'cpu',
        'output-dir': 'model',
        name: 'iris',
      },
      { cwd: root, log },
    );
    assert.equal(r.failed, false, r.commands);
    const out = r.outputs;
    assert.deepEqual(Object.keys(out).sort(), [
      'backend',
      'duration-seconds',
      'final-loss',
      'history',
      'model-digest',
      'model-dir',
      'val-accuracy',
    ]);
    assert.equal(out['model-digest'], await modelFilesDigest(out['model-dir']));
    assert.equal(out['model-dir'], path.join(root, 'model'));
    assert.equal(out['history'], path.join(root, 'model', 'history.json'));
    assert.equal(out['backend'], 'cpu');
    assert.match(out['val-accuracy'], /^(0|1)\.\d{4}$/);
    assert.match(out['final-loss'], /^\d+\.\d{4}$/);
    assert.match(out['duration-seconds'], /^\d+\.\d$/);
    assert.match(r.summary, /^### modelship train · `mlp`/);
    assert.equal(r.summary.match(/xychart-beta/g)?.length, 2);
    assert.ok(log.lines.includes('▸ train'));
    assert.ok(log.lines.some((l) => l.startsWith('epoch 2/2')));
    const metadata = JSON.parse(await readFile(path.join(root, 'model', 'modelship.json'), 'utf8')) as ModelMetadata;
    assert.equal(metadata.name, 'iris');
  });

  it('takes the model name from its input (as a Kubernetes training pod gets it: --name, no modelship.yml)', async () => {
    const r = await runAsRunner(
      trainStep,
      { dataset, architecture: 'mlp', epochs: '1', backend: 'cpu', 'output-dir': 'model-k8s', name: 'fashion' },
      { cwd: root },
    );
    assert.equal(r.failed, false, r.commands);
    const metadata = JSON.parse(await readFile(path.join(root, 'model-k8s', 'modelship.json'), 'utf8')) as ModelMetadata;
    assert.equal(metadata.name, 'fashion');
  });

  it('fails with one clear line when the data set is missing', async () => {
    const r = await runAsRunner(trainStep, { dataset: 'nowhere', backend: 'cpu' }, { cwd: root });
    assert.equal(r.failed, true);
    assert.match(
      r.commands,
      /::error::train failed: dataset '.*nowhere' does not exist\.%0A {2}Pass the dataset-dir or manifest output of setup-data as dataset\./,
    );
  });
});

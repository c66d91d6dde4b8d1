import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile, cp, readdir, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { buildArchitecture } from '../../shared/model/architectures.ts';
import { loadModel, saveModel } from '../../shared/model/io.ts';
import type { ModelMetadata } from '../../shared/model/metadata.ts';
import { ConfigurationError } from '../../shared/util/errors.ts';

const metadata: ModelMetadata = {
  schemaVersion: 1,
  kind: 'modelship.model',
  task: 'classification',
  inputShape: [12, 12, 1],
  classes: ['a', 'b', 'c'],
  preprocessing: { scale: 1 / 255, offset: 0 },
  dataset: { digest: 'sha256:00', splits: { train: 'sha256:01' } },
  params: { architecture: 'cnn', epochs: 1, batchSize: 8, learningRate: 0.001, seed: 1, earlyStoppingPatience: 0 },
  backend: 'cpu',
  versions: { 'tfjs-core': tf.version_core },
  git: {},
  metrics: { epochsRun: 1 },
  training: { startedAt: '2026-01-01T00:00:00Z', finishedAt: '2026-01-01T00:00:01Z', durationSeconds: 1, samplesPerSecond: 1 },
};

describe('model folders: save and load', () => {
  let root: string;
  let good: string;
  before(async () => {
    await tf.setBackend('cpu');
    root = await mkdtemp(path.join(tmpdir(), 'modelship-io-'));
    good = path.join(root, 'good');
    const model = buildArchitecture('cnn', { inputShape: [12, 12, 1], numClasses: 3, seed: 9 });
    await saveModel(model, good, metadata, { history: [], modelCard: '# card\n' });
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  /** A copy of the good folder with model.json changed by `edit`. */
  async function variant(name: string, edit: (json: Record<string, unknown>) => void): Promise<string> {
    const dir = path.join(root, name);
    await cp(good, dir, { recursive: true });
    const json = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8')) as Record<string, unknown>;
    edit(json);
    await writeFile(path.join(dir, 'model.json'), JSON.stringify(json));
    return dir;
  }

  function manifest(json: Record<string, unknown>): { paths: string[] }[] {
    return json['weightsManifest'] as { paths: string[] }[];
  }

  it('round-trips weights, predictions and metadata, and leaves no temporary folders', async () => {
    const original = buildArchitecture('cnn', { inputShape: [12, 12, 1], numClasses: 3, seed: 9 });
    const loaded = await loadModel(good);
    assert.deepEqual(loaded.metadata, metadata);
    const x = tf.randomUniform([2, 12, 12, 1], 0, 1, 'float32', 3);
    const a = (original.predict(x) as tf.Tensor).dataSync();
    const b = (loaded.model.predict(x) as tf.Tensor).dataSync();
    assert.deepEqual(Array.from(b), Array.from(a));
    assert.deepEqual(
      (await readdir(root)).filter((f) => f.startsWith('.')),
      [],
    );
    assert.deepEqual((await readdir(good)).sort(), ['history.json', 'model-card.md', 'model.json', 'modelship.json', 'weights.bin']);
  });

  it('says plainly when a folder is not a model folder', async () => {
    const empty = path.join(root, 'empty');
    await mkdir(empty);
    await assert.rejects(loadModel(empty), (e: unknown) => {
      assert.ok(e instanceof ConfigurationError);
      assert.match(e.message, /'.*empty' is not a modelship model folder: no model\.json/);
      assert.equal(e.hint, 'Pass the model-dir output of train.');
      return true;
    });
    await assert.rejects(loadModel(path.join(root, 'missing')), /is not a modelship model folder: it does not exist/);
    await rm(empty, { recursive: true });
  });

  const rejections: { name: string; edit: (json: Record<string, unknown>) => void; error: RegExp }[] = [
    {
      name: 'parent',
      edit: (j) => (manifest(j)[0].paths = ['../weights.bin']),
      error: /weight path '\.\.\/weights\.bin' leaves the model folder/,
    },
    {
      name: 'nested-parent',
      edit: (j) => (manifest(j)[0].paths = ['sub/../../x.bin']),
      error: /weight path 'sub\/\.\.\/\.\.\/x\.bin' leaves the model folder/,
    },
    { name: 'absolute', edit: (j) => (manifest(j)[0].paths = ['/etc/passwd']), error: /weight path '\/etc\/passwd' is absolute or a URL/ },
    {
      name: 'url',
      edit: (j) => (manifest(j)[0].paths = ['https://example.com/w.bin']),
      error: /weight path 'https:\/\/example\.com\/w\.bin' is absolute or a URL/,
    },
    {
      name: 'file-url',
      edit: (j) => (manifest(j)[0].paths = ['file:///tmp/w.bin']),
      error: /weight path 'file:\/\/\/tmp\/w\.bin' is absolute or a URL/,
    },
    {
      name: 'bytes',
      edit: (j) => {
        const w = (j['weightsManifest'] as { weights: { shape: number[] }[] }[])[0].weights[0];
        w.shape = [w.shape[0] + 1, ...w.shape.slice(1)];
      },
      error: /weights\.bin holds \d+ bytes; model\.json describes \d+/,
    },
    {
      name: 'graph',
      edit: (j) => {
        j['format'] = 'graph-model';
        j['modelTopology'] = { node: [{ name: 'x', op: 'Placeholder' }], library: {}, versions: {} };
      },
      error: /is a graph-model model; only tfjs layers models are accepted/,
    },
    {
      name: 'lambda',
      edit: (j) => {
        const layers = (j['modelTopology'] as { config: { layers: unknown[] } }).config.layers;
        layers.splice(1, 0, { class_name: 'Lambda', config: { name: 'evil', function: 'process.exit(1)' } });
      },
      error: /layer class Lambda, which can run code or is not a built-in tfjs layer/,
    },
    {
      name: 'custom',
      edit: (j) => {
        const layers = (j['modelTopology'] as { config: { layers: unknown[] } }).config.layers;
        layers.push({ class_name: 'MyCustomLayer', config: { name: 'c' } });
      },
      error: /layer class MyCustomLayer/,
    },
    {
      name: 'nested-lambda',
      edit: (j) => {
        const layers = (j['modelTopology'] as { config: { layers: unknown[] } }).config.layers;
        layers.push({ class_name: 'TimeDistributed', config: { name: 't', layer: { class_name: 'Lambda', config: { name: 'l' } } } });
      },
      error: /layer class Lambda/,
    },
  ];
  for (const r of rejections) {
    it(`refuses ${r.name}`, async () => {
      const dir = await variant(r.name, r.edit);
      await assert.rejects(loadModel(dir), (e: unknown) => {
        assert.ok(e instanceof ConfigurationError, String(e));
        assert.match(e.message, r.error);
        return true;
      });
    });
  }

  it('refuses a missing weight file and a folder without modelship.json', async () => {
    const dir = await variant('noweights', () => undefined);
    await rm(path.join(dir, 'weights.bin'));
    await assert.rejects(loadModel(dir), /weight file 'weights\.bin' is missing/);
    const dir2 = await variant('nometa', () => undefined);
    await rm(path.join(dir2, 'modelship.json'));
    await assert.rejects(loadModel(dir2), /is not a modelship model folder: no modelship\.json/);
  });

  it('replaces an existing folder atomically on save', async () => {
    const dir = path.join(root, 'replace');
    await saveModel(buildArchitecture('mlp', { inputShape: [4], numClasses: 2, seed: 1 }), dir, {
      ...metadata,
      inputShape: [4],
      classes: ['x', 'y'],
    });
    await writeFile(path.join(dir, 'stale.txt'), 'old');
    await saveModel(buildArchitecture('mlp', { inputShape: [4], numClasses: 2, seed: 2 }), dir, {
      ...metadata,
      inputShape: [4],
      classes: ['x', 'y'],
    });
    assert.deepEqual((await readdir(dir)).sort(), ['model.json', 'modelship.json', 'weights.bin']);
    assert.equal((await readdir(root)).filter((f) => f.startsWith('.')).length, 0);
  });
});

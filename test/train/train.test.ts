import assert from 'node:assert/strict';
import { githubContextFrom, provenanceOf } from '../../shared/github/index.ts';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { loadManifest, readSplit } from '../../shared/data/load.ts';
import { loadModel } from '../../shared/model/io.ts';
import { predictProbabilities } from '../../shared/model/predict.ts';
import { preprocess } from '../../shared/model/preprocess.ts';
import { gatherBatch } from '../../shared/train/data.ts';
import { CHECKPOINT_DIR, readCheckpoint, train, TrainingInterrupted, type TrainOptions } from '../../shared/train/index.ts';
import { ConfigurationError } from '../../shared/util/errors.ts';
import { memoryLogger, type Logger } from '../../shared/util/log.ts';
import { writeSyntheticDataset } from './synthetic.ts';

const smallCnn = fileURLToPath(new URL('../fixtures/train/small-cnn.mjs', import.meta.url));

describe('train', () => {
  let root: string;
  let images: string;
  let noise: string;
  let tabular: string;
  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'modelship-train-'));
    images = await writeSyntheticDataset(path.join(root, 'images'), { counts: [96, 32, 32], size: 8 });
    noise = await writeSyntheticDataset(path.join(root, 'noise'), { kind: 'tabular', counts: [64, 64, 16], size: 16, randomLabels: true });
    tabular = await writeSyntheticDataset(path.join(root, 'tabular'), { kind: 'tabular', counts: [90, 30, 30], size: 6 });
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const ctx = (log: Logger = memoryLogger(), env: Record<string, string> = {}) => ({
    log,
    cwd: root,
    now: () => new Date(),
    provenance: provenanceOf(githubContextFrom(env, {}), undefined),
  });
  const opts = (over: Partial<TrainOptions>): TrainOptions => ({
    dataset: images,
    architecture: smallCnn,
    epochs: 2,
    batchSize: 16,
    learningRate: 0.01,
    seed: 11,
    backend: 'cpu',
    earlyStoppingPatience: 0,
    outputDir: path.join(root, 'out'),
    handleSignals: false,
    ...over,
  });
  const bytes = (dir: string, file = 'weights.bin') => readFile(path.join(dir, file));

  it('is reproducible: the same data, params and seed give identical weight bytes; another seed does not', async () => {
    const a = await train(opts({ outputDir: path.join(root, 'rep-a') }), ctx());
    const b = await train(opts({ outputDir: path.join(root, 'rep-b') }), ctx());
    const c = await train(opts({ outputDir: path.join(root, 'rep-c'), seed: 12 }), ctx());
    assert.ok((await bytes(a.modelDir)).equals(await bytes(b.modelDir)), 'same seed, same weights');
    assert.ok((await bytes(a.modelDir, 'model.json')).equals(await bytes(b.modelDir, 'model.json')));
    assert.ok(!(await bytes(a.modelDir)).equals(await bytes(c.modelDir)), 'another seed, other weights');
    assert.deepEqual(
      a.history.map((r) => [r.loss, r.valLoss]),
      b.history.map((r) => [r.loss, r.valLoss]),
    );
  });

  it('learns the synthetic task, writes the model folder and records what it was trained on', async () => {
    const env = {
      GITHUB_SHA: 'a1b2c3d4e5f6a7b8',
      GITHUB_REF: 'refs/pull/7/merge',
      GITHUB_REPOSITORY: 'acme/fashion',
      GITHUB_RUN_ID: '482',
      GITHUB_SERVER_URL: 'https://github.com',
    };
    const log = memoryLogger();
    const r = await train(opts({ outputDir: path.join(root, 'full'), epochs: 3, name: 'fashion' }), ctx(log, env));
    assert.ok(r.valAccuracy !== undefined && r.valAccuracy >= 0.9, `val accuracy ${r.valAccuracy}`);
    assert.deepEqual((await readdir(r.modelDir)).sort(), ['history.json', 'model-card.md', 'model.json', 'modelship.json', 'weights.bin']);
    const { metadata } = await loadModel(r.modelDir);
    const { manifest } = await loadManifest(images);
    assert.equal(metadata.dataset.digest, manifest.digest);
    assert.deepEqual(metadata.dataset.splits, { train: manifest.splits.train.digest, validation: manifest.splits.validation.digest });
    assert.deepEqual(metadata.params, {
      architecture: smallCnn,
      epochs: 3,
      batchSize: 16,
      learningRate: 0.01,
      seed: 11,
      earlyStoppingPatience: 0,
    });
    assert.equal(metadata.backend, 'cpu');
    assert.equal(metadata.versions['tfjs-core'], tf.version_core);
    assert.ok(metadata.versions['tfjs-layers']);
    assert.deepEqual(metadata.git, {
      commit: env.GITHUB_SHA,
      ref: env.GITHUB_REF,
      repository: 'acme/fashion',
      runUrl: 'https://github.com/acme/fashion/actions/runs/482',
    });
    assert.equal(metadata.name, 'fashion');
    assert.deepEqual(metadata.preprocessing, { scale: 1 / 255, offset: 0 });
    // The reference statistics travel with the model, so the server bins inputs as the data set was binned.
    assert.deepEqual(metadata.reference, { ...manifest.statistics, dtype: manifest.splits.train.x.dtype });
    assert.equal(metadata.metrics.epochsRun, 3);
    const history = JSON.parse(await readFile(r.historyPath, 'utf8')) as unknown[];
    assert.equal(history.length, 3);
    const card = await readFile(path.join(r.modelDir, 'model-card.md'), 'utf8');
    assert.ok(card.includes(manifest.digest), 'the card names the data digest');
    assert.match(card, /seed=11/);
    assert.match(card, /a1b2c3d4e5f6/);
    assert.match(
      log.lines.find((l) => l.startsWith('modelship train'))!,
      /^modelship train · .*small-cnn\.mjs · backend cpu \(requested\) · 96 train \/ 32 val$/,
    );
    assert.match(
      log.lines.find((l) => l.startsWith('epoch 1/3'))!,
      /^epoch 1\/3 {2}loss \d\.\d{3} {2}acc \d\.\d{3} {2}val_loss \d\.\d{3} {2}val_acc \d\.\d{3} {2}[\d,]+ samples\/s {2}ETA \d+s$/,
    );
  });

  it('keeps the tensor count flat across epochs', async () => {
    const counts: number[] = [];
    const base = memoryLogger();
    const log: Logger = { ...base, info: (m) => (m.startsWith('epoch ') ? counts.push(tf.memory().numTensors) : base.info(m)) };
    await train(opts({ outputDir: path.join(root, 'mem'), epochs: 4 }), ctx(log));
    assert.equal(counts.length, 4);
    assert.deepEqual(counts, new Array<number>(4).fill(counts[0]));
  });

  it('stops early when validation loss stops improving and keeps the best weights', async () => {
    const r = await train(
      opts({
        dataset: noise,
        architecture: 'mlp',
        outputDir: path.join(root, 'early'),
        epochs: 30,
        learningRate: 0.02,
        earlyStoppingPatience: 2,
      }),
      ctx(),
    );
    assert.equal(r.stoppedEarly, true);
    const best = r.metadata.metrics.bestEpoch!;
    assert.equal(r.history.length, best + 2);
    assert.ok(r.history.length < 30);
    const bestLoss = r.history[best - 1].valLoss!;
    assert.ok(r.history.slice(best).every((h) => h.valLoss! >= bestLoss));
    // The saved model is the best epoch's: its validation loss is the one recorded for that epoch.
    const { model, metadata } = await loadModel(r.modelDir);
    const ds = await loadManifest(noise);
    const val = await readSplit(ds, 'validation');
    const probs = await predictProbabilities(model, metadata, val.x, val.count);
    let loss = 0;
    for (let i = 0; i < val.count; i++) loss -= Math.log(Math.max(1e-7, probs[i * 3 + val.y[i]]));
    assert.ok(Math.abs(loss / val.count - bestLoss) < 1e-5, `${loss / val.count} vs ${bestLoss}`);
  });

  it('resumes an interrupted run from its last checkpoint to the same weights as an uninterrupted run', async () => {
    const whole = await train(opts({ outputDir: path.join(root, 'whole'), epochs: 3 }), ctx());
    const out = path.join(root, 'interrupted');
    const abort = new AbortController();
    const base = memoryLogger();
    const log: Logger = {
      ...base,
      info: (m) => {
        base.info(m);
        if (m.startsWith('epoch 1/3')) abort.abort();
      },
    };
    await assert.rejects(train(opts({ outputDir: out, epochs: 3, signal: abort.signal }), ctx(log)), (e: unknown) => {
      assert.ok(e instanceof TrainingInterrupted);
      assert.match(e.message, /during epoch 2; the last good checkpoint \(after epoch 1\) is in .*\.checkpoint/);
      assert.match(e.hint!, /resume-from: .*\.checkpoint/);
      return true;
    });
    const ck = await readCheckpoint(out);
    assert.equal(ck.state.epoch, 1);
    assert.deepEqual(await readdir(out), [CHECKPOINT_DIR]);
    const resumed = await train(opts({ outputDir: out, epochs: 3, resumeFrom: out }), ctx());
    assert.equal(resumed.resumedAfterEpoch, 1);
    assert.deepEqual(
      resumed.history.map((h) => h.epoch),
      [1, 2, 3],
    );
    assert.ok((await bytes(resumed.modelDir)).equals(await bytes(whole.modelDir)), 'resumed weights equal the uninterrupted run');
    assert.match(await readFile(path.join(out, 'model-card.md'), 'utf8'), /resumed after epoch 1/);
  });

  it('refuses to resume from a checkpoint of another run, or from a folder with none', async () => {
    const out = path.join(root, 'other');
    const abort = new AbortController();
    const base = memoryLogger();
    const log: Logger = { ...base, info: (m) => (base.info(m), m.startsWith('epoch 1/') && abort.abort()) };
    await assert.rejects(train(opts({ outputDir: out, epochs: 3, signal: abort.signal }), ctx(log)), TrainingInterrupted);
    await assert.rejects(
      train(opts({ outputDir: out, epochs: 3, seed: 99, resumeFrom: out }), ctx()),
      (e: unknown) => e instanceof ConfigurationError && /made by a different run \(seed 11 vs 99\)/.test(e.message),
    );
    await assert.rejects(
      train(opts({ outputDir: path.join(root, 'x'), resumeFrom: images }), ctx()),
      (e: unknown) => e instanceof ConfigurationError && /holds no checkpoint/.test(e.message),
    );
  });

  it('preprocesses for prediction exactly as for training (images and standardised tables)', async () => {
    for (const [dataset, architecture] of [
      [images, smallCnn],
      [tabular, 'mlp'],
    ] as const) {
      const r = await train(
        opts({ dataset, architecture, epochs: 1, outputDir: path.join(root, `prep-${path.basename(dataset)}`) }),
        ctx(),
      );
      const { model, metadata } = await loadModel(r.modelDir);
      const ds = await loadManifest(dataset);
      const split = await readSplit(ds, 'validation');
      const all = Array.from({ length: split.count }, (_, i) => i);
      const batch = gatherBatch(split, all, metadata.preprocessing);
      assert.deepEqual(preprocess(split.x, metadata), batch.x);
      const direct = tf.tidy(() => (model.predict(tf.tensor(batch.x, [split.count, ...metadata.inputShape])) as tf.Tensor).dataSync());
      assert.deepEqual(await predictProbabilities(model, metadata, split.x, split.count), direct);
      if (dataset === tabular) {
        assert.equal(metadata.preprocessing.mean?.length, 6);
        assert.ok(r.valAccuracy! > 0.8, `tabular val accuracy ${r.valAccuracy}`);
      }
    }
  });
});

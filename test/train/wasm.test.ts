/** Training on the wasm backend (the default where tfjs-node is absent): the built-in cnn trains and is reproducible. */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { train, type TrainOptions } from '../../shared/train/index.ts';
import { memoryLogger } from '../../shared/util/log.ts';
import { writeSyntheticDataset } from './synthetic.ts';

describe('train on wasm', () => {
  let root: string;
  let dataset: string;
  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'modelship-train-wasm-'));
    dataset = await writeSyntheticDataset(path.join(root, 'data'), { counts: [128, 32, 16], size: 12 });
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const opts = (outputDir: string): TrainOptions => ({
    dataset,
    architecture: 'cnn',
    epochs: 2,
    batchSize: 32,
    learningRate: 0.002,
    seed: 5,
    backend: 'wasm',
    earlyStoppingPatience: 0,
    outputDir: path.join(root, outputDir),
    handleSignals: false,
  });
  const ctx = () => ({ log: memoryLogger(), cwd: root, now: () => new Date() });

  it('trains the default cnn and gives identical weights on a re-run', async () => {
    const a = await train(opts('a'), ctx());
    const b = await train(opts('b'), ctx());
    assert.equal(a.backend, 'wasm');
    assert.ok(a.valAccuracy! > 0.6, `val accuracy ${a.valAccuracy}`);
    const wa = await readFile(path.join(a.modelDir, 'weights.bin'));
    const wb = await readFile(path.join(b.modelDir, 'weights.bin'));
    assert.ok(wa.equals(wb), 'same data, params, seed and backend give the same weight bytes');
  });
});

/**
 * Training on the wasm backend (the default where tfjs-node is absent): the built-in cnn trains, is
 * reproducible on one thread and data-parallel on two, resumes to the same bytes, and reports its
 * progress within epochs.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { train, TrainingInterrupted, type TrainOptions } from '../../shared/train/index.ts';
import { memoryLogger, type Logger } from '../../shared/util/log.ts';
import { writeSyntheticDataset } from './synthetic.ts';

describe('train on wasm', () => {
  let root: string;
  let dataset: string;
  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'modelship-train-wasm-'));
    // 16×16 images: large enough for the default augmentation (mirroring).
    dataset = await writeSyntheticDataset(path.join(root, 'data'), { counts: [128, 32, 16], size: 16 });
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const opts = (outputDir: string, over: Partial<TrainOptions> = {}): TrainOptions => ({
    dataset,
    architecture: 'cnn',
    // Enough steps (4 an epoch) for batch norm's moving statistics (momentum 0.9) to follow the data:
    // before they do, validation accuracy swings.
    epochs: 8,
    batchSize: 32,
    learningRate: 0.002,
    seed: 5,
    backend: 'wasm',
    earlyStoppingPatience: 0,
    outputDir: path.join(root, outputDir),
    handleSignals: false,
    ...over,
  });
  const ctx = (threads: '1' | '2', log: Logger = memoryLogger(), env: Record<string, string> = {}) => ({
    log,
    env: { MODELSHIP_TRAIN_THREADS: threads, ...env },
    cwd: root,
    now: () => new Date(),
  });
  const weights = (dir: string) => readFile(path.join(dir, 'weights.bin'));

  for (const threads of ['1', '2'] as const) {
    it(`trains the default cnn on ${threads} thread(s) and gives identical weights on a re-run`, async () => {
      const log = memoryLogger();
      const a = await train(opts(`a${threads}`), ctx(threads, log));
      const b = await train(opts(`b${threads}`), ctx(threads));
      assert.equal(a.backend, 'wasm');
      assert.ok(a.valAccuracy! > 0.6, `val accuracy ${a.valAccuracy}`);
      const recipe = log.lines.find((l) => l.startsWith('recipe: '));
      assert.match(recipe ?? '', threads === '2' ? /2 threads \(data-parallel\)/ : /1 thread$/);
      assert.match(recipe ?? '', /label smoothing 0\.1 · augmentation mirroring/);
      assert.ok(
        (await weights(a.modelDir)).equals(await weights(b.modelDir)),
        'same data, params, seed and backend give the same weight bytes',
      );
    });
  }

  it('resumes a data-parallel run from its checkpoint to the same weights as an uninterrupted run', async () => {
    const whole = await train(opts('whole', { epochs: 3 }), ctx('2'));
    const abort = new AbortController();
    const base = memoryLogger();
    const log: Logger = {
      ...base,
      info: (m) => {
        base.info(m);
        if (m.startsWith('epoch 1/3')) abort.abort();
      },
    };
    const out = path.join(root, 'interrupted');
    await assert.rejects(train(opts('interrupted', { epochs: 3, signal: abort.signal }), ctx('2', log)), TrainingInterrupted);
    const resumed = await train(opts('interrupted', { epochs: 3, resumeFrom: out }), ctx('2'));
    assert.equal(resumed.resumedAfterEpoch, 1);
    assert.ok((await weights(resumed.modelDir)).equals(await weights(whole.modelDir)), 'resumed weights equal the uninterrupted run');
  });

  it('prints progress lines within an epoch: position, running loss and accuracy, rate, ETA', async () => {
    const log = memoryLogger();
    await train(opts('progress', { epochs: 1, batchSize: 16 }), ctx('1', log, { MODELSHIP_PROGRESS_SECONDS: '0' }));
    const progress = log.lines.filter((l) => l.startsWith('  epoch 1/1 · '));
    assert.equal(progress.length, 128 / 16);
    assert.match(progress[0], /^ {2}epoch 1\/1 · 16\/128 {2}loss \d\.\d{3} {2}acc \d\.\d{3} {2}[\d,]+ samples\/s {2}ETA \d+s$/);
    assert.match(progress.at(-1)!, /· 128\/128 /);
  });
});

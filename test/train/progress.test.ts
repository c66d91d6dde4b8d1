import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { earlyStopping, epochLine, formatDuration, headerLine, progressLine, recipeLine } from '../../shared/train/progress.ts';
import { Prng, shuffledOrder } from '../../shared/util/prng.ts';

describe('formatDuration', () => {
  const cases: [number, string][] = [
    [0, '0s'],
    [4.4, '4s'],
    [59.6, '1m00s'],
    [138, '2m18s'],
    [3725, '1h02m'],
    [-1, '?'],
    [Number.NaN, '?'],
  ];
  for (const [s, want] of cases) it(`${s} → ${want}`, () => assert.equal(formatDuration(s), want));
});

describe('progress lines', () => {
  it('header: architecture, backend and why, example counts', () => {
    assert.equal(
      headerLine({
        architecture: 'cnn',
        backend: 'wasm',
        reason: "tfjs-node not installed (Cannot find package '@tensorflow/tfjs-node')",
        trainCount: 54000,
        valCount: 6000,
      }),
      'modelship train · cnn · backend wasm (tfjs-node not installed) · 54,000 train / 6,000 val',
    );
  });
  it('epoch line as in UX.md; no ETA on the last epoch; regression has no accuracy', () => {
    const r = { epoch: 1, loss: 0.5123, acc: 0.8149, valLoss: 0.3914, valAcc: 0.8611, samplesPerSecond: 1712.4, seconds: 34 };
    assert.equal(epochLine(r, 5, 138), 'epoch 1/5  loss 0.512  acc 0.815  val_loss 0.391  val_acc 0.861  1,712 samples/s  ETA 2m18s');
    assert.equal(epochLine({ ...r, epoch: 5 }, 5, 0), 'epoch 5/5  loss 0.512  acc 0.815  val_loss 0.391  val_acc 0.861  1,712 samples/s');
    assert.equal(epochLine({ epoch: 2, loss: 2.5, samplesPerSecond: 90, seconds: 1 }, 3, 1), 'epoch 2/3  loss 2.500  90 samples/s  ETA 1s');
  });
});

describe('earlyStopping', () => {
  type Best = { epoch: number; valLoss: number } | undefined;
  const cases: {
    name: string;
    best: Best;
    since: number;
    epoch: number;
    val: number | undefined;
    patience: number;
    want: { improved: boolean; since: number; stop: boolean; bestEpoch?: number };
  }[] = [
    {
      name: 'first epoch sets the best',
      best: undefined,
      since: 0,
      epoch: 1,
      val: 0.5,
      patience: 2,
      want: { improved: true, since: 0, stop: false, bestEpoch: 1 },
    },
    {
      name: 'improvement resets the count',
      best: { epoch: 1, valLoss: 0.5 },
      since: 1,
      epoch: 3,
      val: 0.4,
      patience: 2,
      want: { improved: true, since: 0, stop: false, bestEpoch: 3 },
    },
    {
      name: 'one worse epoch, patience 2: go on',
      best: { epoch: 1, valLoss: 0.5 },
      since: 0,
      epoch: 2,
      val: 0.6,
      patience: 2,
      want: { improved: false, since: 1, stop: false, bestEpoch: 1 },
    },
    {
      name: 'second worse epoch, patience 2: stop',
      best: { epoch: 1, valLoss: 0.5 },
      since: 1,
      epoch: 3,
      val: 0.6,
      patience: 2,
      want: { improved: false, since: 2, stop: true, bestEpoch: 1 },
    },
    {
      name: 'equal is not better',
      best: { epoch: 1, valLoss: 0.5 },
      since: 0,
      epoch: 2,
      val: 0.5,
      patience: 1,
      want: { improved: false, since: 1, stop: true, bestEpoch: 1 },
    },
    {
      name: 'patience 0 never stops',
      best: { epoch: 1, valLoss: 0.5 },
      since: 9,
      epoch: 11,
      val: 0.9,
      patience: 0,
      want: { improved: false, since: 10, stop: false, bestEpoch: 1 },
    },
    {
      name: 'NaN never improves',
      best: { epoch: 1, valLoss: 0.5 },
      since: 0,
      epoch: 2,
      val: Number.NaN,
      patience: 1,
      want: { improved: false, since: 1, stop: true, bestEpoch: 1 },
    },
    {
      name: 'no validation: no best, no stop',
      best: undefined,
      since: 0,
      epoch: 4,
      val: undefined,
      patience: 2,
      want: { improved: false, since: 0, stop: false },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = earlyStopping(c.best, c.since, c.epoch, c.val, c.patience);
      assert.deepEqual(
        { improved: got.improved, since: got.epochsSinceBest, stop: got.stop, bestEpoch: got.best?.epoch },
        { bestEpoch: undefined, ...c.want },
      );
    });
  }
});

describe('Prng', () => {
  it('continues the same stream from a saved state', () => {
    const a = new Prng(42);
    a.next();
    const b = Prng.fromState(a.getState());
    assert.deepEqual([a.next(), a.next()], [b.next(), b.next()]);
  });
  it('shuffles to a permutation, differently for different seeds', () => {
    const x = shuffledOrder(100, new Prng(1));
    assert.deepEqual(
      [...x].sort((p, q) => p - q),
      Array.from({ length: 100 }, (_, i) => i),
    );
    assert.notDeepEqual([...x], [...shuffledOrder(100, new Prng(2))]);
    assert.deepEqual([...x], [...shuffledOrder(100, new Prng(1))]);
  });
});

describe('progressLine', () => {
  it('says where the epoch is, the running loss and accuracy, the rate and the time left', () => {
    assert.equal(
      progressLine({
        epoch: 2,
        epochs: 15,
        done: 23040,
        total: 54000,
        loss: 0.4021,
        acc: 0.8579,
        samplesPerSecond: 3210.4,
        etaSeconds: 252,
      }),
      '  epoch 2/15 · 23,040/54,000  loss 0.402  acc 0.858  3,210 samples/s  ETA 4m12s',
    );
  });
  it('leaves out the accuracy for regression', () => {
    assert.equal(
      progressLine({ epoch: 1, epochs: 3, done: 500, total: 1000, loss: 12.5, samplesPerSecond: 90, etaSeconds: 30 }),
      '  epoch 1/3 · 500/1,000  loss 12.500  90 samples/s  ETA 30s',
    );
  });
});

describe('recipeLine', () => {
  it('names the rate, warm-up, decay, smoothing, augmentation and threads', () => {
    assert.equal(
      recipeLine({
        learningRate: 0.002,
        warmupSteps: 633,
        totalSteps: 12660,
        labelSmoothing: 0.1,
        augmentation: 'shifts ±2px',
        replicas: 2,
      }),
      'recipe: Adam 0.002, 633-step warm-up then cosine decay over 12,660 steps · label smoothing 0.1 · augmentation shifts ±2px · 2 threads (data-parallel)',
    );
    assert.equal(
      recipeLine({ learningRate: 0.01, warmupSteps: 0, totalSteps: 8, labelSmoothing: 0, augmentation: 'none', replicas: 1 }),
      'recipe: Adam 0.01, cosine decay over 8 steps · augmentation none · 1 thread',
    );
  });
});

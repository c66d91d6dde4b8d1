import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { defaultSchedule, FINAL_FRACTION, learningRateAt } from '../../shared/train/schedule.ts';

describe('learning-rate schedule (warm-up, then cosine decay)', () => {
  const s = defaultSchedule(0.002, 10, 100);

  it('warms up over the first 5% of the steps, linearly, to the base rate', () => {
    assert.equal(s.totalSteps, 1000);
    assert.equal(s.warmupSteps, 50);
    assert.ok(Math.abs(learningRateAt(s, 0) - 0.002 / 50) < 1e-15);
    assert.ok(Math.abs(learningRateAt(s, 24) - 0.001) < 1e-15);
    assert.ok(Math.abs(learningRateAt(s, 49) - 0.002) < 1e-15);
  });

  it('then decays by a cosine from the base rate to the final fraction at the last step', () => {
    assert.ok(Math.abs(learningRateAt(s, 50) - 0.002) < 1e-15);
    const mid = 50 + (1000 - 50 - 1) / 2;
    assert.ok(Math.abs(learningRateAt(s, mid) - 0.002 * (FINAL_FRACTION + (1 - FINAL_FRACTION) / 2)) < 1e-12);
    assert.ok(Math.abs(learningRateAt(s, 999) - 0.002 * FINAL_FRACTION) < 1e-15);
    const rates = Array.from({ length: 950 }, (_, i) => learningRateAt(s, 50 + i));
    assert.ok(
      rates.every((r, i) => i === 0 || r <= rates[i - 1]),
      'never rises after the warm-up',
    );
  });

  it('has no warm-up in very short runs, and a one-step run uses the final rate', () => {
    const short = defaultSchedule(0.01, 2, 4);
    assert.equal(short.warmupSteps, 0);
    assert.equal(learningRateAt(short, 0), 0.01);
    assert.ok(Math.abs(learningRateAt(short, 7) - 0.01 * FINAL_FRACTION) < 1e-15);
    assert.ok(Math.abs(learningRateAt(defaultSchedule(0.01, 1, 1), 0) - 0.01 * FINAL_FRACTION) < 1e-15);
  });

  it('depends only on the step, so a resumed run continues the same rates', () => {
    const again = defaultSchedule(0.002, 10, 100);
    for (const step of [0, 49, 50, 517, 999]) assert.equal(learningRateAt(again, step), learningRateAt(s, step));
  });
});

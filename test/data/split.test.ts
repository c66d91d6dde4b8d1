/** The split: input parsing, the bucketing rule, determinism, stability under added examples. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { assignSplit, parseSplit, splitPoint } from '../../shared/data/split.ts';
import { GIVEN_TEST, GIVEN_TRAIN, GIVEN_VALIDATION } from '../../shared/data/types.ts';
import { ConfigurationError } from '../../shared/util/errors.ts';

const digest = (i: number): Buffer => createHash('sha256').update(`example ${i}`).digest();

describe('parseSplit', () => {
  for (const [raw, want] of [
    ['80/10/10', [80, 10, 10]],
    [' 70/15/15 ', [70, 15, 15]],
    ['90/0/10', [90, 0, 10]],
    ['100/0/0', [100, 0, 0]],
  ] as const) {
    it(`${raw} → ${want.join(',')}`, () => assert.deepEqual(parseSplit(raw), want));
  }
  for (const [raw, why] of [
    ['80/10', /three whole percentages/],
    ['80/10/5', /adds up to 95/],
    ['80/-10/30', /three whole percentages/],
    ['80.5/9.5/10', /three whole percentages/],
    ['a/b/c', /three whole percentages/],
    ['0/50/50', /train 0%/],
    ['', /three whole percentages/],
  ] as const) {
    it(`refuses '${raw}' naming the input`, () => {
      assert.throws(
        () => parseSplit(raw),
        (err: unknown) => err instanceof ConfigurationError && /input 'split'/.test(err.message) && why.test(err.message),
      );
    });
  }
});

describe('assignSplit (pure rule)', () => {
  const r = [80, 10, 10] as const;
  for (const [point, given, carve, want] of [
    [0.0, undefined, 'v', GIVEN_TRAIN],
    [0.7999, undefined, 'v', GIVEN_TRAIN],
    [0.8, undefined, 'v', GIVEN_VALIDATION],
    [0.8999, undefined, 'v', GIVEN_VALIDATION],
    [0.9, undefined, 'v', GIVEN_TEST],
    [0.9999, undefined, 'v', GIVEN_TEST],
    [0.05, GIVEN_TRAIN, 'v', GIVEN_VALIDATION], // carved: below 10 %
    [0.1, GIVEN_TRAIN, 'v', GIVEN_TRAIN],
    [0.15, GIVEN_TRAIN, 'vt', GIVEN_TEST], // no given test either: the next 10 % go to test
    [0.2, GIVEN_TRAIN, 'vt', GIVEN_TRAIN],
    [0.05, GIVEN_TRAIN, 't', GIVEN_TEST], // the source gave validation but no test
    [0.05, GIVEN_TRAIN, '', GIVEN_TRAIN], // the source gave all three
    [0.05, GIVEN_TEST, 'v', GIVEN_TEST], // a given test split is never touched
    [0.5, GIVEN_VALIDATION, 'vt', GIVEN_VALIDATION],
  ] as const) {
    it(`point ${point}, given ${String(given)}, carve '${carve}' → ${want}`, () =>
      assert.equal(assignSplit(point, r, given, { validation: carve.includes('v'), test: carve.includes('t') }), want));
  }
});

describe('splitPoint', () => {
  it('is in [0, 1), deterministic, and depends on the seed', () => {
    const d = digest(1);
    const p = splitPoint(0, d);
    assert.ok(p >= 0 && p < 1);
    assert.equal(splitPoint(0, d), p);
    assert.notEqual(splitPoint(1, d), p);
  });
  it('spreads examples close to the ratios', () => {
    const counts = [0, 0, 0];
    for (let i = 0; i < 20000; i++) counts[assignSplit(splitPoint(7, digest(i)), [80, 10, 10], undefined)]++;
    assert.ok(Math.abs(counts[0] / 20000 - 0.8) < 0.015, `train share ${counts[0] / 20000}`);
    assert.ok(Math.abs(counts[1] / 20000 - 0.1) < 0.01, `validation share ${counts[1] / 20000}`);
  });
});

describe('stability: adding examples never moves old ones', () => {
  for (const [seed, ratios] of [
    [0, [80, 10, 10]],
    [42, [70, 15, 15]],
    [7, [60, 0, 40]],
  ] as const) {
    it(`seed ${seed}, split ${ratios.join('/')}`, () => {
      const assign = (n: number): number[] =>
        Array.from({ length: n }, (_, i) => assignSplit(splitPoint(seed, digest(i)), ratios, undefined));
      const before = assign(500);
      const after = assign(1500);
      assert.deepEqual(after.slice(0, 500), before);
      // ... and the same data in another order gets the same assignment per example.
      const shuffled = Array.from({ length: 500 }, (_, i) => 499 - i).map((i) =>
        assignSplit(splitPoint(seed, digest(i)), ratios, undefined),
      );
      assert.deepEqual(shuffled.reverse(), before);
    });
  }
});

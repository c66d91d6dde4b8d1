import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { augmentBatch, defaultAugmentation, NO_AUGMENTATION } from '../../shared/train/augment.ts';
import { Prng } from '../../shared/util/prng.ts';

/** A 4×5×1 image whose pixel (y, x) is 10·y + x + 1 (no zeros, so zero fill is visible). */
function image(): Uint8Array {
  const a = new Uint8Array(20);
  for (let y = 0; y < 4; y++) for (let x = 0; x < 5; x++) a[y * 5 + x] = 10 * y + x + 1;
  return a;
}

/** What one example becomes for a shift (dy, dx) and a flip, by the definition. */
function expected(src: Uint8Array, dy: number, dx: number, flip: boolean): number[] {
  const out: number[] = [];
  for (let y = 0; y < 4; y++) {
    for (let x = 0; x < 5; x++) {
      const sy = y + dy;
      const sx = (flip ? 4 - x : x) + dx;
      out.push(sy >= 0 && sy < 4 && sx >= 0 && sx < 5 ? src[sy * 5 + sx] : 0);
    }
  }
  return out;
}

describe('augmentBatch', () => {
  it('shifts each example by its own random offset with zero fill, and mirrors some', () => {
    const n = 200;
    const batch = new Uint8Array(n * 20);
    for (let i = 0; i < n; i++) batch.set(image(), i * 20);
    augmentBatch(batch, n, [4, 5, 1], { shift: 1, flip: true }, new Prng(3));
    // Replay the same draws to know each example's transform.
    const rng = new Prng(3);
    const seen = new Set<string>();
    for (let i = 0; i < n; i++) {
      const dy = rng.int(3) - 1;
      const dx = rng.int(3) - 1;
      const flip = rng.next() < 0.5;
      seen.add(`${dy},${dx},${flip}`);
      assert.deepEqual(Array.from(batch.subarray(i * 20, (i + 1) * 20)), expected(image(), dy, dx, flip), `example ${i}`);
    }
    assert.equal(seen.size, 18, 'every offset and both orientations occur');
  });

  it('is reproducible from the seed and leaves data alone without augmentation', () => {
    const a = new Float32Array(40).map((_, i) => i + 1);
    const b = a.slice();
    augmentBatch(a, 2, [4, 5, 1], { shift: 2, flip: false }, new Prng(9));
    augmentBatch(b, 2, [4, 5, 1], { shift: 2, flip: false }, new Prng(9));
    assert.deepEqual(a, b);
    const c = new Float32Array(40).map((_, i) => i + 1);
    augmentBatch(c, 2, [4, 5, 1], NO_AUGMENTATION, new Prng(9));
    assert.deepEqual(
      Array.from(c),
      Array.from({ length: 40 }, (_, i) => i + 1),
    );
  });

  it('moves all channels of a pixel together', () => {
    const x = new Uint8Array(4 * 5 * 3).map((_, i) => i + 1);
    const y = x.slice();
    augmentBatch(y, 1, [4, 5, 3], { shift: 0, flip: true }, { int: () => 0, next: () => 0 } as unknown as Prng);
    for (let r = 0; r < 4; r++) {
      for (let c = 0; c < 5; c++) {
        for (let k = 0; k < 3; k++) assert.equal(y[(r * 5 + c) * 3 + k], x[(r * 5 + (4 - c)) * 3 + k]);
      }
    }
  });

  it('mirrors images of 16×16 and more by default, nothing else', () => {
    assert.deepEqual(defaultAugmentation([28, 28, 1]), { shift: 0, flip: true });
    assert.deepEqual(defaultAugmentation([8, 8, 1]), NO_AUGMENTATION);
    assert.deepEqual(defaultAugmentation([13]), NO_AUGMENTATION);
  });
});

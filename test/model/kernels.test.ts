/**
 * modelship's wasm kernels against the CPU backend's: same random inputs, relative error < 1e-4
 * (max |wasm − cpu| / max |cpu|), across padding, stride, dilation, batch size and channel counts,
 * for both kernel sets (the C kernels and the TypeScript fallback).
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend, tf } from '../../shared/model/backend.ts';
import { registerWasmTrainingKernels, type KernelSet } from '../../shared/model/kernels/index.ts';
import { silentLogger } from '../../shared/util/log.ts';

type Attrs = Record<string, unknown>;
interface Input {
  shape: number[];
  values?: Float32Array;
}

const TOLERANCE = 1e-4;

/** Deterministic pseudo-random values in [-1, 1). */
function random(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 2 ** 32) * 2 - 1;
  }
  return out;
}

/** Runs one kernel on a backend with the given inputs; returns output values and shape. */
async function runOn(
  backend: 'cpu' | 'wasm',
  kernel: string,
  inputs: Record<string, Input>,
  attrs: Attrs,
  seed: number,
): Promise<{ values: Float32Array; shape: number[] }> {
  assert.equal(await tf.setBackend(backend), true);
  let k = seed;
  const tensors = Object.fromEntries(
    Object.entries(inputs).map(([name, inp]) => [
      name,
      tf.tensor(
        inp.values ??
          random(
            inp.shape.reduce((a, b) => a * b, 1),
            ++k,
          ),
        inp.shape,
        'float32',
      ),
    ]),
  );
  const out = tf.engine().runKernel<tf.Tensor>(kernel, tensors, attrs as tf.NamedAttrMap);
  const values = (await out.data()) as Float32Array;
  const shape = out.shape;
  out.dispose();
  for (const t of Object.values(tensors)) t.dispose();
  return { values, shape };
}

function relativeError(actual: Float32Array, expected: Float32Array): number {
  assert.equal(actual.length, expected.length);
  let diff = 0;
  let scale = 1e-30;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return diff / scale;
}

async function assertSame(kernel: string, inputs: Record<string, Input>, attrs: Attrs, seed = 7): Promise<void> {
  const cpu = await runOn('cpu', kernel, inputs, attrs, seed);
  const wasm = await runOn('wasm', kernel, inputs, attrs, seed);
  assert.deepEqual(wasm.shape, cpu.shape);
  const err = relativeError(wasm.values, cpu.values);
  assert.ok(err < TOLERANCE, `${kernel} relative error ${err.toExponential(2)} ≥ ${TOLERANCE}`);
}

/** [x shape NHWC, filter shape, stride, pad] */
const CONV_CASES: [number[], [number, number, number, number], number | [number, number], 'same' | 'valid'][] = [
  [[1, 7, 7, 1], [3, 3, 1, 4], 1, 'same'],
  [[2, 7, 7, 3], [3, 3, 3, 4], 1, 'valid'],
  [[2, 7, 7, 3], [3, 3, 3, 4], 2, 'same'],
  [[3, 8, 8, 3], [3, 3, 3, 5], 2, 'valid'],
  [[2, 9, 8, 2], [5, 3, 2, 5], [2, 1], 'valid'],
  [[2, 8, 8, 3], [2, 2, 3, 4], 2, 'same'],
  [[4, 6, 6, 8], [3, 3, 8, 6], 1, 'same'],
  [[2, 9, 9, 16], [3, 3, 16, 8], 2, 'same'],
  [[3, 10, 10, 12], [3, 3, 12, 4], 1, 'valid'],
  // 3×3 stride 1 with channel counts of multiples of 4 and 8: the Winograd F(2×2, 3×3) kernels,
  // odd and even sizes (partial tiles), 'same' and 'valid'.
  [[2, 6, 6, 8], [3, 3, 8, 16], 1, 'same'],
  [[3, 7, 9, 4], [3, 3, 4, 8], 1, 'same'],
  [[2, 9, 7, 12], [3, 3, 12, 8], 1, 'valid'],
  [[64, 6, 6, 32], [3, 3, 32, 64], 1, 'same'],
];

function outSize(inSize: number, f: number, s: number, pad: 'same' | 'valid'): number {
  return pad === 'same' ? Math.ceil(inSize / s) : Math.ceil((inSize - f + 1) / s);
}

before(async () => {
  const info = await initBackend('wasm', silentLogger);
  assert.equal(info.name, 'wasm');
});

for (const set of ['native', 'ts'] as const satisfies readonly KernelSet[]) {
  describe(`${set} kernels`, () => {
    before(() => {
      assert.equal(registerWasmTrainingKernels(set).set, set);
    });

    describe('Conv2D', () => {
      for (const [xShape, fShape, stride, pad] of CONV_CASES) {
        test(`x ${xShape.join('x')} filter ${fShape.join('x')} stride ${String(stride)} ${pad}`, async () => {
          await assertSame(
            'Conv2D',
            { x: { shape: xShape }, filter: { shape: fShape } },
            { strides: stride, pad, dataFormat: 'NHWC', dilations: 1 },
          );
        });
      }
      /** [x shape, filter shape, dilation, pad] */
      const dilated: [number[], number[], number | [number, number], 'same' | 'valid'][] = [
        [[2, 9, 9, 3], [3, 3, 3, 4], 2, 'valid'],
        [[2, 9, 10, 2], [3, 3, 2, 9], [2, 1], 'same'],
        [[1, 8, 8, 4], [2, 3, 4, 8], [1, 3], 'valid'],
      ];
      for (const [xShape, fShape, dilations, pad] of dilated) {
        test(`x ${xShape.join('x')} filter ${fShape.join('x')} dilation ${String(dilations)} ${pad}`, async () => {
          await assertSame(
            'Conv2D',
            { x: { shape: xShape }, filter: { shape: fShape } },
            { strides: 1, pad, dataFormat: 'NHWC', dilations },
          );
        });
      }
    });

    describe('FusedConv2D (bias, activation)', () => {
      /** [x shape, filter shape, stride, pad, activation] */
      const cases: [number[], [number, number, number, number], number, 'same' | 'valid', string][] = [
        [[2, 7, 7, 3], [3, 3, 3, 4], 1, 'same', 'relu'],
        [[3, 8, 8, 5], [3, 3, 5, 13], 2, 'valid', 'relu'],
        [[2, 6, 6, 8], [3, 3, 8, 16], 1, 'valid', 'linear'],
        [[2, 7, 7, 8], [3, 3, 8, 16], 1, 'same', 'relu'],
        [[1, 5, 5, 2], [1, 1, 2, 3], 1, 'same', 'relu'],
        [[2, 6, 6, 3], [3, 3, 3, 4], 1, 'same', 'elu'],
      ];
      for (const [xShape, fShape, stride, pad, activation] of cases) {
        test(`x ${xShape.join('x')} filter ${fShape.join('x')} stride ${stride} ${pad} ${activation}`, async () => {
          await assertSame(
            'FusedConv2D',
            { x: { shape: xShape }, filter: { shape: fShape }, bias: { shape: [fShape[3]] } },
            { strides: stride, pad, dataFormat: 'NHWC', dilations: 1, activation },
          );
        });
      }
    });

    describe('Conv2DBackpropFilter (missing from tfjs-backend-wasm)', () => {
      for (const [xShape, fShape, stride, pad] of CONV_CASES) {
        test(`x ${xShape.join('x')} filter ${fShape.join('x')} stride ${String(stride)} ${pad}`, async () => {
          const [sh, sw] = Array.isArray(stride) ? stride : [stride, stride];
          const dyShape = [xShape[0], outSize(xShape[1], fShape[0], sh, pad), outSize(xShape[2], fShape[1], sw, pad), fShape[3]];
          await assertSame(
            'Conv2DBackpropFilter',
            { x: { shape: xShape }, dy: { shape: dyShape } },
            { strides: stride, pad, dataFormat: 'NHWC', filterShape: fShape },
          );
        });
      }
    });

    describe('Conv2DBackpropInput (conv of the rotated filter)', () => {
      for (const [xShape, fShape, stride, pad] of CONV_CASES) {
        test(`x ${xShape.join('x')} filter ${fShape.join('x')} stride ${String(stride)} ${pad}`, async () => {
          const [sh, sw] = Array.isArray(stride) ? stride : [stride, stride];
          const dyShape = [xShape[0], outSize(xShape[1], fShape[0], sh, pad), outSize(xShape[2], fShape[1], sw, pad), fShape[3]];
          await assertSame(
            'Conv2DBackpropInput',
            { dy: { shape: dyShape }, filter: { shape: fShape } },
            { strides: stride, pad, dataFormat: 'NHWC', inputShape: xShape },
          );
        });
      }
    });

    describe('max-pool gradient through the tape (the forward pass records the winners)', () => {
      for (const shape of [
        [2, 8, 8, 4],
        [3, 7, 9, 8],
        [64, 6, 6, 32],
      ]) {
        test(`${shape.join('x')} with ties`, async () => {
          const n = shape.reduce((p, q) => p * q, 1);
          // Few distinct values: many windows hold their maximum twice (the first one wins).
          const values = random(n, 31).map((v) => Math.round(v * 2));
          const grad = async (backend: 'cpu' | 'wasm'): Promise<Float32Array> => {
            assert.equal(await tf.setBackend(backend), true);
            const x = tf.tensor(values, shape);
            const pooled = [shape[0], Math.floor(shape[1] / 2), Math.floor(shape[2] / 2), shape[3]];
            const w = tf.tensor(
              random(
                pooled.reduce((p, q) => p * q, 1),
                32,
              ),
              pooled,
            );
            const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(v as tf.Tensor4D, 2, 2, 'valid'), w)))(x);
            const out = (await g.data()) as Float32Array;
            tf.dispose([x, w, g]);
            return out;
          };
          const cpu = await grad('cpu');
          const wasm = await grad('wasm');
          assert.deepEqual(Array.from(wasm), Array.from(cpu));
        });
      }
    });

    describe('MaxPool', () => {
      /** [x shape, pool, stride, pad] */
      const cases: [number[], number, number, 'same' | 'valid'][] = [
        [[2, 8, 8, 4], 2, 2, 'valid'],
        [[3, 11, 9, 8], 2, 2, 'valid'],
        [[2, 7, 7, 4], 2, 2, 'same'],
        [[2, 8, 8, 3], 2, 2, 'valid'],
        [[1, 9, 9, 4], 3, 2, 'same'],
      ];
      for (const [xShape, pool, stride, pad] of cases) {
        test(`x ${xShape.join('x')} pool ${pool} stride ${stride} ${pad}`, async () => {
          await assertSame('MaxPool', { x: { shape: xShape } }, { filterSize: pool, strides: stride, pad });
        });
      }
    });

    describe('MaxPoolGrad', () => {
      /** [x shape, pool, stride, pad] */
      const cases: [number[], number, number, 'same' | 'valid'][] = [
        [[2, 8, 8, 3], 2, 2, 'valid'],
        [[3, 11, 11, 4], 2, 2, 'valid'],
        [[2, 7, 7, 3], 2, 2, 'same'],
        [[2, 8, 8, 3], 2, 2, 'same'],
        [[2, 9, 9, 2], 3, 2, 'same'],
        [[1, 7, 7, 5], 3, 1, 'same'],
        [[2, 10, 10, 8], 3, 2, 'valid'],
        [[2, 8, 8, 4], 2, 2, 'valid'],
        [[3, 11, 11, 12], 2, 2, 'valid'],
        [[2, 7, 7, 8], 2, 2, 'same'],
      ];
      for (const [xShape, pool, stride, pad] of cases) {
        test(`x ${xShape.join('x')} pool ${pool} stride ${stride} ${pad}`, async () => {
          const dyShape = [xShape[0], outSize(xShape[1], pool, stride, pad), outSize(xShape[2], pool, stride, pad), xShape[3]];
          await assertSame(
            'MaxPoolGrad',
            { dy: { shape: dyShape }, input: { shape: xShape }, output: { shape: dyShape } },
            { filterSize: pool, strides: stride, pad },
          );
        });
      }
    });

    describe('BatchMatMul with transposed operands', () => {
      /** [a shape, b shape, transposeA, transposeB] */
      const cases: [number[], number[], boolean, boolean][] = [
        [[1, 5, 7], [1, 7, 3], false, false],
        [[1, 7, 5], [1, 7, 3], true, false],
        [[1, 5, 7], [1, 3, 7], false, true],
        [[1, 7, 5], [1, 3, 7], true, true],
        [[1, 64, 130], [1, 64, 33], true, false],
        [[3, 5, 7], [3, 4, 7], false, true],
        [[1, 13, 40], [1, 40, 10], false, false],
        [[2, 40, 13], [2, 19, 40], true, true],
        [[1, 1, 9], [3, 9, 8], false, false],
        [[4, 7, 6], [1, 6, 16], false, false],
        [[64, 10], [10, 128], false, false],
        [[64, 1600], [64, 128], true, false],
        [[64, 128], [1600, 128], false, true],
      ];
      for (const [a, b, transposeA, transposeB] of cases) {
        test(`${a.join('x')}${transposeA ? 'ᵀ' : ''} × ${b.join('x')}${transposeB ? 'ᵀ' : ''}`, async () => {
          await assertSame('BatchMatMul', { a: { shape: a }, b: { shape: b } }, { transposeA, transposeB });
        });
      }
    });

    // Native only: the stock wasm _FusedMatMul disagrees with the CPU backend when an operand is
    // transposed (relative error 0.3–0.5 in tfjs-backend-wasm 4.22), and the ts set keeps it.
    if (set === 'native') {
      describe('_FusedMatMul (bias, activation)', () => {
        /** [a shape, b shape, transposeA, transposeB, activation] */
        const cases: [number[], number[], boolean, boolean, string][] = [
          [[1, 9, 20], [1, 20, 13], false, false, 'relu'],
          [[1, 20, 9], [1, 20, 13], true, false, 'relu'],
          [[1, 9, 20], [1, 13, 20], false, true, 'linear'],
          [[1, 20, 9], [1, 13, 20], true, true, 'relu'],
          [[1, 6, 5], [1, 5, 4], false, false, 'elu'],
        ];
        for (const [a, b, transposeA, transposeB, activation] of cases) {
          const n = transposeB ? b[1] : b[2];
          test(`${a.join('x')}${transposeA ? 'ᵀ' : ''} × ${b.join('x')}${transposeB ? 'ᵀ' : ''} + bias, ${activation}`, async () => {
            await assertSame(
              '_FusedMatMul',
              { a: { shape: a }, b: { shape: b }, bias: { shape: [n] } },
              { transposeA, transposeB, activation },
            );
          });
        }
      });
    }

    describe('Add (a bias over the last axis; other adds stock)', () => {
      const cases: [number[], number[]][] = [
        [[4, 5, 5, 6], [6]],
        [[3, 7], [7]],
        [[5], [2, 3, 5]],
        [
          [2, 3, 4],
          [2, 3, 4],
        ],
        [
          [2, 3, 4],
          [3, 1],
        ],
      ];
      for (const [a, b] of cases) {
        test(`${a.join('x')} + ${b.join('x')}`, async () => {
          await assertSame('Add', { a: { shape: a }, b: { shape: b } }, {});
        });
      }
    });

    describe('the ReLU gradient', () => {
      for (const shape of [[2, 5, 5, 3], [7], [3, 33]]) {
        test(shape.join('x'), async () => {
          const grad = async (backend: 'cpu' | 'wasm'): Promise<Float32Array> => {
            assert.equal(await tf.setBackend(backend), true);
            const n = shape.reduce((p, q) => p * q, 1);
            const x = tf.tensor(random(n, 3), shape);
            const w = tf.tensor(random(n, 4), shape);
            // Exact zeros take the zero branch.
            const xz = tf.mul(x, tf.cast(tf.greater(tf.abs(x), 0.1), 'float32'));
            const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.relu(v), w)))(xz);
            const values = (await g.data()) as Float32Array;
            tf.dispose([x, w, xz, g]);
            return values;
          };
          const cpu = await grad('cpu');
          const wasm = await grad('wasm');
          assert.deepEqual(Array.from(wasm), Array.from(cpu));
        });
      }
    });

    describe('a Conv2D layer in training (separate ops with lazy gradients on native kernels)', () => {
      /** [input shape, filters, kernel size, strides, padding, bias, activation] */
      const cases: [number[], number, number, number, 'same' | 'valid', boolean, 'linear' | 'relu'][] = [
        [[3, 9, 9, 1], 8, 3, 1, 'same', false, 'linear'],
        [[2, 8, 8, 4], 16, 3, 1, 'valid', true, 'relu'],
        [[2, 9, 9, 3], 5, 3, 2, 'same', true, 'linear'],
      ];
      for (const [shape, filters, kernelSize, strides, padding, useBias, activation] of cases) {
        test(`${shape.join('x')} → ${filters} filters ${kernelSize}×${kernelSize} stride ${strides} ${padding}${useBias ? ' bias' : ''} ${activation}`, async () => {
          const n = shape.reduce((p, q) => p * q, 1);
          const run = async (backend: 'cpu' | 'wasm') => {
            assert.equal(await tf.setBackend(backend), true);
            const layer = tfl.layers.conv2d({ filters, kernelSize, strides, padding, useBias, activation });
            layer.build(shape);
            const weights = layer.getWeights().map((w, i) => tf.tensor(random(w.size, 20 + i), w.shape));
            layer.setWeights(weights);
            const x = tf.tensor(random(n, 11), shape);
            const y = layer.apply(x, { training: true }) as tf.Tensor;
            const w = tf.tensor(random(y.size, 12), y.shape);
            const vars = layer.trainableWeights.map((v) => v.read() as tf.Variable);
            const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(x, { training: true }) as tf.Tensor, w)), vars);
            const dx = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(layer.apply(v, { training: true }) as tf.Tensor, w)))(x);
            const out = {
              y: (await y.data()) as Float32Array,
              dx: (await dx.data()) as Float32Array,
              grads: await Promise.all(vars.map(async (v) => (await grads[v.name].data()) as Float32Array)),
            };
            tf.dispose([x, y, w, value, dx, ...Object.values(grads), ...weights, ...vars]);
            return out;
          };
          const cpu = await run('cpu');
          const wasm = await run('wasm');
          for (const key of ['y', 'dx'] as const) {
            const err = relativeError(wasm[key], cpu[key]);
            assert.ok(err < TOLERANCE, `${key}: relative error ${err.toExponential(2)}`);
          }
          cpu.grads.forEach((g, i) => assert.ok(relativeError(wasm.grads[i], g) < TOLERANCE, `gradient ${i}`));
        });
      }
    });

    describe('batch normalisation in training (fused forward and gradient)', () => {
      for (const shape of [
        [2, 5, 5, 3],
        [4, 7],
        [3, 4, 4, 8],
        [64, 6, 6, 16],
      ]) {
        test(shape.join('x'), async () => {
          const c = shape.at(-1)!;
          const n = shape.reduce((p, q) => p * q, 1);
          const run = async (backend: 'cpu' | 'wasm') => {
            assert.equal(await tf.setBackend(backend), true);
            const layer = tfl.layers.batchNormalization({ momentum: 0.9, epsilon: 1e-3 });
            const x = tf.tensor(
              random(n, 5).map((v) => 3 * v + 1),
              shape,
            );
            layer.build(shape);
            layer.setWeights([
              tf.tensor(random(c, 6)),
              tf.tensor(random(c, 7)),
              tf.tensor(random(c, 8)),
              tf.tensor(random(c, 9).map((v) => v + 2)),
            ]);
            const w = tf.tensor(random(n, 10), shape);
            const [gamma, beta] = layer.trainableWeights.map((v) => v.read() as tf.Variable);
            const { value, grads } = tf.variableGrads(
              () => tf.sum(tf.mul(layer.apply(x, { training: true }) as tf.Tensor, w)),
              [gamma, beta],
            );
            const dx = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(layer.apply(v, { training: true }) as tf.Tensor, w)))(x);
            const y = layer.apply(x, { training: true }) as tf.Tensor;
            const out = {
              y: (await y.data()) as Float32Array,
              dx: (await dx.data()) as Float32Array,
              dgamma: (await grads[gamma.name].data()) as Float32Array,
              dbeta: (await grads[beta.name].data()) as Float32Array,
              moving: layer
                .getWeights()
                .slice(2)
                .map((t) => t.dataSync() as Float32Array),
            };
            tf.dispose([x, w, value, y, dx, ...Object.values(grads), ...layer.weights.map((v) => v.read())]);
            return out;
          };
          const cpu = await run('cpu');
          const wasm = await run('wasm');
          for (const key of ['y', 'dx', 'dgamma', 'dbeta'] as const) {
            const err = relativeError(wasm[key], cpu[key]);
            assert.ok(err < TOLERANCE, `${key}: relative error ${err.toExponential(2)}`);
          }
          for (let i = 0; i < 2; i++) assert.ok(relativeError(wasm.moving[i], cpu.moving[i]) < TOLERANCE, `moving statistic ${i}`);
        });
      }
    });

    describe('Sum', () => {
      const cases: [number[], number | number[], boolean][] = [
        [[4, 5, 5, 6], [0, 1, 2], false],
        [[4, 5, 5, 6], [0, 1, 2], true],
        [[7, 3], 0, false],
        [[4, 5, 6], [1], false],
        [[4, 5, 6], [0, 1, 2], false],
      ];
      for (const [shape, axis, keepDims] of cases) {
        test(`${shape.join('x')} over ${JSON.stringify(axis)}${keepDims ? ' keepDims' : ''}`, async () => {
          await assertSame('Sum', { x: { shape } }, { axis, keepDims });
        });
      }
    });

    describe('Mean', () => {
      const cases: [number[], number | number[], boolean][] = [
        [[4, 5, 5, 6], [0, 1, 2], false],
        [[4, 5, 5, 6], [0, 1, 2], true],
        [[4, 5, 6], [2], false],
      ];
      for (const [shape, axis, keepDims] of cases) {
        test(`${shape.join('x')} over ${JSON.stringify(axis)}${keepDims ? ' keepDims' : ''}`, async () => {
          await assertSame('Mean', { x: { shape } }, { axis, keepDims });
        });
      }
    });

    describe('Tile', () => {
      const cases: [number[], number[]][] = [
        [
          [1, 1, 1, 6],
          [4, 5, 5, 1],
        ],
        [
          [2, 3],
          [3, 2],
        ],
        [
          [3, 1, 2],
          [1, 4, 3],
        ],
        [[5], [3]],
        [
          [2, 2, 2],
          [1, 1, 1],
        ],
      ];
      for (const [shape, reps] of cases) {
        test(`${shape.join('x')} by ${reps.join('x')}`, async () => {
          await assertSame('Tile', { x: { shape } }, { reps });
        });
      }
    });
  });
}

test('Identity shares memory without a copy, and disposing the clone keeps the original', async () => {
  assert.equal(await tf.setBackend('wasm'), true);
  const x = tf.tensor([1, 2, 3, 4], [2, 2]);
  const y = tf.clone(x);
  assert.deepEqual(Array.from(await y.data()), [1, 2, 3, 4]);
  y.dispose();
  assert.deepEqual(Array.from(await x.data()), [1, 2, 3, 4]);
  x.dispose();
});

test('a CNN with conv, batchnorm, pooling, dropout and dense layers trains on wasm (loss falls)', async () => {
  assert.equal(await tf.setBackend('wasm'), true);
  // Two classes: a bright 4×4 square in the top-left versus the bottom-right corner, plus noise.
  const n = 128;
  const xs = random(n * 12 * 12, 99).map((v) => v * 0.1);
  const labels = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 2;
    labels[i] = c;
    const o = c === 0 ? 1 : 7;
    for (let r = 0; r < 4; r++) for (let q = 0; q < 4; q++) xs[i * 144 + (o + r) * 12 + (o + q)] += 1;
  }
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({
        inputShape: [12, 12, 1],
        filters: 8,
        kernelSize: 3,
        padding: 'same',
        kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }),
      }),
      tfl.layers.batchNormalization(),
      tfl.layers.activation({ activation: 'relu' }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.conv2d({
        filters: 8,
        kernelSize: 3,
        strides: 2,
        activation: 'relu',
        kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }),
      }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 16, activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed: 3 }) }),
      tfl.layers.dropout({ rate: 0.2 }),
      tfl.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 4 }) }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(0.01), loss: 'sparseCategoricalCrossentropy' });
  const x = tf.tensor4d(xs, [n, 12, 12, 1]);
  const y = tf.tensor2d(labels, [n, 1]);
  const h = await model.fit(x, y, { epochs: 6, batchSize: 32, shuffle: false, verbose: 0 });
  const losses = h.history['loss'] as number[];
  assert.equal(tf.getBackend(), 'wasm');
  assert.ok(losses.every(Number.isFinite));
  assert.ok(losses.at(-1)! < losses[0] * 0.5, `loss did not fall enough: ${losses.map((l) => l.toFixed(3)).join(' → ')}`);
  x.dispose();
  y.dispose();
  model.dispose();
});

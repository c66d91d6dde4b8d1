/**
 * Tile for wasm (float32): the stock kernel computes an index per output element; batchnorm's
 * gradient tiles per-channel vectors up to whole activations, which made Tile the largest kernel of
 * a training step with batchnorm (~100 ms of 350 for a batch of 64 at 28×28×32). Here the input is
 * copied once per innermost row and every repetition is a block copy (`copyWithin`).
 */
import { type KernelConfig, type KernelFunc, type NamedAttrMap, type TensorInfo, Tile } from '@tensorflow/tfjs-core';
import { f32, type BackendWasm } from './wasm.ts';

type Func = (args: { inputs: { x: TensorInfo }; backend: BackendWasm; attrs: NamedAttrMap }) => TensorInfo;

/** Writes x tiled by reps into out (row-major, shapes of equal rank). */
export function tileInto(x: Float32Array, out: Float32Array, shape: readonly number[], reps: readonly number[]): void {
  const rank = shape.length;
  // outBlock[d]: elements of the output sub-block spanned by dims d.. (one tile of dims d..).
  const outBlock = new Array<number>(rank + 1).fill(1);
  const inBlock = new Array<number>(rank + 1).fill(1);
  for (let d = rank - 1; d >= 0; d--) {
    outBlock[d] = outBlock[d + 1] * shape[d] * reps[d];
    inBlock[d] = inBlock[d + 1] * shape[d];
  }
  const fill = (d: number, src: number, dst: number): void => {
    const n = shape[d];
    const inner = outBlock[d + 1];
    if (d === rank - 1) {
      for (let i = 0; i < n; i++) out[dst + i] = x[src + i]!;
    } else {
      for (let i = 0; i < n; i++) fill(d + 1, src + i * inBlock[d + 1], dst + i * inner);
    }
    const once = n * inner;
    for (let r = 1; r < reps[d]; r++) out.copyWithin(dst + r * once, dst, dst + once);
  };
  if (rank === 0) {
    out[0] = x[0]!;
    return;
  }
  fill(0, 0, 0);
}

export function tileConfig(stock: Func): KernelConfig {
  const kernelFunc: Func = (args) => {
    const { inputs, backend, attrs } = args;
    const { x } = inputs;
    const reps = attrs['reps'] as number[];
    if (x.dtype !== 'float32' || reps.length !== x.shape.length) return stock(args);
    const out = backend.makeOutput(
      x.shape.map((s, i) => s * reps[i]),
      'float32',
    );
    tileInto(f32(backend, x), f32(backend, out), x.shape, reps);
    return out;
  };
  return { kernelName: Tile, backendName: 'wasm', kernelFunc: kernelFunc as unknown as KernelFunc };
}

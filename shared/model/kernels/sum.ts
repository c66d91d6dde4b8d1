/**
 * Sum and Mean for wasm over leading axes (a bias gradient, batchnorm's moments: [N, H, W, C] reduced
 * over N, H, W), which the stock kernels do by transposing the whole tensor first. Here one pass adds rows of the innermost
 * block; other reductions keep the stock kernel.
 */
import {
  backend_util,
  type KernelConfig,
  type KernelFunc,
  Mean,
  type NamedAttrMap,
  Sum,
  type TensorInfo,
  util,
} from '@tensorflow/tfjs-core';
import { f32, type BackendWasm } from './wasm.ts';

type Func = (args: { inputs: { x: TensorInfo }; backend: BackendWasm; attrs: NamedAttrMap }) => TensorInfo;

/** out[i] = Σ_o x[o·inner + i] (float64 accumulation). */
export function sumRows(x: Float32Array, out: Float32Array, outer: number, inner: number): void {
  const acc = new Float64Array(inner);
  for (let o = 0; o < outer; o++) {
    const base = o * inner;
    for (let i = 0; i < inner; i++) acc[i] = acc[i] + x[base + i];
  }
  out.set(acc);
}

/** Sum (or, with `mean`, Mean) over leading axes in one pass; other cases go to `stock`. */
export function fastSum(stock: Func, mean = false): Func {
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { x } = inputs;
    const axes = util.parseAxisParam(attrs['axis'] as number | number[], x.shape).sort((p, q) => p - q);
    const leading = axes.every((ax, i) => ax === i);
    if (x.dtype !== 'float32' || !leading || axes.length === 0 || axes.length === x.shape.length) return stock(args);
    const outer = util.sizeFromShape(x.shape.slice(0, axes.length));
    const inner = util.sizeFromShape(x.shape.slice(axes.length));
    let outShape = x.shape.slice(axes.length);
    if (attrs['keepDims'] === true) outShape = backend_util.expandShapeToKeepDim(outShape, axes);
    const out = backend.makeOutput(outShape, 'float32');
    const values = f32(backend, out);
    sumRows(f32(backend, x), values, outer, inner);
    if (mean) for (let i = 0; i < inner; i++) values[i] = values[i] / outer;
    return out;
  };
}

export function sumConfig(stock: Func): KernelConfig {
  return { kernelName: Sum, backendName: 'wasm', kernelFunc: fastSum(stock) as unknown as KernelFunc };
}

export function meanConfig(stock: Func): KernelConfig {
  return { kernelName: Mean, backendName: 'wasm', kernelFunc: fastSum(stock, true) as unknown as KernelFunc };
}

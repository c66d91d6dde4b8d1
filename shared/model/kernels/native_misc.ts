/**
 * MaxPool (2×2, stride 2), MaxPoolGrad and the leading-axes Sum and Mean (bias gradients, batch-norm moments) on modelship's
 * C kernels. MaxPoolGrad sends each window's gradient to its first maximum in row-major order, the
 * CPU backend's rule; the common 2×2 stride-2 pooling runs four channels at a time.
 */
import { backend_util, MaxPool, MaxPoolGrad, Mean, Sum, util } from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { Native } from './native.ts';
import type { BackendWasm } from './wasm.ts';

type Func = (args: { inputs: Record<string, TensorInfo | undefined>; backend: BackendWasm; attrs: NamedAttrMap }) => TensorInfo;

export function maxPoolGrad(
  nat: Native,
  backend: BackendWasm,
  dy: TensorInfo,
  input: TensorInfo,
  info: backend_util.Conv2DInfo,
): TensorInfo {
  const dx = backend.makeOutput(input.shape, 'float32');
  const { batchSize: b, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
  if (simple2x2(info)) {
    nat.k.maxpool_grad_2x2(nat.ptr(input), nat.ptr(dy), nat.ptr(dx), b, h, w, c, oh, ow);
    return dx;
  }
  const s = nat.scratch();
  try {
    nat.k.maxpool_grad(
      nat.ptr(input),
      nat.ptr(dy),
      nat.ptr(dx),
      b,
      h,
      w,
      c,
      oh,
      ow,
      info.effectiveFilterHeight,
      info.effectiveFilterWidth,
      info.strideHeight,
      info.strideWidth,
      info.dilationHeight,
      info.dilationWidth,
      info.padInfo.top,
      info.padInfo.left,
      s.f32(c),
      s.i32n(c),
    );
  } finally {
    s.release();
  }
  return dx;
}

/** 2×2 stride-2 pooling with every window inside the input and channels in fours. */
function simple2x2(info: backend_util.Conv2DInfo): boolean {
  return (
    info.effectiveFilterHeight === 2 &&
    info.effectiveFilterWidth === 2 &&
    info.strideHeight === 2 &&
    info.strideWidth === 2 &&
    info.padInfo.top === 0 &&
    info.padInfo.left === 0 &&
    2 * info.outHeight <= info.inHeight &&
    2 * info.outWidth <= info.inWidth &&
    info.inChannels % 4 === 0
  );
}

/** Sum (or Mean) over leading axes in one pass; undefined for other reductions. */
export function sumLeading(nat: Native, backend: BackendWasm, x: TensorInfo, attrs: NamedAttrMap, mean: boolean): TensorInfo | undefined {
  const axes = util.parseAxisParam(attrs['axis'] as number | number[], x.shape).sort((p, q) => p - q);
  const leading = axes.every((ax, i) => ax === i);
  if (x.dtype !== 'float32' || !leading || axes.length === 0 || axes.length === x.shape.length) return undefined;
  const outer = util.sizeFromShape(x.shape.slice(0, axes.length));
  const inner = util.sizeFromShape(x.shape.slice(axes.length));
  let outShape = x.shape.slice(axes.length);
  if (attrs['keepDims'] === true) outShape = backend_util.expandShapeToKeepDim(outShape, axes);
  const out = backend.makeOutput(outShape, 'float32');
  const s = nat.scratch();
  try {
    nat.k.sum_rows(nat.ptr(x), outer, inner, nat.ptr(out), s.f64(inner));
  } finally {
    s.release();
  }
  if (mean) {
    const values = backend.typedArrayFromHeap(out) as Float32Array;
    for (let i = 0; i < inner; i++) values[i] = values[i] / outer;
  }
  return out;
}

export function nativeMiscConfigs(nat: Native, stock: (name: string) => Func): KernelConfig[] {
  const poolGrad: Func = (args) => {
    const { dy, input } = args.inputs as { dy: TensorInfo; input: TensorInfo };
    const info = backend_util.computePool2DInfo(
      input.shape as [number, number, number, number],
      args.attrs['filterSize'] as [number, number] | number,
      args.attrs['strides'] as [number, number] | number,
      1,
      args.attrs['pad'] as 'valid' | 'same' | number,
      args.attrs['dimRoundingMode'] as 'floor' | 'round' | 'ceil' | undefined,
    );
    return maxPoolGrad(nat, args.backend, dy, input, info);
  };
  const pool: Func = (args) => {
    const { x } = args.inputs as { x: TensorInfo };
    if (x.dtype !== 'float32' || x.shape.length !== 4) return stock(MaxPool)(args);
    const info = backend_util.computePool2DInfo(
      x.shape as [number, number, number, number],
      args.attrs['filterSize'] as [number, number] | number,
      args.attrs['strides'] as [number, number] | number,
      1,
      args.attrs['pad'] as 'valid' | 'same' | number,
      args.attrs['dimRoundingMode'] as 'floor' | 'round' | 'ceil' | undefined,
    );
    if (!simple2x2(info)) return stock(MaxPool)(args);
    const y = args.backend.makeOutput([info.batchSize, info.outHeight, info.outWidth, info.outChannels], 'float32');
    nat.k.maxpool_2x2(nat.ptr(x), nat.ptr(y), info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth);
    return y;
  };
  const sum: Func = (args) => sumLeading(nat, args.backend, args.inputs['x']!, args.attrs, false) ?? stock(Sum)(args);
  const mean: Func = (args) => sumLeading(nat, args.backend, args.inputs['x']!, args.attrs, true) ?? stock(Mean)(args);
  return [
    { kernelName: MaxPool, backendName: 'wasm', kernelFunc: pool as unknown as KernelFunc },
    { kernelName: MaxPoolGrad, backendName: 'wasm', kernelFunc: poolGrad as unknown as KernelFunc },
    { kernelName: Sum, backendName: 'wasm', kernelFunc: sum as unknown as KernelFunc },
    { kernelName: Mean, backendName: 'wasm', kernelFunc: mean as unknown as KernelFunc },
  ];
}

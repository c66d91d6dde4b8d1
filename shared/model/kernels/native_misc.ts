/**
 * MaxPool (2×2, stride 2), MaxPoolGrad and the leading-axes Sum and Mean (bias gradients, batch-norm
 * moments) on modelship's C kernels. In training, MaxPool records which window position won (a byte per output value) and
 * MaxPoolGrad uses the record instead of reading the input again. MaxPoolGrad sends each window's
 * gradient to its first maximum in row-major order, the CPU backend's rule; the common 2×2
 * stride-2 pooling runs four channels at a time.
 */
import { backend_util, engine, MaxPool, MaxPoolGrad, Mean, Sum, util } from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { windows2x2Inside } from './max_pool_grad.ts';
import type { Native } from './native.ts';
import type { BackendWasm } from './wasm.ts';

type Func = (args: { inputs: Record<string, TensorInfo | undefined>; backend: BackendWasm; attrs: NamedAttrMap }) => TensorInfo;

/**
 * Which window position won, recorded by MaxPool under a gradient tape for MaxPoolGrad (one byte
 * per output value, on tfjs's heap), keyed by the output's data. Freed when tfjs frees that data.
 */
interface Argmax {
  readonly ptr: number;
  readonly inputShape: string;
}
const argmaxes = new WeakMap<BackendWasm, Map<object, Argmax>>();

function argmaxTable(nat: Native, backend: BackendWasm): Map<object, Argmax> {
  const known = argmaxes.get(backend);
  if (known) return known;
  const records = new Map<object, Argmax>();
  argmaxes.set(backend, records);
  // Free a record with the output it belongs to (when its last reference goes).
  const dispose = backend.disposeData.bind(backend);
  backend.disposeData = (dataId: object, force?: boolean): boolean => {
    const released = dispose(dataId, force);
    const record = released ? records.get(dataId) : undefined;
    if (record) {
      nat.free(record.ptr);
      records.delete(dataId);
    }
    return released;
  };
  return records;
}

/** 2×2 stride-2 max-pooling; `record`: keep the winners for the gradient. */
export function maxPool(nat: Native, backend: BackendWasm, x: TensorInfo, info: backend_util.Conv2DInfo, record: boolean): TensorInfo {
  const { batchSize: b, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const y = backend.makeOutput([b, oh, ow, c], 'float32');
  if (!record) {
    nat.k.maxpool_2x2(nat.ptr(x), nat.ptr(y), b, h, w, c, oh, ow);
    return y;
  }
  const arg = nat.malloc(b * oh * ow * c);
  nat.k.maxpool_2x2_argmax(nat.ptr(x), nat.ptr(y), arg, b, h, w, c, oh, ow);
  argmaxTable(nat, backend).set(y.dataId, { ptr: arg, inputShape: x.shape.join('x') });
  return y;
}

export function maxPoolGrad(
  nat: Native,
  backend: BackendWasm,
  dy: TensorInfo,
  input: TensorInfo,
  output: TensorInfo | undefined,
  info: backend_util.Conv2DInfo,
): TensorInfo {
  const dx = backend.makeOutput(input.shape, 'float32');
  const { batchSize: b, inHeight: h, inWidth: w, inChannels: c, outHeight: oh, outWidth: ow } = info;
  const recorded = output ? argmaxes.get(backend)?.get(output.dataId) : undefined;
  if (recorded && recorded.inputShape === input.shape.join('x') && simple2x2(info)) {
    nat.k.maxpool_grad_2x2_argmax(recorded.ptr, nat.ptr(dy), nat.ptr(dx), b, h, w, c, oh, ow);
    return dx;
  }
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
  return windows2x2Inside(info) && info.inChannels % 4 === 0;
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
    const { dy, input, output } = args.inputs as { dy: TensorInfo; input: TensorInfo; output?: TensorInfo };
    const info = backend_util.computePool2DInfo(
      input.shape as [number, number, number, number],
      args.attrs['filterSize'] as [number, number] | number,
      args.attrs['strides'] as [number, number] | number,
      1,
      args.attrs['pad'] as 'valid' | 'same' | number,
      args.attrs['dimRoundingMode'] as 'floor' | 'round' | 'ceil' | undefined,
    );
    return maxPoolGrad(nat, args.backend, dy, input, output, info);
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
    // Under a gradient tape (training), record the winners for MaxPoolGrad.
    return maxPool(nat, args.backend, x, info, engine().state.gradientDepth > 0);
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

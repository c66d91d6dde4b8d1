/**
 * 2-D convolutions (NHWC) on modelship's C kernels, forward and both gradients, all as one
 * matrix-product micro-kernel reading input patches in place (see native/kernels.c):
 *
 *   forward      out[p][co] = Σ_k patch(p)[k] · W[k][co] (+ bias, ReLU): `igemm`, the patch of output
 *                pixel p read from the (zero-padded) input as FH runs of FW·C contiguous floats;
 *   input grad   the full convolution of dy (spread onto the stride grid and padded) with the filter
 *                rotated 180° and its channel axes swapped: `igemm` again;
 *   filter grad  dW[k][co] = Σ_p patch(p)[k] · dy[p][co] over every output pixel: `gemm_tn`.
 *
 * Padding is a zero border copied once (`pad_spread`); stride and dilation are offsets. Other data
 * formats and activations go to the stock kernel given to the factory.
 */
import { backend_util, Conv2D, Conv2DBackpropFilter, Conv2DBackpropInput, FusedConv2D } from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import type { Native, Scratch } from './native.ts';
import type { BackendWasm } from './wasm.ts';

type Pad = 'valid' | 'same' | number | backend_util.ExplicitPadding;
type Func = (args: { inputs: Record<string, TensorInfo | undefined>; backend: BackendWasm; attrs: NamedAttrMap }) => TensorInfo;
type Native4 = [number, number, number, number];

/** Output widths up to this run on igemm_small (along K) instead of 8-column panels. */
export const SMALL_N = 4;

/** The input as the kernels read it: padded when the convolution pads, else the tensor itself. */
interface Source {
  ptr: number;
  h: number;
  w: number;
}

function paddedInput(n: Native, s: Scratch, x: TensorInfo, info: backend_util.Conv2DInfo): Source {
  const hp = (info.outHeight - 1) * info.strideHeight + info.effectiveFilterHeight;
  const wp = (info.outWidth - 1) * info.strideWidth + info.effectiveFilterWidth;
  const { top, left } = info.padInfo;
  if (top === 0 && left === 0 && hp <= info.inHeight && wp <= info.inWidth) return { ptr: n.ptr(x), h: info.inHeight, w: info.inWidth };
  const ptr = s.f32(info.batchSize * hp * wp * info.inChannels);
  n.k.pad_spread(n.ptr(x), info.batchSize, info.inHeight, info.inWidth, info.inChannels, 1, 1, top, left, hp, wp, ptr);
  return { ptr, h: hp, w: wp };
}

/** Segment offsets of one patch: FH runs of FW·C floats (dilated widths: FH·FW runs of C). */
function segments(info: backend_util.Conv2DInfo, w: number, c: number): { offsets: number[]; len: number } {
  const { filterHeight: fh, filterWidth: fw, dilationHeight: dh, dilationWidth: dw } = info;
  const offsets: number[] = [];
  if (dw === 1) {
    for (let kh = 0; kh < fh; kh++) offsets.push(kh * dh * w * c);
    return { offsets, len: fw * c };
  }
  for (let kh = 0; kh < fh; kh++) for (let kw = 0; kw < fw; kw++) offsets.push((kh * dh * w + kw * dw) * c);
  return { offsets, len: c };
}

/** out = conv(x, filter) (+ bias) (ReLU) for NHWC x and HWIO filter. */
/** Tiles per block of the Winograd kernel (its transformed tiles stay in cache). */
let winogradBlock = 60;
let winogradEnabled = process.env['MODELSHIP_WINOGRAD'] !== '0';

/** For benchmarks and tests: turn the Winograd path off or on, and set its block size. */
export function setWinograd(enabled: boolean, block = winogradBlock): void {
  winogradEnabled = enabled;
  winogradBlock = block;
}

/** 3×3, stride 1, no dilation, channel counts a multiple of 4: the Winograd F(2×2, 3×3) case. */
export function winogradEligible(info: backend_util.Conv2DInfo): boolean {
  return (
    winogradEnabled &&
    info.filterHeight === 3 &&
    info.filterWidth === 3 &&
    info.strideHeight === 1 &&
    info.strideWidth === 1 &&
    info.dilationHeight === 1 &&
    info.dilationWidth === 1 &&
    info.inChannels % 4 === 0 &&
    info.outChannels % 4 === 0 &&
    info.outChannels >= 8
  );
}

/**
 * out [b, oh, ow, co] = conv3×3(x [b, h, w, c] placed at (top, left) in a zero border) by Winograd
 * F(2×2, 3×3); `filter` is HWIO [3, 3, c, co].
 */
function winogradConv(
  n: Native,
  s: Scratch,
  g: { b: number; h: number; w: number; c: number; co: number; oh: number; ow: number; top: number; left: number },
  x: number,
  filter: number,
  bias: number,
  relu: boolean,
  out: number,
): void {
  const { b, h, w, c, co, oh, ow } = g;
  const th = Math.ceil(oh / 2);
  const tw = Math.ceil(ow / 2);
  const hp = 2 * th + 2;
  const wp = 2 * tw + 2;
  const xpad = s.f32(b * hp * wp * c);
  n.k.pad_spread(x, b, h, w, c, 1, 1, g.top, g.left, hp, wp, xpad);
  const u = s.f32(16 * c * co);
  n.k.wino_filter(filter, c, co, u);
  const panel = Math.ceil(co / 8) * 8 * c;
  const upack = s.f32(16 * panel);
  for (let e = 0; e < 16; e++) n.k.pack_b(u + 4 * e * c * co, c, co, co, 0, upack + 4 * e * panel);
  const tb = winogradBlock;
  n.k.wino_fwd(
    xpad,
    b,
    hp,
    wp,
    c,
    th,
    tw,
    upack,
    co,
    bias,
    relu ? 1 : 0,
    out,
    oh,
    ow,
    s.f32(16 * (tb * c + 16)),
    s.f32(16 * (tb * co + 16)),
    s.i32n(tb),
    tb,
  );
}

function winogradForward(
  n: Native,
  s: Scratch,
  x: number,
  info: backend_util.Conv2DInfo,
  filter: number,
  bias: number,
  relu: boolean,
  out: number,
): void {
  const g = {
    b: info.batchSize,
    h: info.inHeight,
    w: info.inWidth,
    c: info.inChannels,
    co: info.outChannels,
    oh: info.outHeight,
    ow: info.outWidth,
    top: info.padInfo.top,
    left: info.padInfo.left,
  };
  winogradConv(n, s, g, x, filter, bias, relu, out);
}

export function convForward(
  n: Native,
  backend: BackendWasm,
  x: TensorInfo,
  filter: TensorInfo,
  info: backend_util.Conv2DInfo,
  bias: TensorInfo | undefined,
  relu: boolean,
): TensorInfo {
  const s = n.scratch();
  try {
    if (winogradEligible(info)) {
      const out = backend.makeOutput([info.batchSize, info.outHeight, info.outWidth, info.outChannels], 'float32');
      winogradForward(n, s, n.ptr(x), info, n.ptr(filter), bias ? n.ptr(bias) : 0, relu, n.ptr(out));
      return out;
    }
    const src = paddedInput(n, s, x, info);
    const c = info.inChannels;
    const co = info.outChannels;
    const m = info.batchSize * info.outHeight * info.outWidth;
    const rowofs = s.i32n(m);
    n.k.conv_rowofs(info.batchSize, info.outHeight, info.outWidth, src.h, src.w, c, info.strideHeight, info.strideWidth, rowofs);
    const seg = segments(info, src.w, c);
    const k = seg.offsets.length * seg.len;
    const out = backend.makeOutput([info.batchSize, info.outHeight, info.outWidth, co], 'float32');
    const segofs = s.i32(seg.offsets);
    const biasPtr = bias ? n.ptr(bias) : 0;
    if (co <= SMALL_N) {
      const bt = s.f32(co * k);
      n.k.transpose2d(n.ptr(filter), k, co, bt);
      n.k.igemm_small(src.ptr, rowofs, m, segofs, seg.offsets.length, seg.len, bt, co, biasPtr, relu ? 1 : 0, n.ptr(out), co);
      return out;
    }
    const packed = s.f32(Math.ceil(co / 8) * 8 * k);
    n.k.pack_b(n.ptr(filter), k, co, co, 0, packed);
    n.k.igemm(src.ptr, rowofs, m, segofs, seg.offsets.length, seg.len, packed, co, biasPtr, relu ? 1 : 0, n.ptr(out), co);
    return out;
  } finally {
    s.release();
  }
}

/** dx for a convolution of x (inputShape) with filter, from dy (dilation 1, as tfjs's gradients). */
export function convBackpropInput(
  n: Native,
  backend: BackendWasm,
  dy: TensorInfo,
  filter: TensorInfo,
  info: backend_util.Conv2DInfo,
): TensorInfo {
  const { batchSize: b, inHeight: h, inWidth: w, inChannels: ci, outChannels: co, filterHeight: fh, filterWidth: fw } = info;
  const s = n.scratch();
  try {
    if (winogradEligible(info) && ci >= 8) {
      // Stride 1: dx is the convolution of dy, in a border of 2 − pad, with the rotated filter [3, 3, co, ci].
      const rotated = s.f32(9 * ci * co);
      n.k.rotate_filter(n.ptr(filter), 3, 3, ci, co, rotated);
      const dx = backend.makeOutput([b, h, w, ci], 'float32');
      const g = {
        b,
        h: info.outHeight,
        w: info.outWidth,
        c: co,
        co: ci,
        oh: h,
        ow: w,
        top: 2 - info.padInfo.top,
        left: 2 - info.padInfo.left,
      };
      winogradConv(n, s, g, n.ptr(dy), rotated, 0, false, n.ptr(dx));
      return dx;
    }
    // dy spread onto the stride grid, inside a border so that a 'valid' stride-1 convolution yields [h, w].
    const hp = h + fh - 1;
    const wp = w + fw - 1;
    const grid = s.f32(b * hp * wp * co);
    n.k.pad_spread(
      n.ptr(dy),
      b,
      info.outHeight,
      info.outWidth,
      co,
      info.strideHeight,
      info.strideWidth,
      fh - 1 - info.padInfo.top,
      fw - 1 - info.padInfo.left,
      hp,
      wp,
      grid,
    );
    const m = b * h * w;
    const rowofs = s.i32n(m);
    n.k.conv_rowofs(b, h, w, hp, wp, co, 1, 1, rowofs);
    const offsets: number[] = [];
    for (let kh = 0; kh < fh; kh++) offsets.push(kh * wp * co);
    const k = fh * fw * co;
    const dx = backend.makeOutput([b, h, w, ci], 'float32');
    if (ci <= SMALL_N) {
      // A first layer's input gradient (1 or 3 channels), which tfjs's fused convolution computes even though nothing uses it.
      const bt = s.f32(ci * k);
      n.k.pack_rot_t(n.ptr(filter), fh, fw, ci, co, bt);
      n.k.igemm_small(grid, rowofs, m, s.i32(offsets), fh, fw * co, bt, ci, 0, 0, n.ptr(dx), ci);
      return dx;
    }
    const packed = s.f32(Math.ceil(ci / 8) * 8 * k);
    n.k.pack_rot(n.ptr(filter), fh, fw, ci, co, packed);
    n.k.igemm(grid, rowofs, m, s.i32(offsets), fh, fw * co, packed, ci, 0, 0, n.ptr(dx), ci);
    return dx;
  } finally {
    s.release();
  }
}

/** dW [FH, FW, CI, CO] = Σ over output pixels of patch ⊗ dy. */
export function convBackpropFilter(
  n: Native,
  backend: BackendWasm,
  x: TensorInfo,
  dy: TensorInfo,
  info: backend_util.Conv2DInfo,
): TensorInfo {
  const { batchSize: b, inChannels: ci, outChannels: co, filterHeight: fh, filterWidth: fw } = info;
  const s = n.scratch();
  try {
    if (winogradEligible(info) && co % 8 === 0) {
      const th = Math.ceil(info.outHeight / 2);
      const tw = Math.ceil(info.outWidth / 2);
      const hp = 2 * th + 2;
      const wp = 2 * tw + 2;
      const xpad = s.f32(b * hp * wp * ci);
      n.k.pad_spread(n.ptr(x), b, info.inHeight, info.inWidth, ci, 1, 1, info.padInfo.top, info.padInfo.left, hp, wp, xpad);
      const dw = backend.makeOutput([fh, fw, ci, co], 'float32');
      const tb = winogradBlock;
      n.k.wino_dw(
        xpad,
        b,
        hp,
        wp,
        ci,
        th,
        tw,
        n.ptr(dy),
        info.outHeight,
        info.outWidth,
        co,
        n.ptr(dw),
        s.f32(16 * (tb * ci + 16)),
        s.f32(16 * (tb * co + 16)),
        s.f32(16 * ci * co),
        s.i32n(tb),
        s.i32n(ci),
        tb,
      );
      return dw;
    }
    const src = paddedInput(n, s, x, info);
    const p = b * info.outHeight * info.outWidth;
    const rowofs = s.i32n(p);
    n.k.conv_rowofs(b, info.outHeight, info.outWidth, src.h, src.w, ci, info.strideHeight, info.strideWidth, rowofs);
    const taps = fh * fw * ci;
    const tapofs = new Int32Array(taps);
    for (let kh = 0; kh < fh; kh++) {
      for (let kw = 0; kw < fw; kw++) {
        const base = (kh * info.dilationHeight * src.w + kw * info.dilationWidth) * ci;
        for (let c = 0; c < ci; c++) tapofs[(kh * fw + kw) * ci + c] = base + c;
      }
    }
    const dw = backend.makeOutput([fh, fw, ci, co], 'float32');
    gemmTnInto(n, s, src.ptr, rowofs, p, s.i32(tapofs), taps, n.ptr(dy), co, n.ptr(dw));
    return dw;
  } finally {
    s.release();
  }
}

/**
 * c [t, n] = Σ_p A(p, t) · d[p, :] with gemm_tn, which needs n to be a multiple of 8: other widths go
 * through zero-padded copies of d and c.
 */
export function gemmTnInto(
  n: Native,
  s: Scratch,
  a: number,
  rowofs: number,
  p: number,
  tapofs: number,
  t: number,
  d: number,
  width: number,
  c: number,
): void {
  const { k } = n;
  if (width % 8 === 0) {
    k.fill_zero(c, t * width);
    k.gemm_tn(a, rowofs, p, tapofs, t, d, width, width, c, width);
    return;
  }
  const w8 = Math.ceil(width / 8) * 8;
  const dp = s.f32(p * w8);
  k.fill_zero(dp, p * w8);
  k.copy2d(d, p, width, width, dp, w8);
  const cp = s.f32(t * w8);
  k.fill_zero(cp, t * w8);
  k.gemm_tn(a, rowofs, p, tapofs, t, dp, w8, w8, cp, w8);
  k.copy2d(cp, t, width, w8, c, width);
}

function convInfo(xShape: number[], filterShape: number[], attrs: NamedAttrMap): backend_util.Conv2DInfo {
  return backend_util.computeConv2DInfo(
    xShape as Native4,
    filterShape as Native4,
    attrs['strides'] as [number, number] | number,
    (attrs['dilations'] as [number, number] | number | undefined) ?? 1,
    attrs['pad'] as Pad,
    attrs['dimRoundingMode'] as 'floor' | 'round' | 'ceil' | undefined,
    false,
    'channelsLast',
  );
}

const nhwc = (attrs: NamedAttrMap): boolean => attrs['dataFormat'] === undefined || attrs['dataFormat'] === 'NHWC';

export function nativeConvConfigs(n: Native, stock: (name: string) => Func): KernelConfig[] {
  const conv2d: Func = (args) => {
    const { x, filter } = args.inputs as { x: TensorInfo; filter: TensorInfo };
    if (!nhwc(args.attrs) || x.dtype !== 'float32') return stock(Conv2D)(args);
    return convForward(n, args.backend, x, filter, convInfo(x.shape, filter.shape, args.attrs), undefined, false);
  };
  const fused: Func = (args) => {
    const { x, filter, bias, preluActivationWeights } = args.inputs;
    const activation = args.attrs['activation'] as string | undefined;
    const act = activation === undefined || activation === 'linear' ? 'linear' : activation;
    const co = filter!.shape[3];
    const biasOk = bias === undefined || (bias.shape.length === 1 && bias.shape[0] === co) || (bias.shape.length === 0 && co === 1);
    if (!nhwc(args.attrs) || (act !== 'linear' && act !== 'relu') || preluActivationWeights || !biasOk || x!.dtype !== 'float32')
      return stock(FusedConv2D)(args);
    return convForward(n, args.backend, x!, filter!, convInfo(x!.shape, filter!.shape, args.attrs), bias, act === 'relu');
  };
  const backpropInput: Func = (args) => {
    const { dy, filter } = args.inputs as { dy: TensorInfo; filter: TensorInfo };
    if (!nhwc(args.attrs)) throw new Error('wasm Conv2DBackpropInput supports only channelsLast (NHWC) data.');
    const info = convInfo(args.attrs['inputShape'] as number[], filter.shape, { ...args.attrs, dilations: 1 });
    return convBackpropInput(n, args.backend, dy, filter, info);
  };
  const backpropFilter: Func = (args) => {
    const { x, dy } = args.inputs as { x: TensorInfo; dy: TensorInfo };
    if (!nhwc(args.attrs)) throw new Error('wasm Conv2DBackpropFilter supports only channelsLast (NHWC) data.');
    const info = convInfo(x.shape, args.attrs['filterShape'] as number[], { ...args.attrs, dilations: 1 });
    return convBackpropFilter(n, args.backend, x, dy, info);
  };
  return [
    { kernelName: Conv2D, backendName: 'wasm', kernelFunc: conv2d as unknown as KernelFunc },
    { kernelName: FusedConv2D, backendName: 'wasm', kernelFunc: fused as unknown as KernelFunc },
    { kernelName: Conv2DBackpropInput, backendName: 'wasm', kernelFunc: backpropInput as unknown as KernelFunc },
    { kernelName: Conv2DBackpropFilter, backendName: 'wasm', kernelFunc: backpropFilter as unknown as KernelFunc },
  ];
}

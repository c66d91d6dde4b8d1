/**
 * Conv2DBackpropInput for wasm, replacing the stock one (a plain C++ loop at ~1 GMAC/s).
 *
 * The input gradient is the full convolution of dy with the filter rotated 180° and its channel axes
 * swapped: dx = conv2d(dy, W') with W'[kh,kw,co,c] = W[FH−1−kh, FW−1−kw, c, co] and padding
 * FH−1−padTop on top (likewise for the other sides). That runs on wasm's XNNPACK Conv2D (~10 GMAC/s).
 * For stride s > 1, dy is first spread onto a zero grid (every s-th pixel), padded, then convolved
 * with stride 1.
 */
import { backend_util, Conv2DBackpropInput, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { f32, free, run, type BackendWasm } from './wasm.ts';

interface Attrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  inputShape: [number, number, number, number];
}

/** W'[kh,kw,co,c] = W[FH−1−kh, FW−1−kw, c, co]. */
export function rotateFilter(w: Float32Array, out: Float32Array, fH: number, fW: number, inC: number, outC: number): void {
  for (let kh = 0; kh < fH; kh++) {
    for (let kw = 0; kw < fW; kw++) {
      const src = ((fH - 1 - kh) * fW + (fW - 1 - kw)) * inC * outC;
      const dst = (kh * fW + kw) * outC * inC;
      for (let c = 0; c < inC; c++) {
        for (let co = 0; co < outC; co++) out[dst + co * inC + c] = w[src + c * outC + co]!;
      }
    }
  }
}

export function conv2DBackpropInput(args: {
  inputs: { dy: TensorInfo; filter: TensorInfo };
  backend: BackendWasm;
  attrs: Attrs;
}): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { dy, filter } = inputs;
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs;
  if (dataFormat === 'NCHW') throw new Error('wasm Conv2DBackpropInput supports only channelsLast (NHWC) data.');
  const info = backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as [number, number, number, number],
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
  const {
    batchSize,
    inHeight,
    inWidth,
    inChannels,
    outHeight,
    outWidth,
    outChannels,
    filterHeight: fH,
    filterWidth: fW,
    strideHeight: sh,
    strideWidth: sw,
  } = info;
  const top = fH - 1 - info.padInfo.top;
  const left = fW - 1 - info.padInfo.left;
  const bottom = fH - 1 - info.padInfo.bottom;
  const right = fW - 1 - info.padInfo.right;

  const rotated = backend.makeOutput([fH, fW, outChannels, inChannels], 'float32');
  rotateFilter(f32(backend, filter), f32(backend, rotated), fH, fW, inChannels, outChannels);

  let source = dy;
  let convPad: backend_util.ExplicitPadding = [
    [0, 0],
    [top, bottom],
    [left, right],
    [0, 0],
  ];
  const simple = sh === 1 && sw === 1 && top >= 0 && left >= 0 && bottom >= 0 && right >= 0;
  if (!simple) {
    // Spread dy onto a zero grid already padded so a 'valid' stride-1 convolution yields [H, W].
    const gh = inHeight + fH - 1;
    const gw = inWidth + fW - 1;
    source = backend.makeOutput([batchSize, gh, gw, outChannels], 'float32');
    const grid = f32(backend, source);
    const d = f32(backend, dy);
    grid.fill(0);
    for (let n = 0; n < batchSize; n++) {
      for (let oh = 0; oh < outHeight; oh++) {
        const gy = top + oh * sh;
        if (gy < 0 || gy >= gh) continue;
        for (let ow = 0; ow < outWidth; ow++) {
          const gx = left + ow * sw;
          if (gx < 0 || gx >= gw) continue;
          const src = ((n * outHeight + oh) * outWidth + ow) * outChannels;
          grid.set(d.subarray(src, src + outChannels), ((n * gh + gy) * gw + gx) * outChannels);
        }
      }
    }
    convPad = [
      [0, 0],
      [0, 0],
      [0, 0],
      [0, 0],
    ];
  }
  const dx = run(
    backend,
    'Conv2D',
    { x: source, filter: rotated },
    { strides: [1, 1], pad: convPad, dataFormat: 'NHWC', dilations: [1, 1] },
  );
  free(backend, rotated);
  if (source !== dy) free(backend, source);
  return dx;
}

export const conv2DBackpropInputConfig: KernelConfig = {
  kernelName: Conv2DBackpropInput,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropInput as unknown as KernelFunc,
};

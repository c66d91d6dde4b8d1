/**
 * Conv2DBackpropFilter for wasm (tfjs-backend-wasm 4.22 has none, so `model.fit` of any CNN fails).
 *
 *   dW[kh,kw,c,co] = Σ_{n,oh,ow} x[n, oh·sh + kh − pt, ow·sw + kw − pl, c] · dy[n,oh,ow,co]
 *
 * The input patches are unfolded transposed (im2colᵀ: one row per filter tap (kh,kw,c), one column
 * per output pixel) straight into wasm memory from x in channel-major layout, then one matrix product colsᵀ [K, M] × dy [M, CO]
 * runs on wasm's BatchMatMul. That is its no-transpose, batch-1 case, the only one wasm hands to
 * XNNPACK (~11 GMAC/s here; a batched or transposed product runs a plain loop at ~1 GMAC/s, and the
 * same gradient written as an XNNPACK convolution measured ~4 GMAC/s).
 */
import { backend_util, Conv2DBackpropFilter, type KernelConfig, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import { f32, free, matMul, reshape, transpose, type BackendWasm } from './wasm.ts';

interface Attrs {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
}

/** Geometry of one 2-D convolution, NHWC, as the unfold loops need it. */
export interface ConvGeometry {
  batch: number;
  inH: number;
  inW: number;
  inC: number;
  outH: number;
  outW: number;
  fH: number;
  fW: number;
  strideH: number;
  strideW: number;
  dilationH: number;
  dilationW: number;
  padTop: number;
  padLeft: number;
}

export function geometry(info: backend_util.Conv2DInfo): ConvGeometry {
  return {
    batch: info.batchSize,
    inH: info.inHeight,
    inW: info.inWidth,
    inC: info.inChannels,
    outH: info.outHeight,
    outW: info.outWidth,
    fH: info.filterHeight,
    fW: info.filterWidth,
    strideH: info.strideHeight,
    strideW: info.strideWidth,
    dilationH: info.dilationHeight,
    dilationW: info.dilationWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

/**
 * Writes colsᵀ[(kh·fW + kw)·C + c][(n·OH + oh)·OW + ow] = x[c, n, ih, iw] (0 outside the input),
 * reading x in channel-major layout [C, N, H, W], so every output row is filled from contiguous
 * runs of an input row (about 2× faster than unfolding from NHWC when C is large).
 */
export function unfoldTransposed(xCnhw: Float32Array, cols: Float32Array, g: ConvGeometry): void {
  const { batch, inH, inW, inC, outH, outW, fH, fW, strideH, strideW, dilationH, dilationW, padTop, padLeft } = g;
  const m = batch * outH * outW;
  for (let kh = 0; kh < fH; kh++) {
    for (let kw = 0; kw < fW; kw++) {
      const iw0 = kw * dilationW - padLeft;
      // Output columns whose input column is inside the image: [owLo, owHi).
      let owLo = 0;
      while (owLo < outW && iw0 + owLo * strideW < 0) owLo++;
      let owHi = outW;
      while (owHi > owLo && iw0 + (owHi - 1) * strideW >= inW) owHi--;
      for (let c = 0; c < inC; c++) {
        let dst = ((kh * fW + kw) * inC + c) * m;
        for (let n = 0; n < batch; n++) {
          const plane = (c * batch + n) * inH;
          for (let oh = 0; oh < outH; oh++, dst += outW) {
            const ih = oh * strideH + kh * dilationH - padTop;
            if (ih < 0 || ih >= inH) {
              for (let ow = 0; ow < outW; ow++) cols[dst + ow] = 0;
              continue;
            }
            for (let ow = 0; ow < owLo; ow++) cols[dst + ow] = 0;
            let src = (plane + ih) * inW + iw0 + owLo * strideW;
            for (let ow = owLo; ow < owHi; ow++, src += strideW) cols[dst + ow] = xCnhw[src];
            for (let ow = owHi; ow < outW; ow++) cols[dst + ow] = 0;
          }
        }
      }
    }
  }
}

export function conv2DBackpropFilter(args: { inputs: { x: TensorInfo; dy: TensorInfo }; backend: BackendWasm; attrs: Attrs }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { x, dy } = inputs;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs;
  if (dataFormat === 'NCHW') throw new Error('wasm Conv2DBackpropFilter supports only channelsLast (NHWC) data.');
  const info = backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
  const g = geometry(info);
  const k = g.fH * g.fW * g.inC;
  const m = g.batch * g.outH * g.outW;
  // [N, H, W, C] → [C, N, H, W] (nothing to move for one channel).
  const xCnhw = g.inC === 1 ? x : transpose(backend, x, [3, 0, 1, 2]);
  const cols = backend.makeOutput([1, k, m], 'float32');
  unfoldTransposed(f32(backend, xCnhw), f32(backend, cols), g);
  if (xCnhw !== x) free(backend, xCnhw);
  const dy2 = reshape(backend, dy, [1, m, info.outChannels]);
  const prod = matMul(backend, cols, dy2);
  free(backend, cols, dy2);
  const dw = reshape(backend, prod, filterShape);
  free(backend, prod);
  return dw;
}

export const conv2DBackpropFilterConfig: KernelConfig = {
  kernelName: Conv2DBackpropFilter,
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilter as unknown as KernelFunc,
};

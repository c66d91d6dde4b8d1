/**
 * MaxPoolGrad for wasm, replacing the stock C++ kernel (the slowest kernel of a CNN training step).
 * One pass over the pooling windows: find each window's first maximum (row-major order, the CPU
 * backend's tie rule) per channel, add dy there. Channels are the inner loop, so reads are contiguous.
 */
import { backend_util, type KernelConfig, type KernelFunc, MaxPoolGrad, type TensorInfo } from '@tensorflow/tfjs-core';
import { f32, type BackendWasm } from './wasm.ts';

interface Attrs {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** The common 2×2, stride 2 pooling with every window inside the input: four loads and compares per channel. */
function maxPoolBackprop2x2(x: Float32Array, dy: Float32Array, dx: Float32Array, info: backend_util.Conv2DInfo): void {
  const { batchSize, inHeight, inWidth, inChannels: c, outHeight, outWidth } = info;
  const row = inWidth * c;
  dx.fill(0);
  let o = 0;
  for (let n = 0; n < batchSize; n++) {
    for (let oh = 0; oh < outHeight; oh++) {
      let p = (n * inHeight + oh * 2) * row;
      for (let ow = 0; ow < outWidth; ow++, p += 2 * c) {
        for (let ch = 0; ch < c; ch++, o++) {
          const i0 = p + ch;
          let at = -1;
          let best = -Infinity;
          let v = x[i0];
          if (v > best) {
            best = v;
            at = i0;
          }
          v = x[i0 + c];
          if (v > best) {
            best = v;
            at = i0 + c;
          }
          v = x[i0 + row];
          if (v > best) {
            best = v;
            at = i0 + row;
          }
          v = x[i0 + row + c];
          if (v > best) at = i0 + row + c;
          if (at >= 0) dx[at] = dy[o];
        }
      }
    }
  }
}

/**
 * 2×2 windows at stride 2, every one inside the input (an effective size of 2 is a 2×2 filter
 * without dilation): the pooling the fast paths take.
 */
export function windows2x2Inside(info: backend_util.Conv2DInfo): boolean {
  return (
    info.effectiveFilterHeight === 2 &&
    info.effectiveFilterWidth === 2 &&
    info.strideHeight === 2 &&
    info.strideWidth === 2 &&
    info.padInfo.top === 0 &&
    info.padInfo.left === 0 &&
    2 * info.outHeight <= info.inHeight &&
    2 * info.outWidth <= info.inWidth
  );
}

export function maxPoolBackprop(x: Float32Array, dy: Float32Array, dx: Float32Array, info: backend_util.Conv2DInfo): void {
  if (windows2x2Inside(info)) {
    maxPoolBackprop2x2(x, dy, dx, info);
    return;
  }
  const {
    batchSize,
    inHeight,
    inWidth,
    inChannels: c,
    outHeight,
    outWidth,
    strideHeight,
    strideWidth,
    dilationHeight,
    dilationWidth,
  } = info;
  const fH = info.effectiveFilterHeight;
  const fW = info.effectiveFilterWidth;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const best = new Float32Array(c);
  const where = new Int32Array(c);
  dx.fill(0);
  for (let n = 0; n < batchSize; n++) {
    for (let oh = 0; oh < outHeight; oh++) {
      const h0 = oh * strideHeight - top;
      for (let ow = 0; ow < outWidth; ow++) {
        const w0 = ow * strideWidth - left;
        best.fill(-Infinity);
        where.fill(-1);
        for (let kh = 0; kh < fH; kh += dilationHeight) {
          const ih = h0 + kh;
          if (ih < 0 || ih >= inHeight) continue;
          for (let kw = 0; kw < fW; kw += dilationWidth) {
            const iw = w0 + kw;
            if (iw < 0 || iw >= inWidth) continue;
            const base = ((n * inHeight + ih) * inWidth + iw) * c;
            for (let ch = 0; ch < c; ch++) {
              const v = x[base + ch];
              if (v > best[ch]) {
                best[ch] = v;
                where[ch] = base + ch;
              }
            }
          }
        }
        const o = ((n * outHeight + oh) * outWidth + ow) * c;
        for (let ch = 0; ch < c; ch++) {
          const at = where[ch];
          if (at >= 0) dx[at] = dx[at] + dy[o + ch];
        }
      }
    }
  }
}

export function maxPoolGrad(args: { inputs: { dy: TensorInfo; input: TensorInfo }; backend: BackendWasm; attrs: Attrs }): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { dy, input } = inputs;
  const info = backend_util.computePool2DInfo(
    input.shape as [number, number, number, number],
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const dx = backend.makeOutput(input.shape, 'float32');
  maxPoolBackprop(f32(backend, input), f32(backend, dy), f32(backend, dx), info);
  return dx;
}

export const maxPoolGradConfig: KernelConfig = {
  kernelName: MaxPoolGrad,
  backendName: 'wasm',
  kernelFunc: maxPoolGrad as unknown as KernelFunc,
};

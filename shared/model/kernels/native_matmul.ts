/**
 * BatchMatMul and _FusedMatMul (bias, ReLU) on modelship's C kernels, for every combination of
 * transposed operands: a product with A as stored goes to `igemm` (B packed, transposed or not, in
 * panels of 8 columns); one with Aᵀ (a dense layer's weight gradient, xᵀ·dy) goes to `gemm_tn`, which
 * reads A in place. Broadcast batches of unequal rank, other dtypes and other activations keep the
 * stock kernel.
 */
import { _FusedMatMul, BatchMatMul, util } from '@tensorflow/tfjs-core';
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs-core';
import { gemmTnInto, SMALL_N } from './native_conv.ts';
import type { Native } from './native.ts';
import type { BackendWasm } from './wasm.ts';

type Func = (args: { inputs: Record<string, TensorInfo | undefined>; backend: BackendWasm; attrs: NamedAttrMap }) => TensorInfo;

interface Product {
  a: TensorInfo;
  b: TensorInfo;
  transposeA: boolean;
  transposeB: boolean;
  bias?: TensorInfo;
  relu: boolean;
}

/** The output shape and batch strides, or undefined when the batch dims broadcast in a way not handled here. */
function plan(
  p: Product,
): { outShape: number[]; batch: number; strideA: number; strideB: number; m: number; k: number; n: number } | undefined {
  const { a, b, transposeA, transposeB } = p;
  const ra = a.shape.length;
  const rb = b.shape.length;
  if (ra < 2 || rb < 2) return undefined;
  const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
  const k = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
  const k2 = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
  const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
  if (k !== k2) return undefined;
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const batchA = util.sizeFromShape(outerA);
  const batchB = util.sizeFromShape(outerB);
  let outer: number[];
  if (util.arraysEqual(outerA, outerB)) outer = outerA;
  else if (batchB === 1) outer = outerA;
  else if (batchA === 1) outer = outerB;
  else return undefined;
  return {
    outShape: [...outer, m, n],
    batch: Math.max(batchA, batchB),
    strideA: batchA === 1 ? 0 : m * k,
    strideB: batchB === 1 ? 0 : k * n,
    m,
    k,
    n,
  };
}

export function matMul(nat: Native, backend: BackendWasm, p: Product): TensorInfo | undefined {
  const shape = plan(p);
  if (!shape) return undefined;
  const { outShape, batch, strideA, strideB, m, k, n } = shape;
  const { k: kern } = nat;
  const out = backend.makeOutput(outShape, 'float32');
  const s = nat.scratch();
  try {
    const c0 = nat.ptr(out);
    const a0 = nat.ptr(p.a);
    const b0 = nat.ptr(p.b);
    if (m * n === 0) return out;
    if (k === 0) {
      kern.fill_zero(c0, batch * m * n);
      return out;
    }
    const bias = p.bias ? nat.ptr(p.bias) : 0;
    // Aᵀ with a bias or ReLU to fuse: transpose A once and take the igemm path.
    const transposeFirst = p.transposeA && (bias !== 0 || p.relu);
    const packed = s.f32(Math.ceil(n / 8) * 8 * k);
    const rowofs = !p.transposeA || transposeFirst ? s.i32n(m) : s.i32n(k);
    const at = transposeFirst ? s.f32(m * k) : 0;
    const tapofs = p.transposeA && !transposeFirst ? s.i32n(m) : 0;
    const bt = p.transposeA && !transposeFirst && p.transposeB ? s.f32(k * n) : 0;
    const seg = s.i32([0]);
    if (!p.transposeA || transposeFirst) kern.iota(rowofs, m, k);
    else {
      kern.iota(rowofs, k, m);
      kern.iota(tapofs, m, 1);
    }
    for (let i = 0; i < batch; i++) {
      const a = a0 + 4 * i * strideA;
      const b = b0 + 4 * i * strideB;
      const c = c0 + 4 * i * m * n;
      if (!p.transposeA || transposeFirst) {
        let src = a;
        if (transposeFirst) {
          kern.transpose2d(a, k, m, at);
          src = at;
        }
        if (n <= SMALL_N) {
          // Along K: B as rows of K (Bᵀ as stored when transposed).
          let bt = b;
          if (!p.transposeB) {
            kern.transpose2d(b, k, n, packed);
            bt = packed;
          }
          kern.igemm_small(src, rowofs, m, seg, 1, k, bt, n, bias, p.relu ? 1 : 0, c, n);
        } else {
          kern.pack_b(b, k, n, p.transposeB ? k : n, p.transposeB ? 1 : 0, packed);
          kern.igemm(src, rowofs, m, seg, 1, k, packed, n, bias, p.relu ? 1 : 0, c, n);
        }
      } else {
        let d = b;
        if (p.transposeB) {
          kern.transpose2d(b, n, k, bt);
          d = bt;
        }
        gemmTnInto(nat, s, a, rowofs, k, tapofs, m, d, n, c);
      }
    }
    return out;
  } catch (err) {
    backend.disposeData(out.dataId);
    throw err;
  } finally {
    s.release();
  }
}

export function nativeMatMulConfigs(nat: Native, stock: (name: string) => Func): KernelConfig[] {
  const batchMatMul: Func = (args) => {
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return stock(BatchMatMul)(args);
    const out = matMul(nat, args.backend, {
      a,
      b,
      transposeA: args.attrs['transposeA'] === true,
      transposeB: args.attrs['transposeB'] === true,
      relu: false,
    });
    return out ?? stock(BatchMatMul)(args);
  };
  const fused: Func = (args) => {
    const { a, b, bias, preluActivationWeights } = args.inputs;
    const activation = (args.attrs['activation'] as string | undefined) ?? 'linear';
    const n = args.attrs['transposeB'] === true ? b!.shape[b!.shape.length - 2] : b!.shape[b!.shape.length - 1];
    const biasOk =
      bias === undefined || (bias.dtype === 'float32' && util.sizeFromShape(bias.shape) === n && bias.shape[bias.shape.length - 1] === n);
    if (
      a!.dtype !== 'float32' ||
      b!.dtype !== 'float32' ||
      (activation !== 'linear' && activation !== 'relu') ||
      preluActivationWeights ||
      !biasOk
    )
      return stock(_FusedMatMul)(args);
    const out = matMul(nat, args.backend, {
      a: a!,
      b: b!,
      transposeA: args.attrs['transposeA'] === true,
      transposeB: args.attrs['transposeB'] === true,
      ...(bias ? { bias } : {}),
      relu: activation === 'relu',
    });
    return out ?? stock(_FusedMatMul)(args);
  };
  return [
    { kernelName: BatchMatMul, backendName: 'wasm', kernelFunc: batchMatMul as unknown as KernelFunc },
    { kernelName: _FusedMatMul, backendName: 'wasm', kernelFunc: fused as unknown as KernelFunc },
  ];
}

/**
 * BatchMatMul for wasm: wasm hands only the no-transpose, batch-1 product to XNNPACK (~11 GMAC/s);
 * a transposed operand (every dense layer's gradient) runs a plain loop (~1 GMAC/s). A transposed
 * operand is transposed explicitly (wasm's Transpose; cheap next to the product) so the product
 * takes the fast path. Batched products keep the stock kernel.
 */
import { BatchMatMul, type KernelConfig, type KernelFunc, type NamedAttrMap, type TensorInfo, util } from '@tensorflow/tfjs-core';
import { free, type BackendWasm } from './wasm.ts';

type Inputs = { a: TensorInfo; b: TensorInfo };
type Func = (args: { inputs: Inputs; backend: BackendWasm; attrs: NamedAttrMap }) => TensorInfo;

export function fastBatchMatMul(stock: Func, transposeKernel: Func): Func {
  const flip = (backend: BackendWasm, t: TensorInfo): TensorInfo => {
    const r = t.shape.length;
    const rows = t.shape[r - 2];
    const cols = t.shape[r - 1];
    const flat = { dataId: t.dataId, shape: [rows, cols], dtype: t.dtype };
    const out = transposeKernel({ inputs: { x: flat } as unknown as Inputs, backend, attrs: { perm: [1, 0] } });
    out.shape = [1, cols, rows];
    return out;
  };
  return (args) => {
    const { inputs, backend, attrs } = args;
    const { a, b } = inputs;
    const transposeA = attrs['transposeA'] === true;
    const transposeB = attrs['transposeB'] === true;
    const batchA = util.sizeFromShape(a.shape.slice(0, -2));
    const batchB = util.sizeFromShape(b.shape.slice(0, -2));
    if ((!transposeA && !transposeB) || batchA !== 1 || batchB !== 1 || a.dtype !== 'float32' || b.dtype !== 'float32') return stock(args);
    const a2 = transposeA ? flip(backend, a) : a;
    const b2 = transposeB ? flip(backend, b) : b;
    const out = stock({ inputs: { a: a2, b: b2 }, backend, attrs: { ...attrs, transposeA: false, transposeB: false } });
    if (a2 !== a) free(backend, a2);
    if (b2 !== b) free(backend, b2);
    // The stock kernel reports a's leading dims; keep the caller's output shape.
    const outer = a.shape.slice(0, -2);
    out.shape = [...outer, out.shape[out.shape.length - 2], out.shape[out.shape.length - 1]];
    return out;
  };
}

export function batchMatMulConfig(stock: Func, transposeKernel: Func): KernelConfig {
  return { kernelName: BatchMatMul, backendName: 'wasm', kernelFunc: fastBatchMatMul(stock, transposeKernel) as unknown as KernelFunc };
}

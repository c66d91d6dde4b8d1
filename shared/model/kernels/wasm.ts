/**
 * Small helpers for kernels that run on the wasm backend: call another registered wasm kernel
 * directly (its TensorInfo result lives on the wasm heap), view a tensor's heap memory, free
 * intermediates. Only public tfjs APIs: `getKernel`, and the backend's `makeOutput`,
 * `typedArrayFromHeap`, `disposeData` (the same calls tfjs-backend-wasm's own kernels use).
 */
import { getKernel, type NamedAttrMap, type TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

export type { BackendWasm };

/** Runs the wasm implementation of `kernelName` on tensors already on the wasm heap. */
export function run(
  backend: BackendWasm,
  kernelName: string,
  inputs: Record<string, TensorInfo>,
  attrs: Record<string, unknown> = {},
): TensorInfo {
  const kernel = getKernel(kernelName, 'wasm');
  if (!kernel) throw new Error(`wasm kernel ${kernelName} is not registered`);
  const out = kernel.kernelFunc({ inputs, backend, attrs: attrs as NamedAttrMap });
  return Array.isArray(out) ? out[0] : out;
}

/** Frees intermediates made by `run` (reshapes share memory and are reference-counted). */
export function free(backend: BackendWasm, ...infos: TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}

/** A float32 view of a tensor's wasm heap memory (valid until the next allocation). */
export function f32(backend: BackendWasm, info: TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(info) as Float32Array;
}

export function reshape(backend: BackendWasm, x: TensorInfo, shape: number[]): TensorInfo {
  return run(backend, 'Reshape', { x }, { shape });
}

export function transpose(backend: BackendWasm, x: TensorInfo, perm: number[]): TensorInfo {
  return run(backend, 'Transpose', { x }, { perm });
}

/** a [batch, m, k] × b [batch, k, n] with no transposes: the case wasm hands to XNNPACK. */
export function matMul(backend: BackendWasm, a: TensorInfo, b: TensorInfo): TensorInfo {
  return run(backend, 'BatchMatMul', { a, b }, { transposeA: false, transposeB: false });
}

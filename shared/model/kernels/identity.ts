/**
 * Identity for wasm without a copy: the output shares the input's memory (reference-counted, as the
 * CPU backend's Identity and wasm's own Reshape do). The stock kernel copies every tensor the engine
 * keeps for backprop. No kernel writes into its inputs, so sharing is safe.
 */
import { Identity, type KernelConfig, type KernelFunc, type NamedAttrMap, type TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from './wasm.ts';

type Func = (args: { inputs: { x: TensorInfo }; backend: BackendWasm; attrs: NamedAttrMap }) => TensorInfo;

export function identityConfig(stock: Func): KernelConfig {
  const kernelFunc: Func = (args) => {
    const { x } = args.inputs;
    if (x.dtype === 'string') return stock(args);
    args.backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
  return { kernelName: Identity, backendName: 'wasm', kernelFunc: kernelFunc as unknown as KernelFunc };
}

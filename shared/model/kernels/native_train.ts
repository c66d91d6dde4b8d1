/**
 * Kernels for the rest of a training step, on modelship's C kernels:
 * - `Add` of a bias over the last axis (a layer's bias, in the unfused forward pass tfjs runs under a
 *   gradient tape); other adds keep the stock kernel;
 * - `ModelshipReluGrad`: dy where x > 0, one pass, for the ReLU gradient (`reluGradient` below) that
 *   stock tfjs computes as Cast, Step and Multiply;
 * - `ModelshipAdam`: one Adam step for one variable (value, both moments) in one pass, the same
 *   float32 operations as tfjs's AdamOptimizer (`shared/train/adam.ts` calls it).
 */
import { Add, getGradient, util } from '@tensorflow/tfjs-core';
import type { GradConfig, KernelConfig, KernelFunc, NamedAttrMap, Tensor, TensorInfo } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import type { Native } from './native.ts';
import type { BackendWasm } from './wasm.ts';

type Func = (args: {
  inputs: Record<string, TensorInfo | undefined>;
  backend: BackendWasm;
  attrs: NamedAttrMap;
}) => TensorInfo | TensorInfo[];

export const RELU_GRAD_KERNEL = 'ModelshipReluGrad';
export const ADAM_KERNEL = 'ModelshipAdam';

/** The attributes of one `ModelshipAdam` call, as float32 values of tfjs's Adam scalars. */
export interface AdamAttrs {
  beta1: number;
  oneMinusBeta1: number;
  beta2: number;
  oneMinusBeta2: number;
  oneMinusAccBeta1: number;
  oneMinusAccBeta2: number;
  epsilon: number;
  negLearningRate: number;
}

export function nativeTrainConfigs(nat: Native, stock: (name: string) => Func): KernelConfig[] {
  const add: Func = (args) => {
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const [big, bias] = a.shape.length >= b.shape.length ? [a, b] : [b, a];
    const c = big.shape[big.shape.length - 1];
    const isBias = bias.shape.length === 1 && bias.shape[0] === c && big.shape.length >= 2 && c > 0;
    if (!isBias || a.dtype !== 'float32' || b.dtype !== 'float32') return stock(Add)(args);
    const out = args.backend.makeOutput(big.shape, 'float32');
    nat.k.add_bias(nat.ptr(big), nat.ptr(bias), util.sizeFromShape(big.shape) / c, c, nat.ptr(out));
    return out;
  };
  const reluGrad: Func = (args) => {
    const { dy, x } = args.inputs as { dy: TensorInfo; x: TensorInfo };
    const out = args.backend.makeOutput(x.shape, 'float32');
    nat.k.relu_grad(nat.ptr(dy), nat.ptr(x), nat.ptr(out), util.sizeFromShape(x.shape));
    return out;
  };
  const adam: Func = (args) => {
    const { value, m, v, g } = args.inputs as { value: TensorInfo; m: TensorInfo; v: TensorInfo; g: TensorInfo };
    const a = args.attrs as unknown as AdamAttrs;
    const outs = [value, m, v].map((t) => args.backend.makeOutput(t.shape, 'float32'));
    nat.k.adam_update(
      nat.ptr(value),
      nat.ptr(m),
      nat.ptr(v),
      nat.ptr(g),
      util.sizeFromShape(value.shape),
      a.beta1,
      a.oneMinusBeta1,
      a.beta2,
      a.oneMinusBeta2,
      a.oneMinusAccBeta1,
      a.oneMinusAccBeta2,
      a.epsilon,
      a.negLearningRate,
      nat.ptr(outs[0]),
      nat.ptr(outs[1]),
      nat.ptr(outs[2]),
    );
    return outs;
  };
  return [
    { kernelName: Add, backendName: 'wasm', kernelFunc: add as unknown as KernelFunc },
    { kernelName: RELU_GRAD_KERNEL, backendName: 'wasm', kernelFunc: reluGrad as unknown as KernelFunc },
    { kernelName: ADAM_KERNEL, backendName: 'wasm', kernelFunc: adam as unknown as KernelFunc },
  ];
}

/**
 * The ReLU gradient: one `ModelshipReluGrad` kernel where the current backend has it, else the
 * stock gradient (dy · step(x)). Registered in place of the stock one (gradients are global).
 */
export function reluGradient(): GradConfig {
  const stock = getGradient('Relu');
  if (!stock) throw new Error('tfjs-core has no Relu gradient');
  return {
    kernelName: 'Relu',
    inputsToSave: ['x'],
    gradFunc: (dy: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap) => {
      const backendName = tf.getBackend();
      if (!tf.getKernel(RELU_GRAD_KERNEL, backendName) || Array.isArray(dy) || saved[0].dtype !== 'float32')
        return stock.gradFunc(dy, saved, attrs);
      const [x] = saved;
      return { x: () => tf.engine().runKernel<Tensor>(RELU_GRAD_KERNEL, { dy, x }) };
    },
  };
}

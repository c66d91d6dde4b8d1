/**
 * Kernels for the rest of a training step, on modelship's C kernels:
 * - `Add` of a bias over the last axis (a layer's bias, in the unfused forward pass tfjs runs under a
 *   gradient tape); other adds keep the stock kernel;
 * - `ModelshipReluGrad`: dy where x > 0, one pass, for the ReLU gradient (`reluGradient` below) that
 *   stock tfjs computes as Cast, Step and Multiply;
 * - `ModelshipAdam`: one Adam step for one variable (value, both moments) in one pass, the same
 *   float32 operations as tfjs's AdamOptimizer (`shared/train/adam.ts` calls it);
 * - `ModelshipBatchNormTrain` / `ModelshipBatchNormGrad`: batch normalisation in training and its
 *   gradient, two passes each (`batch_norm.ts` ties them into tfjs-layers).
 */
import { Add, getGradient, util } from '@tensorflow/tfjs-core';
import type { GradConfig, KernelConfig, KernelFunc, NamedAttrMap, Tensor, TensorInfo } from '@tensorflow/tfjs-core';
import * as tf from '@tensorflow/tfjs-core';
import { BN_GRAD_KERNEL, BN_TRAIN_KERNEL } from './batch_norm.ts';
import type { Native } from './native.ts';
import type { BackendWasm } from './wasm.ts';
import { ADAM_KERNEL, type AdamAttrs } from './contract.ts';

export { ADAM_KERNEL, type AdamAttrs };

type Func = (args: {
  inputs: Record<string, TensorInfo | undefined>;
  backend: BackendWasm;
  attrs: NamedAttrMap;
}) => TensorInfo | TensorInfo[];

export const RELU_GRAD_KERNEL = 'ModelshipReluGrad';
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
    const { value, m, v, g, g1 } = args.inputs as { value: TensorInfo; m: TensorInfo; v: TensorInfo; g: TensorInfo; g1?: TensorInfo };
    const a = args.attrs as unknown as AdamAttrs;
    const outs = [value, m, v].map((t) => args.backend.makeOutput(t.shape, 'float32'));
    nat.k.adam_update(
      nat.ptr(value),
      nat.ptr(m),
      nat.ptr(v),
      nat.ptr(g),
      g1 ? nat.ptr(g1) : 0,
      a.w0 ?? 1,
      a.w1 ?? 0,
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
  const bnTrain: Func = (args) => {
    const { x, gamma, beta } = args.inputs as { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
    const c = x.shape[x.shape.length - 1];
    const rows = util.sizeFromShape(x.shape) / c;
    const y = args.backend.makeOutput(x.shape, 'float32');
    const mean = args.backend.makeOutput([c], 'float32');
    const variance = args.backend.makeOutput([c], 'float32');
    const s = nat.scratch();
    try {
      nat.k.bn_train(
        nat.ptr(x),
        rows,
        c,
        nat.ptr(gamma),
        nat.ptr(beta),
        args.attrs['epsilon'] as number,
        nat.ptr(y),
        nat.ptr(mean),
        nat.ptr(variance),
        s.f64(2 * c),
        s.f32(2 * c),
      );
    } finally {
      s.release();
    }
    return [y, mean, variance];
  };
  const bnGrad: Func = (args) => {
    const { dy, x, mean, variance, gamma } = args.inputs as Record<'dy' | 'x' | 'mean' | 'variance' | 'gamma', TensorInfo>;
    const c = x.shape[x.shape.length - 1];
    const rows = util.sizeFromShape(x.shape) / c;
    const dx = args.backend.makeOutput(x.shape, 'float32');
    const dgamma = args.backend.makeOutput([c], 'float32');
    const dbeta = args.backend.makeOutput([c], 'float32');
    const s = nat.scratch();
    try {
      nat.k.bn_grad(
        nat.ptr(dy),
        nat.ptr(x),
        rows,
        c,
        nat.ptr(mean),
        nat.ptr(variance),
        nat.ptr(gamma),
        args.attrs['epsilon'] as number,
        nat.ptr(dx),
        nat.ptr(dgamma),
        nat.ptr(dbeta),
        s.f64(2 * c),
        s.f32(3 * c),
      );
    } finally {
      s.release();
    }
    return [dx, dgamma, dbeta];
  };
  return [
    { kernelName: BN_TRAIN_KERNEL, backendName: 'wasm', kernelFunc: bnTrain as unknown as KernelFunc },
    { kernelName: BN_GRAD_KERNEL, backendName: 'wasm', kernelFunc: bnGrad as unknown as KernelFunc },
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

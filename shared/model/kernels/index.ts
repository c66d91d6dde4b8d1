/**
 * The kernels modelship adds to tfjs-backend-wasm 4.22 so CNNs train on it, and train fast.
 * Registered once, when the wasm backend is chosen (`registerWasmTrainingKernels`).
 *
 * Two sets:
 * - `native` (the default): C kernels compiled to wasm with SIMD and relaxed SIMD (`native/`),
 *   run on tfjs's heap: Conv2D, FusedConv2D (bias, ReLU), both convolution gradients, BatchMatMul and
 *   _FusedMatMul for every transpose, MaxPoolGrad, Sum and Mean over leading axes, a bias Add, the
 *   ReLU gradient in one pass (`ModelshipReluGrad`, with a gradient that uses it where registered)
 *   a one-pass Adam step (`ModelshipAdam`, used by shared/train/adam.ts), and batch normalisation
 *   in training with its gradient, two passes each (`batch_norm.ts`, which takes over tfjs-layers'
 *   BatchNormalization in training mode where these kernels are registered); tfjs-layers' Conv2D in
 *   training computes only the gradients in use there (`conv_layer.ts`).
 * - `ts`: the TypeScript kernels, used where the native module cannot be instantiated (no relaxed
 *   SIMD): Conv2DBackpropFilter (missing from wasm), a faster Conv2DBackpropInput, MaxPoolGrad,
 *   BatchMatMul (transposed operands), Sum and Mean.
 * Both: Tile (batchnorm's gradient) and a zero-copy Identity. A replaced kernel keeps the stock
 * kernel's setup/dispose hooks and falls back to the stock function for the cases it does not handle.
 */
import { engine, getBackend, getKernel, registerGradient, registerKernel, unregisterKernel } from '@tensorflow/tfjs-core';
import type { KernelConfig } from '@tensorflow/tfjs-core';
import { batchMatMulConfig } from './batch_mat_mul.ts';
import { BN_GRAD_KERNEL, BN_TRAIN_KERNEL, installFusedBatchNorm } from './batch_norm.ts';
import { installLazyConvGradients } from './conv_layer.ts';
import { conv2DBackpropFilterConfig } from './conv2d_backprop_filter.ts';
import { conv2DBackpropInputConfig } from './conv2d_backprop_input.ts';
import { identityConfig } from './identity.ts';
import { maxPoolGradConfig } from './max_pool_grad.ts';
import { loadNative } from './native.ts';
import { nativeConvConfigs } from './native_conv.ts';
import { nativeMatMulConfigs } from './native_matmul.ts';
import { nativeMiscConfigs } from './native_misc.ts';
import { ADAM_KERNEL, nativeTrainConfigs, RELU_GRAD_KERNEL, reluGradient } from './native_train.ts';
import { meanConfig, sumConfig } from './sum.ts';
import { tileConfig } from './tile.ts';
import type { BackendWasm } from './wasm.ts';

export type KernelSet = 'native' | 'ts';

export interface RegisteredKernels {
  readonly set: KernelSet;
  readonly kernels: string[];
  /** Why the native set is not in use, when it is not. */
  readonly fallback?: string;
}

/** The stock wasm kernels, captured before the first replacement (the replacements call into them). */
let stockConfigs: Map<string, KernelConfig> | undefined;
let registered: RegisteredKernels | undefined;
let reluGradientRegistered = false;

const REPLACED = [
  'Conv2D',
  'FusedConv2D',
  'Conv2DBackpropInput',
  'Conv2DBackpropFilter',
  'BatchMatMul',
  '_FusedMatMul',
  'MaxPool',
  'MaxPoolGrad',
  'Sum',
  'Mean',
  'Tile',
  'Identity',
  'Transpose',
  'Add',
];
/** Kernels of modelship's own (no stock counterpart), registered by the native set only. */
const OWN = [ADAM_KERNEL, RELU_GRAD_KERNEL, BN_TRAIN_KERNEL, BN_GRAD_KERNEL];

export { ADAM_KERNEL, RELU_GRAD_KERNEL };

export type { AdamAttrs } from './native_train.ts';

function captureStock(): Map<string, KernelConfig> {
  if (stockConfigs) return stockConfigs;
  const map = new Map<string, KernelConfig>();
  for (const name of REPLACED) {
    const config = getKernel(name, 'wasm');
    if (config) map.set(name, config);
  }
  for (const name of ['BatchMatMul', 'Transpose', 'Sum', 'Mean', 'Tile', 'Identity', 'Conv2D']) {
    if (!map.has(name))
      throw new Error(
        `tfjs-backend-wasm has no ${name} kernel; import @tensorflow/tfjs-backend-wasm before registering modelship's kernels.`,
      );
  }
  stockConfigs = map;
  return map;
}

type AnyFunc = (args: never) => never;

function configsFor(set: KernelSet, backend: BackendWasm, stock: Map<string, KernelConfig>): KernelConfig[] {
  const stockFunc = (name: string): AnyFunc => {
    const config = stock.get(name);
    if (!config) throw new Error(`tfjs-backend-wasm has no stock ${name} kernel`);
    return config.kernelFunc as unknown as AnyFunc;
  };
  const common = [tileConfig(stockFunc('Tile') as never), identityConfig(stockFunc('Identity') as never)];
  if (set === 'ts') {
    return [
      conv2DBackpropFilterConfig,
      conv2DBackpropInputConfig,
      maxPoolGradConfig,
      batchMatMulConfig(stockFunc('BatchMatMul') as never, stockFunc('Transpose') as never),
      sumConfig(stockFunc('Sum') as never),
      meanConfig(stockFunc('Mean') as never),
      ...common,
    ];
  }
  const native = loadNative(backend);
  return [
    ...nativeConvConfigs(native, stockFunc as never),
    ...nativeMatMulConfigs(native, stockFunc as never),
    ...nativeMiscConfigs(native, stockFunc as never),
    ...nativeTrainConfigs(native, stockFunc as never),
    ...common,
  ];
}

function wasmBackend(): BackendWasm {
  if (getBackend() !== 'wasm') throw new Error("modelship's wasm kernels need the wasm backend to be the current backend.");
  return engine().findBackend('wasm') as unknown as BackendWasm;
}

/**
 * Registers (or replaces) modelship's wasm kernels: the native set unless `MODELSHIP_WASM_KERNELS=ts`
 * or it cannot load (then the TypeScript set, with the reason). Idempotent for the same choice;
 * naming another set re-registers (tests and the benchmark compare them).
 */
export function registerWasmTrainingKernels(prefer?: KernelSet): RegisteredKernels {
  const want: KernelSet = prefer ?? (process.env['MODELSHIP_WASM_KERNELS'] === 'ts' ? 'ts' : 'native');
  if (registered && (prefer === undefined || registered.set === want)) return registered;
  const stock = captureStock();
  const backend = wasmBackend();
  let set = want;
  let fallback: string | undefined;
  let configs: KernelConfig[];
  try {
    configs = configsFor(set, backend, stock);
  } catch (err) {
    if (set !== 'native') throw err;
    fallback = `native kernels unavailable (${(err instanceof Error ? err.message : String(err)).split('\n')[0]})`;
    set = 'ts';
    configs = configsFor(set, backend, stock);
  }
  // Back to stock first, so that switching sets leaves nothing of the previous one.
  for (const name of OWN) if (getKernel(name, 'wasm')) unregisterKernel(name, 'wasm');
  for (const name of REPLACED) {
    if (getKernel(name, 'wasm')) unregisterKernel(name, 'wasm');
    const original = stock.get(name);
    if (original) registerKernel(original);
  }
  for (const config of configs) {
    const previous = stock.get(config.kernelName);
    const hooks = previous ? { setupFunc: previous.setupFunc, disposeFunc: previous.disposeFunc } : {};
    if (getKernel(config.kernelName, 'wasm')) unregisterKernel(config.kernelName, 'wasm');
    registerKernel({ ...hooks, ...withoutUndefined(config), kernelFunc: config.kernelFunc });
  }
  if (!reluGradientRegistered) {
    registerGradient(reluGradient());
    installFusedBatchNorm();
    installLazyConvGradients();
    reluGradientRegistered = true;
  }
  registered = { set, kernels: configs.map((c) => c.kernelName), ...(fallback ? { fallback } : {}) };
  return registered;
}

function withoutUndefined(config: KernelConfig): KernelConfig {
  return Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined)) as unknown as KernelConfig;
}

/**
 * The kernels modelship adds to tfjs-backend-wasm 4.22 so CNNs train on it, and train fast.
 * Registered once, when the wasm backend is chosen (`registerWasmTrainingKernels`).
 *
 * Added (missing from wasm): Conv2DBackpropFilter.
 * Replaced (stock is slow for training): Conv2DBackpropInput, MaxPoolGrad, BatchMatMul (transposed
 * operands), Sum and Mean (leading axes), Tile (batchnorm's gradient), Identity (zero-copy). A replaced kernel keeps the stock kernel's
 * setup/dispose hooks and falls back to the stock function for the cases it does not speed up.
 */
import { getKernel, type KernelConfig, registerKernel, unregisterKernel } from '@tensorflow/tfjs-core';
import { batchMatMulConfig } from './batch_mat_mul.ts';
import { conv2DBackpropFilterConfig } from './conv2d_backprop_filter.ts';
import { conv2DBackpropInputConfig } from './conv2d_backprop_input.ts';
import { identityConfig } from './identity.ts';
import { maxPoolGradConfig } from './max_pool_grad.ts';
import { meanConfig, sumConfig } from './sum.ts';
import { tileConfig } from './tile.ts';

let registered: string[] | undefined;

function stock(name: string): KernelConfig {
  const config = getKernel(name, 'wasm');
  if (!config)
    throw new Error(
      `tfjs-backend-wasm has no ${name} kernel; import @tensorflow/tfjs-backend-wasm before registering modelship's kernels.`,
    );
  return config;
}

/** Registers (or replaces) modelship's wasm kernels; idempotent. Returns the kernel names. */
export function registerWasmTrainingKernels(): string[] {
  if (registered) return registered;
  // Captured before anything is replaced: the replacements call into these.
  const stockFunc = (name: string): never => stock(name).kernelFunc as unknown as never;
  const configs: KernelConfig[] = [
    conv2DBackpropFilterConfig,
    conv2DBackpropInputConfig,
    maxPoolGradConfig,
    batchMatMulConfig(stockFunc('BatchMatMul'), stockFunc('Transpose')),
    sumConfig(stockFunc('Sum')),
    meanConfig(stockFunc('Mean')),
    tileConfig(stockFunc('Tile')),
    identityConfig(stockFunc('Identity')),
  ];
  for (const config of configs) {
    const previous = getKernel(config.kernelName, 'wasm');
    const hooks = previous ? { setupFunc: previous.setupFunc, disposeFunc: previous.disposeFunc } : {};
    if (previous) unregisterKernel(config.kernelName, 'wasm');
    registerKernel({ ...hooks, ...withoutUndefined(config), kernelFunc: config.kernelFunc });
  }
  registered = configs.map((c) => c.kernelName);
  return registered;
}

function withoutUndefined(config: KernelConfig): KernelConfig {
  return Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined)) as unknown as KernelConfig;
}

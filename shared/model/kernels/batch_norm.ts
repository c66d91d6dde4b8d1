/**
 * Batch normalisation in training, fused: tfjs-layers computes it as moments (Cast, Mean, Sub,
 * Square, Mean) then FusedBatchNorm, and its gradient through all of those (Tile, Sum, Mul, Sub,
 * RealDiv, Rsqrt: some twenty passes over the activations per layer), which made a cnn with batch
 * norm train at a third of the plain cnn's rate. Here the forward pass is one kernel
 * (`ModelshipBatchNormTrain`: batch statistics in one pass, normalisation in a second) and its
 * gradient another (`ModelshipBatchNormGrad`: two passes), tied by `tf.customGrad`.
 *
 * It takes over `BatchNormalization.prototype.call` of tfjs-layers, so it applies to every model
 * (built here or loaded, with batch norm over the last axis, centre and scale on), in training mode
 * on a backend that has the kernels (wasm with modelship's native kernels); everything else (other
 * backends, inference, other axes) runs tfjs-layers' own code. The moving statistics are updated
 * as tfjs-layers updates them.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';

export const BN_TRAIN_KERNEL = 'ModelshipBatchNormTrain';
export const BN_GRAD_KERNEL = 'ModelshipBatchNormGrad';

interface LayerVariableLike {
  read(): tf.Tensor;
  write(value: tf.Tensor): void;
}

/** The fields of tfjs-layers' BatchNormalization this reads (private in its typings). */
interface BatchNormFields {
  axis: number;
  momentum: number;
  epsilon: number;
  center: boolean;
  scale: boolean;
  gamma: LayerVariableLike;
  beta: LayerVariableLike;
  movingMean: LayerVariableLike;
  movingVariance: LayerVariableLike;
}

type Call = (this: tfl.layers.Layer, inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>) => tf.Tensor | tf.Tensor[];

let installed = false;

/** Replaces BatchNormalization's `call` with the fused one (once per process). */
export function installFusedBatchNorm(): void {
  if (installed) return;
  const proto = Object.getPrototypeOf(tfl.layers.batchNormalization({})) as { call: Call };
  const stock = proto.call;
  proto.call = function call(this: tfl.layers.Layer, inputs, kwargs) {
    const input = Array.isArray(inputs) ? inputs[0] : inputs;
    const self = this as unknown as BatchNormFields;
    const fusable =
      kwargs['training'] === true &&
      (!Array.isArray(inputs) || inputs.length === 1) &&
      input.dtype === 'float32' &&
      input.rank >= 2 &&
      (self.axis === -1 || self.axis === input.rank - 1) &&
      self.center &&
      self.scale &&
      tf.getKernel(BN_TRAIN_KERNEL, tf.getBackend()) !== undefined;
    if (!fusable) return stock.call(this, inputs, kwargs);
    return fusedTrainingCall(self, input);
  };
  installed = true;
}

function fusedTrainingCall(self: BatchNormFields, input: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const epsilon = self.epsilon;
    let stats: tf.Tensor[] = [];
    const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const [x, gamma, beta, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
      const [y, mean, variance] = tf.engine().runKernel<tf.Tensor[]>(BN_TRAIN_KERNEL, { x, gamma, beta }, { epsilon });
      save([x, mean, variance, gamma]);
      // Kept past customGrad's own scope for the moving averages below; disposed there.
      stats = [tf.keep(mean), tf.keep(variance)];
      return {
        value: y,
        gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
          const [sx, sm, sv, sg] = saved;
          return tf
            .engine()
            .runKernel<tf.Tensor[]>(
              BN_GRAD_KERNEL,
              { dy: Array.isArray(dy) ? dy[0] : dy, x: sx, mean: sm, variance: sv, gamma: sg },
              { epsilon },
            );
        },
      };
    });
    const y = op(input, self.gamma.read(), self.beta.read());
    const [mean, variance] = stats;
    // tfjs-layers' moving averages, unchanged: v ← v − (v − batch) · (1 − momentum).
    const movingAverage = (variable: LayerVariableLike, value: tf.Tensor): void =>
      tf.tidy(() => {
        const origValue = variable.read();
        variable.write(tf.sub(origValue, tf.mul(tf.sub(origValue, value), 1 - self.momentum)));
      });
    movingAverage(self.movingMean, mean);
    movingAverage(self.movingVariance, variance);
    tf.dispose(stats);
    return y;
  });
}

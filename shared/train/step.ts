/**
 * One gradient computation on a batch, as tfjs-layers' trainOnBatch does it (forward pass in
 * training mode, mean loss plus the layers' regularisation losses, gradients of the trainable
 * weights) but without applying them, so that the gradients of two half-batches, computed on two
 * threads, can be combined before the optimizer step (`parallel.ts`). The loss is the compiled
 * one, with optional label smoothing for classification.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';

/** Label smoothing of the default recipe (classification). */
export const LABEL_SMOOTHING = 0.1;

export interface LossSpec {
  readonly task: 'classification' | 'regression';
  /** Label smoothing ε for classification: the target puts 1 − ε on the label and ε spread evenly over all classes. */
  readonly labelSmoothing: number;
}

/** Mean loss of a batch: cross-entropy of sparse labels (smoothed) for classification, MSE for regression. */
export function batchLoss(spec: LossSpec, y: tf.Tensor, out: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    if (spec.task === 'regression') return tf.mean<tf.Scalar>(tf.squaredDifference(out, tf.reshape(y, out.shape)));
    const k = out.shape[out.shape.length - 1];
    // tfjs-layers' sparse categorical cross-entropy: probabilities clipped to [ε, 1 − ε], then log.
    const logp = tf.log(tf.clipByValue(out, 1e-7, 1 - 1e-7));
    const labels = tf.oneHot(tf.cast(tf.reshape(y, [-1]), 'int32'), k);
    const e = spec.labelSmoothing;
    const target = e > 0 ? tf.add(tf.mul(labels, 1 - e), e / k) : labels;
    return tf.neg(tf.mean<tf.Scalar>(tf.sum(tf.mul(target, logp), -1)));
  });
}

/** Fraction of the batch whose highest probability is the label. */
export function batchAccuracy(y: tf.Tensor, out: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.mean<tf.Scalar>(tf.cast(tf.equal(tf.argMax(out, -1), tf.cast(tf.reshape(y, [-1]), 'int32')), 'float32')));
}

export interface BatchGradients {
  readonly loss: number;
  readonly acc?: number;
  /** By variable name, in the order of `variables`. */
  readonly grads: tf.NamedTensorMap;
}

/** The model's trainable variables, in the order tfjs-layers trains them. */
export function trainableVariables(model: tfl.LayersModel): tf.Variable[] {
  return model.trainableWeights.map((w) => w.read() as tf.Variable);
}

/** Loss, accuracy and gradients of one batch (x already preprocessed). The caller disposes `grads`. */
export function computeGradients(
  model: tfl.LayersModel,
  variables: tf.Variable[],
  spec: LossSpec,
  x: tf.Tensor,
  y: tf.Tensor,
): BatchGradients {
  let acc: tf.Scalar | undefined;
  const { value, grads } = tf.variableGrads(() => {
    const out = model.apply(x, { training: true }) as tf.Tensor;
    let loss = batchLoss(spec, y, out);
    // Regularisation penalties of the layers, as trainOnBatch adds them (none in the built-ins).
    const calc = (model as unknown as { calculateLosses?: () => tf.Scalar[] }).calculateLosses;
    for (const penalty of calc ? calc.call(model) : []) loss = tf.add(loss, penalty);
    if (spec.task === 'classification') acc = tf.keep(batchAccuracy(y, out));
    return loss;
  }, variables);
  const loss = (value.dataSync() as Float32Array)[0];
  value.dispose();
  let accValue: number | undefined;
  if (acc) {
    accValue = (acc.dataSync() as Float32Array)[0];
    acc.dispose();
  }
  return { loss, ...(accValue !== undefined ? { acc: accValue } : {}), grads };
}

/**
 * What other domains call of modelship's kernels by name (shared/train/adam.ts runs the fused Adam
 * step): names and attributes only, no tfjs, so the model domain's index can export them eagerly.
 */

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
  /** With a second gradient input g1: the gradient is g·w0 + g1·w1. */
  w0?: number;
  w1?: number;
}

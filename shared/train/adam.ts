/**
 * Adam with one kernel per variable: tfjs's AdamOptimizer runs fourteen elementwise kernels per
 * variable per step (and makes a scalar tensor for each constant), about 4 ms of a 30 ms step of the
 * default cnn on wasm. Where the backend has modelship's `ModelshipAdam` kernel (wasm), each
 * variable is updated by one call computing the same float32 operations in the same order, so the
 * weights are the same bytes as with tfjs's optimizer; elsewhere it is tfjs's optimizer unchanged.
 *
 * A subclass, not a new optimizer: the moments live in the same fields under the same names, so
 * getWeights/setWeights (checkpoints) and the class name ('Adam') are tfjs's own.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ADAM_KERNEL, type AdamAttrs } from '../model/index.ts';

interface Moment {
  originalName: string;
  variable: tf.Variable;
}

/** The fields of tfjs's AdamOptimizer this class reads (private in its typings). */
interface AdamFields {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: Moment[];
  accumulatedSecondMoment: Moment[];
}

export class FusedAdamOptimizer extends tf.AdamOptimizer {
  constructor(learningRate: number, beta1 = 0.9, beta2 = 0.999, epsilon?: number) {
    super(learningRate, beta1, beta2, epsilon);
  }

  override applyGradients(variableGradients: Parameters<tf.AdamOptimizer['applyGradients']>[0]): void {
    if (!tf.getKernel(ADAM_KERNEL, tf.getBackend())) {
      super.applyGradients(variableGradients);
      return;
    }
    const list = Array.isArray(variableGradients)
      ? variableGradients
      : Object.keys(variableGradients).map((name) => ({ name, tensor: variableGradients[name] }));
    this.step(list.map(({ name, tensor }) => ({ name, g: tensor })));
  }

  /**
   * One step with the gradient g0·w0 + g1·w1 (two half-batches, data-parallel), combined inside the
   * update kernel. Where the kernel is missing: the same sum with tfjs ops, then tfjs's Adam.
   */
  applyCombinedGradients(variables: readonly tf.Variable[], g0: tf.NamedTensorMap, g1: readonly tf.Tensor[], w0: number, w1: number): void {
    if (!tf.getKernel(ADAM_KERNEL, tf.getBackend())) {
      const combined = tf.tidy(() =>
        variables.map((v, i) => ({ name: v.name, tensor: tf.add(tf.mul(g0[v.name], w0), tf.mul(g1[i], w1)) })),
      );
      super.applyGradients(combined);
      tf.dispose(combined.map((c) => c.tensor));
      return;
    }
    this.step(
      variables.map((v, i) => ({ name: v.name, g: g0[v.name], g1: g1[i] })),
      w0,
      w1,
    );
  }

  private step(grads: { name: string; g: tf.Tensor | undefined; g1?: tf.Tensor }[], w0 = 1, w1 = 0): void {
    const self = this as unknown as AdamFields;
    const f = Math.fround;
    // tfjs's scalars, as the float32 values its kernels would see.
    const accBeta1 = (self.accBeta1.dataSync() as Float32Array)[0];
    const accBeta2 = (self.accBeta2.dataSync() as Float32Array)[0];
    const attrs: AdamAttrs = {
      beta1: f(self.beta1),
      oneMinusBeta1: f(1 - self.beta1),
      beta2: f(self.beta2),
      oneMinusBeta2: f(1 - self.beta2),
      oneMinusAccBeta1: f(1 - accBeta1),
      oneMinusAccBeta2: f(1 - accBeta2),
      epsilon: f(self.epsilon),
      negLearningRate: f(-self.learningRate),
      w0: f(w0),
      w1: f(w1),
    };
    tf.tidy(() => {
      grads.forEach(({ name, g, g1 }, i) => {
        const value = tf.engine().registeredVariables[name];
        self.accumulatedFirstMoment[i] ??= { originalName: `${name}/m`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        self.accumulatedSecondMoment[i] ??= { originalName: `${name}/v`, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
        if (g == null) return;
        const m = self.accumulatedFirstMoment[i].variable;
        const v = self.accumulatedSecondMoment[i].variable;
        const inputs: tf.NamedTensorMap = g1 ? { value, m, v, g, g1 } : { value, m, v, g };
        const [newValue, newM, newV] = tf.engine().runKernel<tf.Tensor[]>(ADAM_KERNEL, inputs, attrs as unknown as tf.NamedAttrMap);
        m.assign(newM);
        v.assign(newV);
        value.assign(newValue);
      });
      self.accBeta1.assign(tf.mul(self.accBeta1, self.beta1));
      self.accBeta2.assign(tf.mul(self.accBeta2, self.beta2));
    });
    this.incrementIterations();
  }
}

/**
 * The input pipeline and batched prediction, shared by training, evaluation and serving so that
 * they cannot drift apart: the same `preprocess` turns raw examples into model input everywhere.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { TensorArray } from '../data/index.ts';
import { ModelshipError } from '../util/index.ts';
import type { ModelMetadata } from './metadata.ts';
import { PREDICT_BATCH_SIZE, preprocess } from './preprocess.ts';

export { PREDICT_BATCH_SIZE };

/**
 * Class probabilities (or the regression output) for `count` raw examples, predicted 256 at a
 * time: a Float32Array of count × outputs, row-major. Every intermediate tensor is disposed.
 */
export async function predictProbabilities(
  model: tfl.LayersModel,
  metadata: Pick<ModelMetadata, 'preprocessing' | 'inputShape' | 'classes'>,
  x: TensorArray,
  count: number,
): Promise<Float32Array> {
  const perExample = metadata.inputShape.reduce((a, b) => a * b, 1);
  if (x.length < count * perExample) {
    throw new ModelshipError(
      `predict: ${count} examples of shape [${metadata.inputShape.join(', ')}] need ${count * perExample} values; got ${x.length}.`,
    );
  }
  const outputs = Math.max(1, metadata.classes.length);
  const result = new Float32Array(count * outputs);
  for (let start = 0; start < count; start += PREDICT_BATCH_SIZE) {
    const n = Math.min(PREDICT_BATCH_SIZE, count - start);
    const batch = preprocess(x.subarray(start * perExample, (start + n) * perExample), metadata);
    const probs = tf.tidy(() => {
      const input = tf.tensor(batch, [n, ...metadata.inputShape], 'float32');
      return model.predict(input) as tf.Tensor;
    });
    try {
      const data = await probs.data();
      if (data.length !== n * outputs) {
        throw new ModelshipError(`predict: the model gives ${data.length / n} outputs per example; its metadata lists ${outputs}.`);
      }
      result.set(data, start * outputs);
    } finally {
      probs.dispose();
    }
  }
  return result;
}

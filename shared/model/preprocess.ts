/**
 * The input pipeline, shared by training, evaluation and serving so that they cannot drift apart:
 * the same `preprocess` turns raw examples into model input everywhere. Pure TypeScript (no tfjs).
 */
import type { TensorArray } from '../data/index.ts';
import type { ModelMetadata, Preprocessing } from './metadata.ts';

/** Examples per model call when predicting many (evaluation, validation). */
export const PREDICT_BATCH_SIZE = 256;

/**
 * raw → (raw * scale + offset - mean[c]) / std[c], channel c = index mod channels (the last
 * dimension of the input shape). Returns a new Float32Array; `x` is never changed.
 */
export function applyPreprocessing(x: TensorArray, p: Preprocessing, channels: number): Float32Array {
  const out = new Float32Array(x.length);
  const { scale, offset } = p;
  const mean = p.mean;
  const std = p.std;
  if (!mean && !std) {
    for (let i = 0; i < x.length; i++) out[i] = x[i] * scale + offset;
    return out;
  }
  const c = Math.max(1, channels);
  for (let i = 0; i < x.length; i++) {
    const ch = i % c;
    out[i] = (x[i] * scale + offset - (mean?.[ch] ?? 0)) / (std?.[ch] ?? 1);
  }
  return out;
}

/** Applies the model's recorded preprocessing, exactly as training did. */
export function preprocess(x: TensorArray, metadata: Pick<ModelMetadata, 'preprocessing' | 'inputShape'>): Float32Array {
  const channels = metadata.inputShape.length > 0 ? metadata.inputShape[metadata.inputShape.length - 1] : 1;
  return applyPreprocessing(x, metadata.preprocessing, channels);
}

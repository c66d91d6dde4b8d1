/**
 * What a served model takes and gives, derived once from its `modelship.json`: one input tensor of
 * raw values (uint8 pixels or float32 features; the server applies the model's own recorded
 * preprocessing) and one output (class probabilities, or one value per example for regression).
 *
 * The names are fixed (`input`, `probabilities` / `value`) so that client code does not change
 * between versions of a model, whatever layer names a version's architecture uses.
 */
import type { ModelMetadata } from '../model/index.ts';

export const INPUT_NAME = 'input';
export const PROBABILITIES_NAME = 'probabilities';
export const VALUE_NAME = 'value';

export type InputDtype = 'uint8' | 'float32';

export interface Signature {
  readonly inputName: string;
  /** Shape of one example, e.g. [28, 28, 1]. */
  readonly inputShape: readonly number[];
  readonly perExample: number;
  readonly dtype: InputDtype;
  readonly outputName: string;
  /** Values per example in the output (classes, or 1 for regression). */
  readonly outputs: number;
  readonly task: ModelMetadata['task'];
  readonly classes: readonly string[];
  /** For image models (uint8, [height, width, 1 | 3]): what `{"b64": …}` inputs are decoded to. */
  readonly image?: { readonly height: number; readonly width: number; readonly channels: number };
}

/** The input dtype: recorded with the reference statistics, else inferred (1/255 scaling means pixels). */
export function inputDtypeOf(metadata: Pick<ModelMetadata, 'reference' | 'preprocessing' | 'inputShape'>): InputDtype {
  const recorded = metadata.reference?.dtype;
  if (recorded === 'uint8') return 'uint8';
  if (recorded === 'float32' || recorded === 'int32') return 'float32';
  return Math.abs(metadata.preprocessing.scale - 1 / 255) < 1e-12 ? 'uint8' : 'float32';
}

export function signatureOf(metadata: ModelMetadata): Signature {
  const dtype = inputDtypeOf(metadata);
  const shape = metadata.inputShape;
  const classification = metadata.task === 'classification' && metadata.classes.length > 0;
  const image =
    dtype === 'uint8' && shape.length === 3 && (shape[2] === 1 || shape[2] === 3)
      ? { height: shape[0], width: shape[1], channels: shape[2] }
      : undefined;
  return {
    inputName: INPUT_NAME,
    inputShape: shape,
    perExample: shape.reduce((a, b) => a * b, 1),
    dtype,
    outputName: classification ? PROBABILITIES_NAME : VALUE_NAME,
    outputs: classification ? metadata.classes.length : 1,
    task: classification ? 'classification' : 'regression',
    classes: classification ? metadata.classes : [],
    ...(image ? { image } : {}),
  };
}

/** `[28,28,1]`, the way TF Serving prints shapes. */
export function shapeText(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

/**
 * Response bodies of TF Serving's REST API and of the Open Inference Protocol (KServe V2), built
 * from plain data. Pure functions.
 */
import { METHOD_NAMES, v2Datatype } from './tensors.ts';
import type { Signature } from './signature.ts';

/** The shortest decimal that reads back as the same float32 (TF Serving prints 0.1, not 0.10000000149011612). */
export function f32(v: number): number {
  if (!Number.isFinite(v) || v === 0) return v;
  for (let p = 6; p < 9; p++) {
    const r = Number(v.toPrecision(p));
    if (Math.fround(r) === v) return r;
  }
  return Number(v.toPrecision(9));
}

/** Model output rows: per example an array of probabilities, or one number for regression. */
export function outputRows(out: Float32Array, count: number, sig: Signature): (number | number[])[] {
  const rows: (number | number[])[] = new Array<number | number[]>(count);
  const k = sig.outputs;
  if (sig.task === 'regression') {
    for (let i = 0; i < count; i++) rows[i] = f32(out[i * k]);
    return rows;
  }
  for (let i = 0; i < count; i++) {
    const row = new Array<number>(k);
    for (let c = 0; c < k; c++) row[c] = f32(out[i * k + c]);
    rows[i] = row;
  }
  return rows;
}

export function predictResponse(out: Float32Array, count: number, sig: Signature, format: 'row' | 'columnar'): object {
  const rows = outputRows(out, count, sig);
  return format === 'row' ? { predictions: rows } : { outputs: rows };
}

/** `:classify`: per example, [class name, score] for every class in the model's class order. */
export function classifyResponse(out: Float32Array, count: number, sig: Signature): object {
  const k = sig.outputs;
  const results: [string, number][][] = [];
  for (let i = 0; i < count; i++) results.push(sig.classes.map((c, j) => [c, f32(out[i * k + j])]));
  return { results };
}

export function regressResponse(out: Float32Array, count: number, sig: Signature): object {
  return { results: outputRows(out, count, sig) };
}

export interface InferResponseArgs {
  readonly modelName: string;
  readonly version: string;
  readonly id?: string;
  readonly outputs?: readonly string[];
}

export function inferResponse(out: Float32Array, count: number, sig: Signature, args: InferResponseArgs): object {
  const n = count * sig.outputs;
  const data = new Array<number>(n);
  for (let i = 0; i < n; i++) data[i] = f32(out[i]);
  const tensor = {
    name: sig.outputName,
    datatype: 'FP32',
    shape: sig.task === 'regression' ? [count] : [count, sig.outputs],
    data,
  };
  return {
    model_name: args.modelName,
    model_version: args.version,
    ...(args.id !== undefined ? { id: args.id } : {}),
    outputs: args.outputs && !args.outputs.includes(sig.outputName) ? [] : [tensor],
  };
}

export interface VersionState {
  readonly version: string;
  readonly state: 'START' | 'LOADING' | 'AVAILABLE' | 'UNLOADING' | 'END';
}

/** GetModelStatusResponse as TF Serving writes it. */
export function statusResponse(versions: readonly VersionState[]): object {
  return {
    model_version_status: versions.map((v) => ({
      version: v.version,
      state: v.state,
      status: { error_code: 'OK', error_message: '' },
    })),
  };
}

function tensorInfo(name: string, dtype: string, shape: readonly number[]): object {
  return {
    dtype,
    tensor_shape: { dim: shape.map((d) => ({ size: String(d), name: '' })), unknown_rank: false },
    name: `${name}:0`,
  };
}

/** GetModelMetadataResponse: a signature_def map with serving_default and the classify/regress signature. */
export function metadataResponse(name: string, version: string, sig: Signature): object {
  const inputs = { [sig.inputName]: tensorInfo(sig.inputName, sig.dtype === 'uint8' ? 'DT_UINT8' : 'DT_FLOAT', [-1, ...sig.inputShape]) };
  const outShape = sig.task === 'regression' ? [-1] : [-1, sig.outputs];
  const outputs = { [sig.outputName]: tensorInfo(sig.outputName, 'DT_FLOAT', outShape) };
  const extra =
    sig.task === 'classification'
      ? {
          [METHOD_NAMES.classify]: {
            inputs,
            outputs: {
              classes: tensorInfo('classes', 'DT_STRING', [-1, sig.outputs]),
              scores: tensorInfo('scores', 'DT_FLOAT', [-1, sig.outputs]),
            },
            method_name: METHOD_NAMES.classify,
          },
        }
      : {
          [METHOD_NAMES.regress]: {
            inputs,
            outputs: { outputs: tensorInfo('outputs', 'DT_FLOAT', [-1]) },
            method_name: METHOD_NAMES.regress,
          },
        };
  return {
    model_spec: { name, signature_name: '', version },
    metadata: {
      signature_def: {
        signature_def: {
          serving_default: { inputs, outputs, method_name: METHOD_NAMES.predict },
          ...extra,
        },
      },
    },
  };
}

/** The V2 model metadata response. */
export function v2MetadataResponse(name: string, versions: readonly string[], sig: Signature): object {
  return {
    name,
    versions,
    platform: 'tensorflowjs_layers',
    inputs: [{ name: sig.inputName, datatype: v2Datatype(sig), shape: [-1, ...sig.inputShape] }],
    outputs: [{ name: sig.outputName, datatype: 'FP32', shape: sig.task === 'regression' ? [-1] : [-1, sig.outputs] }],
  };
}

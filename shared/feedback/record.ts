/**
 * One feedback record: what a served model was given, what it predicted, what the truth was, which
 * version answered, and when. The store writes one record per line of JSON (JSON Lines); the input
 * travels as the raw bytes the model was given (uint8 pixels or float32 features, little-endian),
 * base64-encoded, with its dtype and shape, so an export rebuilds the example exactly.
 */

export const FEEDBACK_RECORD_VERSION = 1;

export type InputDtype = 'uint8' | 'float32';

export interface FeedbackInput {
  readonly dtype: InputDtype;
  /** Shape of the one example, e.g. [28, 28, 1] or [13]. */
  readonly shape: readonly number[];
  /** The raw values, little-endian, base64. */
  readonly data: string;
}

export interface FeedbackRecord {
  readonly v: typeof FEEDBACK_RECORD_VERSION;
  /** The request id the prediction was answered with (X-Request-Id, or the V2 `id`). */
  readonly id: string;
  /** The example's index within that request (0 for single-example requests). */
  readonly index: number;
  readonly model: string;
  /** The version that made the prediction. */
  readonly version: string;
  /** That version's digest (registry manifest digest, or a folder's content digest). */
  readonly digest: string;
  /** The predicted class (argmax), by name. */
  readonly predicted: string;
  /** The true class the feedback gave, by name. */
  readonly label: string;
  /** When the prediction was made (ISO 8601). */
  readonly predictedAt: string;
  /** When the feedback arrived (ISO 8601). */
  readonly time: string;
  readonly input: FeedbackInput;
  /** Tabular models: the feature names, in input order (for a CSV export's header). */
  readonly features?: readonly string[];
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isString = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/** Values per example of a shape. */
export function perExample(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The bytes of one example's input, as the record holds it. */
export function encodeInput(dtype: InputDtype, shape: readonly number[], values: Uint8Array | Float32Array): FeedbackInput {
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  return { dtype, shape: [...shape], data: Buffer.from(bytes).toString('base64') };
}

/** The raw values of a record's input (a fresh array, aligned). */
export function decodeInput(input: FeedbackInput): Uint8Array | Float32Array {
  const bytes = Buffer.from(input.data, 'base64');
  const n = perExample(input.shape);
  if (input.dtype === 'uint8') {
    if (bytes.length !== n) throw new Error(`the input holds ${bytes.length} bytes; shape [${input.shape.join(',')}] needs ${n}`);
    return new Uint8Array(bytes);
  }
  if (bytes.length !== n * 4)
    throw new Error(`the input holds ${bytes.length} bytes; shape [${input.shape.join(',')}] of float32 needs ${n * 4}`);
  const out = new Float32Array(n);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

/** What is wrong with a parsed line, or undefined when it is a whole record. */
export function recordProblem(v: unknown): string | undefined {
  if (!isObject(v)) return 'not a JSON object';
  if (v['v'] !== FEEDBACK_RECORD_VERSION)
    return `record version ${JSON.stringify(v['v'])} (this modelship reads ${FEEDBACK_RECORD_VERSION})`;
  for (const k of ['id', 'model', 'version', 'digest', 'predicted', 'label', 'predictedAt', 'time'] as const) {
    if (!isString(v[k])) return `no ${k}`;
  }
  if (!Number.isSafeInteger(v['index']) || (v['index'] as number) < 0) return 'no example index';
  const input = v['input'];
  if (!isObject(input)) return 'no input';
  if (input['dtype'] !== 'uint8' && input['dtype'] !== 'float32') return `input dtype ${JSON.stringify(input['dtype'])}`;
  const shape = input['shape'];
  if (!Array.isArray(shape) || shape.length === 0 || !shape.every((d) => Number.isSafeInteger(d) && (d as number) > 0))
    return 'no input shape';
  if (typeof input['data'] !== 'string') return 'no input data';
  const features = v['features'];
  if (features !== undefined && !(Array.isArray(features) && features.every((f) => typeof f === 'string')))
    return 'features is not a list of names';
  return undefined;
}

/** One line of the store (with its newline). */
export function recordLine(r: FeedbackRecord): string {
  return `${JSON.stringify(r)}\n`;
}

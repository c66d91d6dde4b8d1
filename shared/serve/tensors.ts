/**
 * Request payloads → one typed array of raw input values, checked against the model's signature.
 * Pure functions over parsed JSON; every refusal is a 400 that names the expected shape, worded as
 * TF Serving words it where TF Serving has a message for the case (json_tensor.cc).
 *
 * Accepted, per API:
 * - `:predict` row format: `{"instances": [<example>, …]}`, an example being a nested list of the
 *   model's input shape, `{"b64": "<PNG/JPEG>"}` (image models), or `{"input": <either>}`; a plain
 *   number when the input shape is [1].
 * - `:predict` columnar format: `{"inputs": <nested list [N, …shape]>}` or `{"inputs": {"input": …}}`.
 * - `:classify` / `:regress`: `{"examples": [{"<feature>": <flat or nested values | b64>}], "context": {…}}`,
 *   one feature per example (context features merge into every example).
 * - V2 `infer`: `{"inputs": [{"name": "input", "shape": [N, …], "datatype": "UINT8", "data": [flat or nested]}]}`.
 *
 * NaN and ±Infinity are refused everywhere: JSON.parse rejects the NaN/Infinity tokens, and numbers
 * that overflow to ±Infinity (1e999) are refused here. Uint8 models take whole numbers 0..255.
 */
import { badRequest, preview } from './http-error.ts';
import { shapeText, type Signature } from './signature.ts';

export type InputArray = Uint8Array | Float32Array;

export interface EncodedImage {
  /** Example index in the batch. */
  readonly index: number;
  readonly bytes: Buffer;
}

export interface ParsedInput {
  readonly count: number;
  /** count × perExample raw values; examples given as images are filled in after decoding. */
  readonly x: InputArray;
  readonly images: readonly EncodedImage[];
}

const F32_MAX = 3.4028234663852886e38;

/** An error inside one example, wrapped by the caller with where it happened. */
class ValueError extends Error {}

function jsonType(v: unknown): string {
  if (v === null) return 'Null';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (Array.isArray(v)) return 'Array';
  if (typeof v === 'object') return 'Object';
  if (typeof v === 'string') return 'String';
  return 'Number';
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `{"b64": "<string>"}` and nothing else, as TF Serving recognises it. */
export function isB64(v: unknown): v is { b64: string } {
  return isRecord(v) && typeof v['b64'] === 'string' && Object.keys(v).length === 1;
}

const B64_RE = /^[A-Za-z0-9+/_-]*={0,2}$/;

function decodeB64(v: { b64: string }): Buffer {
  const text = v.b64.replace(/\s+/g, '');
  if (text.length === 0 || !B64_RE.test(text)) throw new ValueError('Unable to base64 decode');
  return Buffer.from(text, 'base64');
}

interface Sink {
  put(v: unknown): void;
  skip(n: number): void;
}

/** Writes checked values into the batch array. */
class Filler implements Sink {
  readonly x: InputArray;
  pos = 0;
  private readonly uint8: boolean;
  constructor(sig: Signature, count: number) {
    this.uint8 = sig.dtype === 'uint8';
    this.x = this.uint8 ? new Uint8Array(count * sig.perExample) : new Float32Array(count * sig.perExample);
  }
  put(v: unknown): void {
    if (typeof v !== 'number')
      throw new ValueError(`JSON Value: ${preview(v)} Type: ${jsonType(v)} is not of expected type: ${this.dtypeName()}`);
    if (this.uint8) {
      if (!Number.isInteger(v) || v < 0 || v > 255) {
        throw new ValueError(
          Number.isFinite(v)
            ? `JSON Value: ${preview(v)} Type: Number is not of expected type: uint8 (a whole number 0..255)`
            : `JSON Value: ${String(v)} is not a finite number; NaN and Infinity are refused`,
        );
      }
    } else if (!Number.isFinite(v)) {
      throw new ValueError(`JSON Value: ${String(v)} is not a finite number; NaN and Infinity are refused`);
    } else if (Math.abs(v) > F32_MAX) {
      throw new ValueError(`Cannot convert JSON value: ${preview(v)} to float without loss of precision.`);
    }
    this.x[this.pos++] = v;
  }
  skip(n: number): void {
    this.pos += n;
  }
  private dtypeName(): string {
    return this.uint8 ? 'uint8' : 'float';
  }
}

/**
 * Fills one value nested as `shape` (levels from `level`). Recursion depth is bounded by the
 * model's rank (trusted metadata), never by the request: a list deeper than the rank is an error.
 */
function fillNested(v: unknown, shape: readonly number[], level: number, f: Sink, levelOffset: number): void {
  const rank = shape.length;
  if (level === rank) {
    if (Array.isArray(v))
      throw new ValueError(`Encountered list at unexpected level: ${level + levelOffset} expected < ${rank + levelOffset}`);
    f.put(v);
    return;
  }
  if (!Array.isArray(v)) {
    throw new ValueError(
      `JSON Value: ${preview(v)} found at incorrect level: ${level + levelOffset + 1} in the JSON DOM. Expected at level: ${rank + levelOffset}`,
    );
  }
  if (v.length !== shape[level]) {
    throw new ValueError(
      `Encountered list at unexpected size: ${v.length} at level: ${level + levelOffset} expected size: ${shape[level]}`,
    );
  }
  if (level === rank - 1) {
    for (let i = 0; i < v.length; i++) {
      const e: unknown = v[i];
      if (Array.isArray(e))
        throw new ValueError(`Encountered list at unexpected level: ${rank + levelOffset} expected < ${rank + levelOffset}`);
      f.put(e);
    }
    return;
  }
  for (let i = 0; i < v.length; i++) fillNested(v[i], shape, level + 1, f, levelOffset);
}

/** Fills one example from a nested list, a number (input shape [1]) or a b64 image. */
function fillExample(v: unknown, sig: Signature, f: Filler, index: number, images: EncodedImage[], flatOk: boolean): void {
  if (isB64(v)) {
    if (!sig.image) {
      throw new ValueError(
        `JSON Value: ${preview(v)} is an encoded image, but this model takes ${sig.dtype} values of shape ${shapeText(sig.inputShape)}, not images`,
      );
    }
    images.push({ index, bytes: decodeB64(v) });
    f.skip(sig.perExample);
    return;
  }
  if (sig.perExample === 1 && sig.inputShape.length === 1 && !Array.isArray(v)) {
    f.put(v);
    return;
  }
  if (flatOk && Array.isArray(v) && v.length === sig.perExample && sig.inputShape.length > 1 && !Array.isArray(v[0])) {
    for (let i = 0; i < v.length; i++) f.put(v[i]);
    return;
  }
  fillNested(v, sig.inputShape, 0, f, 0);
}

function expectedRow(sig: Signature): string {
  return ` The model takes instances of shape ${shapeText(sig.inputShape)} (${sig.dtype}${sig.image ? ', or {"b64": <PNG/JPEG>}' : ''}).`;
}

function expectedBatch(sig: Signature): string {
  return ` The model takes 'inputs' of shape ${shapeText([-1, ...sig.inputShape])} (${sig.dtype}${sig.image ? ', or a list of {"b64": <PNG/JPEG>}' : ''}).`;
}

function checkSignatureName(doc: Record<string, unknown>, allowed: readonly string[]): void {
  const name = doc['signature_name'];
  if (name === undefined) return;
  if (typeof name !== 'string') {
    throw badRequest(`JSON Value: ${preview(doc)} not formatted correctly. 'signature_name' key must be a string value.`);
  }
  if (name !== '' && !allowed.includes(name)) throw badRequest(`Serving signature key "${name.slice(0, 100)}" not found.`);
}

export const PREDICT_SIGNATURES = ['serving_default', 'tensorflow/serving/predict'];

/** `:predict`, row (`instances`) or columnar (`inputs`) format. */
export function parsePredict(doc: Record<string, unknown>, sig: Signature): ParsedInput & { readonly format: 'row' | 'columnar' } {
  checkSignatureName(doc, PREDICT_SIGNATURES);
  const hasInstances = 'instances' in doc;
  const hasInputs = 'inputs' in doc;
  if (hasInstances && hasInputs) {
    throw badRequest(`JSON Value: ${preview(doc)} Not formatted correctly expecting only one of 'inputs' or 'instances' keys to exist `);
  }
  if (hasInstances) return { ...parseInstances(doc, sig), format: 'row' };
  if (hasInputs) return { ...parseColumnar(doc['inputs'], sig), format: 'columnar' };
  throw badRequest("Missing 'inputs' or 'instances' key");
}

function parseInstances(doc: Record<string, unknown>, sig: Signature): ParsedInput {
  const instances = doc['instances'];
  if (!Array.isArray(instances)) throw badRequest(`JSON Value: ${preview(doc)} Excepting 'instances' to be an list/array`);
  if (instances.length === 0) throw badRequest(`JSON Value: ${preview(doc)} No values in 'instances' array.${expectedRow(sig)}`);
  const f = new Filler(sig, instances.length);
  const images: EncodedImage[] = [];
  const named = isRecord(instances[0]) && !isB64(instances[0]);
  for (let i = 0; i < instances.length; i++) {
    let item: unknown = instances[i];
    try {
      if (named) {
        if (!isRecord(item) || isB64(item)) {
          throw badRequest(`Expecting object but got list at item ${i} of input list.${expectedRow(sig)}`);
        }
        const keys = Object.keys(item);
        if (keys.length !== 1 || keys[0] !== sig.inputName) {
          throw badRequest(
            `Failed to process element: ${i} of 'instances' list. JSON object: ${preview(item)} keys must be equal to: ${sig.inputName}`,
          );
        }
        item = item[sig.inputName];
      } else if (isRecord(item) && !isB64(item)) {
        throw badRequest(`Expecting value/list but got object at item ${i} of input list.${expectedRow(sig)}`);
      }
      fillExample(item, sig, f, i, images, false);
    } catch (err) {
      if (err instanceof ValueError) {
        throw badRequest(
          `Failed to process element: ${i}${named ? ` key: ${sig.inputName}` : ''} of 'instances' list. Error: ${err.message}.${expectedRow(sig)}`,
        );
      }
      throw err;
    }
  }
  return { count: instances.length, x: f.x, images };
}

function firstDim(v: unknown): number | string {
  if (Array.isArray(v)) return v.length;
  return isB64(v) ? 1 : `a ${jsonType(v).toLowerCase()}`;
}

function parseColumnar(inputs: unknown, sig: Signature): ParsedInput {
  let tensor = inputs;
  if (isRecord(inputs) && !isB64(inputs)) {
    const names = Object.keys(inputs);
    if (names.length > 1) {
      const dims = names.map((n) => [n, firstDim(inputs[n])] as const);
      if (new Set(dims.map((d) => d[1])).size > 1) {
        throw badRequest(
          `The named inputs in 'inputs' differ in their first (batch) dimension: ${dims.map(([n, d]) => `${n.slice(0, 40)} has ${d}`).join(', ')}.${expectedBatch(sig)}`,
        );
      }
      const extra = names.find((n) => n !== sig.inputName) ?? '';
      throw badRequest(
        `JSON object: unknown named input '${extra.slice(0, 40)}' in 'inputs'; the model takes one input, '${sig.inputName}'.`,
      );
    }
    if (names.length === 0 || names[0] !== sig.inputName) {
      throw badRequest(`Missing named input: ${sig.inputName} in 'inputs' object.${expectedBatch(sig)}`);
    }
    tensor = inputs[sig.inputName];
  }
  if (isB64(tensor)) {
    const f = new Filler(sig, 1);
    const images: EncodedImage[] = [];
    try {
      fillExample(tensor, sig, f, 0, images, false);
    } catch (err) {
      if (err instanceof ValueError) throw badRequest(`${err.message}.${expectedBatch(sig)}`);
      throw err;
    }
    return { count: 1, x: f.x, images };
  }
  if (!Array.isArray(tensor)) {
    throw badRequest(
      `JSON Value: ${preview(tensor)} found at incorrect level: 1 in the JSON DOM. Expected a list of examples.${expectedBatch(sig)}`,
    );
  }
  if (tensor.length === 0) throw badRequest(`No values in 'inputs'.${expectedBatch(sig)}`);
  const f = new Filler(sig, tensor.length);
  const images: EncodedImage[] = [];
  for (let i = 0; i < tensor.length; i++) {
    try {
      const item: unknown = tensor[i];
      if (isB64(item) || (sig.perExample === 1 && sig.inputShape.length === 1 && !Array.isArray(item))) {
        fillExample(item, sig, f, i, images, false);
      } else {
        fillNested(item, sig.inputShape, 0, f, 1);
      }
    } catch (err) {
      if (err instanceof ValueError) throw badRequest(`${err.message} (example ${i} of 'inputs').${expectedBatch(sig)}`);
      throw err;
    }
  }
  return { count: tensor.length, x: f.x, images };
}

export type ExampleVerb = 'classify' | 'regress';

export const METHOD_NAMES = {
  predict: 'tensorflow/serving/predict',
  classify: 'tensorflow/serving/classify',
  regress: 'tensorflow/serving/regress',
} as const;

/** `:classify` / `:regress`: tf.Example-style objects, one feature each (flat or nested values, or b64). */
export function parseExamples(doc: Record<string, unknown>, sig: Signature, verb: ExampleVerb): ParsedInput {
  const wanted = verb === 'classify' ? 'classification' : 'regression';
  if (sig.task !== wanted) {
    const was = sig.task === 'classification' ? METHOD_NAMES.classify : METHOD_NAMES.regress;
    throw badRequest(
      `Expected ${wanted} signature method_name to be ${METHOD_NAMES[verb]}. Was: ${was}. Use :${sig.task === 'classification' ? 'classify' : 'regress'} or :predict for this model.`,
    );
  }
  checkSignatureName(doc, ['serving_default', METHOD_NAMES[verb]]);
  const context = doc['context'];
  if (context !== undefined && !isRecord(context)) throw badRequest(`Example must be JSON object but got JSON ${jsonType(context)}`);
  const examples = doc['examples'];
  if (examples === undefined)
    throw badRequest(`JSON Value: ${preview(doc)} When method is ${verb}, key 'examples' is expected and was not found`);
  if (!Array.isArray(examples)) throw badRequest(`JSON Value: ${preview(doc)} Expecting 'examples' value to be an list/array`);
  if (examples.length === 0) throw badRequest(`JSON Value: ${preview(doc)} 'examples' value is an empty array.${expectedRow(sig)}`);
  const f = new Filler(sig, examples.length);
  const images: EncodedImage[] = [];
  for (let i = 0; i < examples.length; i++) {
    const ex: unknown = examples[i];
    if (!isRecord(ex)) throw badRequest(`Example must be JSON object but got JSON ${jsonType(ex)}`);
    const features = context ? { ...context, ...ex } : ex;
    const names = Object.keys(features);
    if (names.length !== 1) {
      throw badRequest(
        `Example ${i} has ${names.length} features (${names.map((n) => n.slice(0, 40)).join(', ') || 'none'}); this model takes one feature per example holding its input.${expectedRow(sig)}`,
      );
    }
    try {
      fillExample(features[names[0]], sig, f, i, images, true);
    } catch (err) {
      if (err instanceof ValueError)
        throw badRequest(`Feature: ${names[0].slice(0, 40)} of example ${i}: ${err.message}.${expectedRow(sig)}`);
      throw err;
    }
  }
  return { count: examples.length, x: f.x, images };
}

/** The Open Inference Protocol's tensor datatypes and the range of the whole-number ones. */
const V2_INT_RANGES: Readonly<Record<string, readonly [number, number]>> = {
  UINT8: [0, 255],
  UINT16: [0, 65535],
  UINT32: [0, 4294967295],
  UINT64: [0, Number.MAX_SAFE_INTEGER],
  INT8: [-128, 127],
  INT16: [-32768, 32767],
  INT32: [-2147483648, 2147483647],
  INT64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};
const V2_FLOAT_MAX: Readonly<Record<string, number>> = { FP16: 65504, FP32: F32_MAX, FP64: Number.MAX_VALUE };
export const V2_DATATYPES = [...Object.keys(V2_INT_RANGES), ...Object.keys(V2_FLOAT_MAX), 'BOOL', 'BYTES'];

export function v2Datatype(sig: Signature): 'UINT8' | 'FP32' {
  return sig.dtype === 'uint8' ? 'UINT8' : 'FP32';
}

export interface InferRequest {
  readonly input: ParsedInput;
  readonly id?: string;
  /** Output names the client asked for (undefined: all). */
  readonly outputs?: readonly string[];
}

/** V2 `infer`: typed inputs with an explicit shape and datatype. */
export function parseInfer(doc: Record<string, unknown>, sig: Signature, modelName: string): InferRequest {
  const expected = ` The model takes one input, '${sig.inputName}', of shape ${shapeText([-1, ...sig.inputShape])} and datatype ${v2Datatype(sig)}.`;
  const id = doc['id'];
  if (id !== undefined && typeof id !== 'string') throw badRequest("'id' must be a string.");
  const inputs = doc['inputs'];
  if (!Array.isArray(inputs) || inputs.length === 0) throw badRequest(`'inputs' must be a non-empty list of tensors.${expected}`);
  for (const t of inputs) {
    if (!isRecord(t)) throw badRequest(`Each entry of 'inputs' must be an object with name, shape, datatype and data.${expected}`);
  }
  const tensors = inputs as Record<string, unknown>[];
  if (tensors.length > 1) {
    const dims = tensors.map(
      (t) => [String(t['name']).slice(0, 40), Array.isArray(t['shape']) ? (t['shape'][0] as unknown) : '?'] as const,
    );
    if (new Set(dims.map((d) => String(d[1]))).size > 1) {
      throw badRequest(
        `The inputs differ in their first (batch) dimension: ${dims.map(([n, d]) => `'${n}' has ${String(d)}`).join(', ')}.${expected}`,
      );
    }
  }
  const t = tensors.find((x) => x['name'] !== sig.inputName) ?? tensors[0];
  if (t['name'] !== sig.inputName || tensors.length > 1) {
    const name = typeof t['name'] === 'string' ? t['name'].slice(0, 40) : preview(t['name'], 40);
    throw badRequest(`unexpected inference input '${name}' for model '${modelName}'.${expected}`);
  }
  const datatype = t['datatype'];
  if (typeof datatype !== 'string' || !V2_DATATYPES.includes(datatype)) {
    throw badRequest(
      `input '${sig.inputName}': datatype ${preview(datatype, 40)} is not an Open Inference Protocol datatype (${V2_DATATYPES.join(', ')}).`,
    );
  }
  if (datatype === 'BOOL' || datatype === 'BYTES') {
    throw badRequest(`input '${sig.inputName}': datatype ${datatype} cannot feed this model.${expected}`);
  }
  const shape = t['shape'];
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && (d as number) >= 0)) {
    throw badRequest(`input '${sig.inputName}': 'shape' must be a list of whole numbers.${expected}`);
  }
  const dims = shape as number[];
  const matches = dims.length === sig.inputShape.length + 1 && sig.inputShape.every((d, i) => dims[i + 1] === d);
  if (!matches) throw badRequest(`input '${sig.inputName}': shape ${shapeText(dims)} does not match the model's input.${expected}`);
  const count = dims[0];
  if (count === 0) throw badRequest(`input '${sig.inputName}': shape ${shapeText(dims)} has no examples.${expected}`);
  const data = t['data'];
  if (!Array.isArray(data))
    throw badRequest(`input '${sig.inputName}': 'data' must be a list (flat in row-major order, or nested as the shape).${expected}`);
  const f = new Filler(sig, count);
  const range = V2_INT_RANGES[datatype];
  const fmax = V2_FLOAT_MAX[datatype];
  const typed: Sink = {
    put: (v: unknown): void => {
      if (typeof v === 'number') {
        if (range && (!Number.isInteger(v) || v < range[0] || v > range[1])) {
          throw new ValueError(`value ${preview(v)} is not a ${datatype} (whole numbers ${range[0]}..${range[1]})`);
        }
        if (fmax !== undefined && !(Math.abs(v) <= fmax))
          throw new ValueError(`value ${String(v)} is not a finite ${datatype}; NaN and Infinity are refused`);
      }
      f.put(v);
    },
    skip: (n: number): void => f.skip(n),
  };
  try {
    const total = count * sig.perExample;
    if (data.length > 0 && Array.isArray(data[0])) {
      fillNested(data, dims, 0, typed, 0);
    } else {
      if (data.length !== total) {
        throw new ValueError(`data has ${data.length} values; shape ${shapeText(dims)} needs ${total}`);
      }
      for (let i = 0; i < total; i++) typed.put(data[i]);
    }
  } catch (err) {
    if (err instanceof ValueError) throw badRequest(`input '${sig.inputName}': ${err.message}.${expected}`);
    throw err;
  }
  const requested = doc['outputs'];
  let outputs: string[] | undefined;
  if (requested !== undefined) {
    if (!Array.isArray(requested) || !requested.every((o) => isRecord(o) && typeof o['name'] === 'string')) {
      throw badRequest("'outputs' must be a list of objects with a 'name'.");
    }
    outputs = (requested as { name: string }[]).map((o) => o.name);
    const unknown = outputs.find((n) => n !== sig.outputName);
    if (unknown !== undefined) {
      throw badRequest(
        `unexpected inference output '${unknown.slice(0, 40)}' for model '${modelName}'; it has one output, '${sig.outputName}'.`,
      );
    }
  }
  return { input: { count, x: f.x, images: [] }, ...(typeof id === 'string' ? { id } : {}), ...(outputs ? { outputs } : {}) };
}

/**
 * A fast path for the most common request, `{"instances": [<example>, …]}` or `{"inputs": […]}`
 * with plain numbers nested exactly as the model's input shape: scanned once, straight from the
 * bytes into the typed array, with no JSON.parse and no intermediate JS arrays. It returns
 * undefined for anything else (other keys, objects, b64, strings, a wrong shape, a value out of
 * range, odd JSON), and the general path then answers, with its error messages; so it accepts only
 * requests the general path accepts, with the same values. A loop with one counter per level of the
 * model's shape: untrusted nesting never recurses.
 */
export function fastPredict(
  bytes: Uint8Array,
  sig: Signature,
  maxDepth: number,
): (ParsedInput & { readonly format: 'row' | 'columnar' }) | undefined {
  const shape = sig.inputShape;
  const rank = shape.length;
  if (rank === 0 || rank + 2 > maxDepth || shape.some((d) => !(d > 0))) return undefined;
  const n = bytes.length;
  const uint8 = sig.dtype === 'uint8';
  const per = sig.perExample;
  const last = shape[rank - 1];
  let pos = 0;
  const ws = (): void => {
    while (pos < n) {
      const c = bytes[pos];
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++;
      else break;
    }
  };
  const key = (word: string): boolean => {
    if (bytes[pos] !== 0x22) return false;
    for (let i = 0; i < word.length; i++) if (bytes[pos + 1 + i] !== word.charCodeAt(i)) return false;
    if (bytes[pos + 1 + word.length] !== 0x22) return false;
    pos += word.length + 2;
    return true;
  };
  ws();
  if (bytes[pos++] !== 0x7b) return undefined;
  ws();
  let format: 'row' | 'columnar';
  if (key('instances')) format = 'row';
  else if (key('inputs')) format = 'columnar';
  else return undefined;
  ws();
  if (bytes[pos++] !== 0x3a) return undefined;
  ws();
  if (bytes[pos++] !== 0x5b) return undefined;

  let cap = 4;
  let x: InputArray = uint8 ? new Uint8Array(cap * per) : new Float32Array(cap * per);
  let k = 0;
  let count = 0;
  const counts = new Int32Array(rank);
  let depth = 0;
  let need = true;
  for (;;) {
    if (pos >= n) return undefined;
    const c = bytes[pos];
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
      pos++;
      continue;
    }
    if (c === 0x5b) {
      if (!need || depth === rank) return undefined;
      if (depth === 0) {
        if (count === cap) {
          cap *= 2;
          const bigger: InputArray = uint8 ? new Uint8Array(cap * per) : new Float32Array(cap * per);
          bigger.set(x);
          x = bigger;
        }
      } else if (counts[depth - 1] >= shape[depth - 1]) {
        return undefined;
      }
      counts[depth] = 0;
      depth++;
      pos++;
    } else if (c === 0x5d) {
      if (need) return undefined;
      pos++;
      if (depth === 0) break;
      if (counts[depth - 1] !== shape[depth - 1]) return undefined;
      depth--;
      if (depth === 0) count++;
      else counts[depth - 1]++;
    } else if (c === 0x2c) {
      if (need) return undefined;
      need = true;
      pos++;
      continue;
    } else {
      if (depth !== rank || counts[rank - 1] >= last) return undefined;
      const start = pos;
      let neg = false;
      if (c === 0x2d) {
        neg = true;
        pos++;
      }
      const intStart = pos;
      let int = 0;
      while (pos < n) {
        const d = bytes[pos] - 0x30;
        if (d < 0 || d > 9) break;
        int = int * 10 + d;
        pos++;
      }
      const digits = pos - intStart;
      if (digits === 0 || (digits > 1 && bytes[intStart] === 0x30)) return undefined;
      let v: number;
      const after = bytes[pos];
      if (after === 0x2e || after === 0x65 || after === 0x45 || digits > 15) {
        if (bytes[pos] === 0x2e) {
          pos++;
          const f = pos;
          while (pos < n && bytes[pos] >= 0x30 && bytes[pos] <= 0x39) pos++;
          if (pos === f) return undefined;
        }
        if (bytes[pos] === 0x65 || bytes[pos] === 0x45) {
          pos++;
          if (bytes[pos] === 0x2b || bytes[pos] === 0x2d) pos++;
          const e = pos;
          while (pos < n && bytes[pos] >= 0x30 && bytes[pos] <= 0x39) pos++;
          if (pos === e) return undefined;
        }
        v = Number(Buffer.from(bytes.buffer, bytes.byteOffset + start, pos - start).toString('latin1'));
      } else {
        v = neg ? -int : int;
      }
      if (uint8) {
        if (!Number.isInteger(v) || v < 0 || v > 255) return undefined;
      } else if (!Number.isFinite(v) || Math.abs(v) > F32_MAX) {
        return undefined;
      }
      x[k++] = v;
      counts[rank - 1]++;
    }
    need = false;
    if (c === 0x5b) need = true;
  }
  if (count === 0) return undefined;
  ws();
  if (bytes[pos++] !== 0x7d) return undefined;
  ws();
  if (pos !== n) return undefined;
  return { count, x: x.subarray(0, count * per), images: [], format };
}

/**
 * Saving and loading model folders without tfjs-node: tfjs layers `model.json` + one weight file,
 * written through `tf.io.withSaveHandler` and read back through `tf.io.fromMemory`.
 *
 * Loading checks the folder before tfjs sees it: the topology must be a layers model made only of
 * built-in layer classes (nothing that can run code: no Lambda layers, no custom objects), every
 * weight path must stay inside the folder (no `../`, absolute paths or URLs), every file read must
 * be a regular file inside it (no symbolic link, FIFO or device: the shared safe reader in
 * util/fs.ts), and the weight files must hold exactly the bytes the manifest describes. The model
 * server loads through here too.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import {
  buildDirAtomic,
  ConfigurationError,
  folder,
  isInside,
  readFileInside,
  readTextInside,
  writeFileAtomic,
  type Folder,
} from '../util/index.ts';
import {
  HISTORY_FILE,
  MODEL_CARD_FILE,
  MODEL_JSON_FILE,
  MODEL_METADATA_FILE,
  MODEL_SCHEMA_VERSION,
  type EpochRecord,
  type ModelMetadata,
  WEIGHTS_FILE,
} from './metadata.ts';

/** Layer classes a model folder may use: tfjs-layers built-ins that only compute, never run user code. */
export const ALLOWED_LAYER_CLASSES: ReadonlySet<string> = new Set([
  'InputLayer', 'Sequential', 'Model', 'Functional',
  'Dense', 'Flatten', 'Activation', 'Dropout', 'SpatialDropout1D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout',
  'Reshape', 'Permute', 'RepeatVector', 'Masking', 'Embedding',
  'Conv1D', 'Conv2D', 'Conv3D', 'Conv2DTranspose', 'Conv3DTranspose', 'SeparableConv2D', 'DepthwiseConv2D',
  'Cropping2D', 'UpSampling2D', 'ZeroPadding2D',
  'MaxPooling1D', 'MaxPooling2D', 'MaxPooling3D', 'AveragePooling1D', 'AveragePooling2D', 'AveragePooling3D',
  'GlobalAveragePooling1D', 'GlobalMaxPooling1D', 'GlobalAveragePooling2D', 'GlobalMaxPooling2D',
  'BatchNormalization', 'LayerNormalization',
  'ReLU', 'LeakyReLU', 'PReLU', 'ELU', 'ThresholdedReLU', 'Softmax',
  'Add', 'Multiply', 'Average', 'Maximum', 'Minimum', 'Concatenate', 'Dot',
  'SimpleRNN', 'SimpleRNNCell', 'GRU', 'GRUCell', 'LSTM', 'LSTMCell', 'StackedRNNCells', 'RNN', 'TimeDistributed', 'Bidirectional',
  'Rescaling', 'CenterCrop', 'Resizing',
]); // prettier-ignore

export interface SaveExtras {
  readonly history?: readonly EpochRecord[];
  readonly modelCard?: string;
  /** More files to put in the folder (name → content); names must be plain file names. */
  readonly files?: Readonly<Record<string, string | Uint8Array>>;
}

export interface LoadedModel {
  readonly model: tfl.LayersModel;
  readonly metadata: ModelMetadata;
  readonly dir: string;
}

/** The tfjs layers `model.json` and its weight bytes, in memory. */
export interface ModelFiles {
  readonly modelJson: tf.io.ModelJSON;
  readonly weights: Uint8Array;
}

/** Serialises a model into `model.json` (weights in {@link WEIGHTS_FILE}) and its weight bytes. */
export async function serializeModel(model: tfl.LayersModel): Promise<ModelFiles> {
  let files: ModelFiles | undefined;
  await model.save(
    tf.io.withSaveHandler((artifacts) => {
      const data = artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
      files = {
        modelJson: {
          format: 'layers-model',
          generatedBy: `TensorFlow.js tfjs-layers v${tfl.version_layers}`,
          convertedBy: null,
          modelTopology: artifacts.modelTopology as object,
          weightsManifest: [{ paths: [WEIGHTS_FILE], weights: artifacts.weightSpecs ?? [] }],
        },
        weights: new Uint8Array(data),
      };
      return Promise.resolve({ modelArtifactsInfo: { dateSaved: new Date(0), modelTopologyType: 'JSON' } });
    }),
  );
  if (!files) throw new Error('tfjs did not hand the model to the save handler.');
  return files;
}

/** Writes `model.json` and the weight file into an existing folder (each file atomically). */
export async function writeModelFiles(dir: string, files: ModelFiles): Promise<void> {
  await writeFileAtomic(path.join(dir, WEIGHTS_FILE), files.weights);
  await writeFileAtomic(path.join(dir, MODEL_JSON_FILE), `${JSON.stringify(files.modelJson)}\n`);
}

/**
 * Writes a complete model folder atomically (built in a temporary sibling, then renamed):
 * model.json + weights, modelship.json and, when given, history.json and model-card.md.
 */
export async function saveModel(model: tfl.LayersModel, dir: string, metadata: ModelMetadata, extras: SaveExtras = {}): Promise<string> {
  const files = await serializeModel(model);
  const target = path.resolve(dir);
  await buildDirAtomic(target, async (tmp) => {
    await writeModelFiles(tmp, files);
    await writeFileAtomic(path.join(tmp, MODEL_METADATA_FILE), `${JSON.stringify(metadata, null, 2)}\n`);
    if (extras.history) await writeFileAtomic(path.join(tmp, HISTORY_FILE), `${JSON.stringify(extras.history, null, 2)}\n`);
    if (extras.modelCard !== undefined) await writeFileAtomic(path.join(tmp, MODEL_CARD_FILE), extras.modelCard);
    for (const [name, content] of Object.entries(extras.files ?? {})) {
      if (name !== path.basename(name) || name.startsWith('.'))
        throw new Error(`extra model file name '${name}' must be a plain file name.`);
      await writeFileAtomic(path.join(tmp, name), content);
    }
  });
  return target;
}

const DTYPE_BYTES: Readonly<Record<string, number>> = { float32: 4, int32: 4, bool: 1, uint8: 1 };

function notModel(dir: string, why: string): ConfigurationError {
  return new ConfigurationError(`'${dir}' is not a modelship model folder: ${why}.`, 'Pass the model-dir output of train.');
}

function badModel(dir: string, why: string): ConfigurationError {
  return new ConfigurationError(
    `model folder '${dir}' is refused: ${why}.`,
    'Use a model folder written by modelship train (tfjs layers format, built-in layers only).',
  );
}

/** Walks a layers topology and returns every layer class name in it (nested models and wrappers included). */
function layerClasses(layer: unknown, out: string[] = []): string[] {
  if (!layer || typeof layer !== 'object' || Array.isArray(layer)) {
    out.push('(not a layer)');
    return out;
  }
  const obj = layer as Record<string, unknown>;
  out.push(typeof obj['class_name'] === 'string' ? obj['class_name'] : '(no class_name)');
  const config = obj['config'];
  if (!config || typeof config !== 'object') return out;
  const c = config as Record<string, unknown>;
  for (const key of ['layers', 'cells']) {
    const list = c[key];
    if (Array.isArray(list)) for (const inner of list) layerClasses(inner, out);
  }
  for (const key of ['layer', 'cell', 'forward_layer', 'backward_layer']) {
    const inner = c[key];
    if (Array.isArray(inner)) for (const item of inner) layerClasses(item, out);
    else if (inner !== undefined) layerClasses(inner, out);
  }
  return out;
}

/** Reads a file of a model folder through the safe reader; undefined when it is missing. */
async function readOptional<T>(f: Folder, rel: string, read: (f: Folder, rel: string) => Promise<T>): Promise<T | undefined> {
  try {
    return await read(f, rel);
  } catch (err) {
    if (err instanceof ConfigurationError) throw err;
    return undefined;
  }
}

/**
 * Checks model.json and returns the weight bytes, in manifest order. Pure apart from reading files.
 * `what` names the folder in errors (a model folder, a checkpoint).
 */
export async function readModelFiles(dir: string, what = 'model folder'): Promise<ModelFiles> {
  const f = folder(dir, what, dir);
  const text = await readOptional(f, MODEL_JSON_FILE, readTextInside);
  if (text === undefined) throw notModel(dir, `no ${MODEL_JSON_FILE}`);
  let json: tf.io.ModelJSON;
  try {
    json = JSON.parse(text) as tf.io.ModelJSON;
  } catch (err) {
    throw badModel(dir, `${MODEL_JSON_FILE} is not valid JSON (${(err as Error).message})`);
  }
  if (!json || typeof json !== 'object' || !json.modelTopology || typeof json.modelTopology !== 'object') {
    throw badModel(dir, `${MODEL_JSON_FILE} has no modelTopology`);
  }
  const topology = json.modelTopology as Record<string, unknown>;
  if (
    (json.format !== undefined && json.format !== 'layers-model') ||
    'node' in topology ||
    !('class_name' in topology || 'model_config' in topology)
  ) {
    throw badModel(dir, `${MODEL_JSON_FILE} is a ${json.format ?? 'non-layers'} model; only tfjs layers models are accepted`);
  }
  const root = (topology['model_config'] ?? topology) as unknown;
  const classes = layerClasses(root);
  const refused = [...new Set(classes.filter((c) => !ALLOWED_LAYER_CLASSES.has(c)))];
  if (refused.length > 0) {
    throw badModel(
      dir,
      `it uses layer class${refused.length > 1 ? 'es' : ''} ${refused.join(', ')}, which can run code or is not a built-in tfjs layer`,
    );
  }
  const manifest = json.weightsManifest;
  if (!Array.isArray(manifest)) throw badModel(dir, `${MODEL_JSON_FILE} has no weightsManifest`);
  const parts: Uint8Array[] = [];
  for (const group of manifest) {
    const expected = (group.weights ?? []).reduce((sum, w) => {
      if (w.quantization) throw badModel(dir, `weight '${w.name}' is quantised, which modelship does not load`);
      const bytes = DTYPE_BYTES[w.dtype];
      if (bytes === undefined) throw badModel(dir, `weight '${w.name}' has unsupported dtype '${String(w.dtype)}'`);
      return sum + w.shape.reduce((a, b) => a * b, 1) * bytes;
    }, 0);
    let got = 0;
    for (const p of group.paths ?? []) {
      if (
        typeof p !== 'string' ||
        p === '' ||
        /^[a-z][a-z0-9+.-]*:/i.test(p) ||
        p.startsWith('//') ||
        path.isAbsolute(p) ||
        path.win32.isAbsolute(p)
      ) {
        throw badModel(dir, `weight path '${String(p)}' is absolute or a URL; weights must be files inside the model folder`);
      }
      const file = path.resolve(dir, p);
      if (p.split(/[\\/]/).includes('..') || !isInside(dir, file)) throw badModel(dir, `weight path '${p}' leaves the model folder`);
      const buf = await readOptional(f, p, readFileInside);
      if (buf === undefined) throw badModel(dir, `weight file '${p}' is missing`);
      got += buf.byteLength;
      parts.push(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength));
    }
    if (got !== expected) {
      const names = (group.paths ?? []).join(', ');
      throw badModel(
        dir,
        `weight file${(group.paths ?? []).length > 1 ? 's' : ''} ${names} hold${(group.paths ?? []).length > 1 ? '' : 's'} ${got} bytes; ${MODEL_JSON_FILE} describes ${expected}`,
      );
    }
  }
  const total = parts.reduce((a, p) => a + p.byteLength, 0);
  const weights = new Uint8Array(total);
  let offset = 0;
  for (const p of parts) {
    weights.set(p, offset);
    offset += p.byteLength;
  }
  return { modelJson: json, weights };
}

/** Builds a tfjs model from checked files (no file access by tfjs itself). */
export async function modelFromFiles(files: ModelFiles): Promise<tfl.LayersModel> {
  const weightSpecs = files.modelJson.weightsManifest.flatMap((g) => g.weights);
  const weightData = files.weights.buffer.slice(
    files.weights.byteOffset,
    files.weights.byteOffset + files.weights.byteLength,
  ) as ArrayBuffer;
  return tfl.loadLayersModel(tf.io.fromMemory({ modelTopology: files.modelJson.modelTopology, weightSpecs, weightData }));
}

/** Reads and checks `modelship.json`. */
export async function readMetadata(dir: string): Promise<ModelMetadata> {
  const text = await readOptional(folder(dir, 'model folder', dir), MODEL_METADATA_FILE, readTextInside);
  if (text === undefined) throw notModel(dir, `no ${MODEL_METADATA_FILE}`);
  let metadata: ModelMetadata;
  try {
    metadata = JSON.parse(text) as ModelMetadata;
  } catch (err) {
    throw badModel(dir, `${MODEL_METADATA_FILE} is not valid JSON (${(err as Error).message})`);
  }
  if (metadata?.kind !== 'modelship.model' || metadata.schemaVersion !== MODEL_SCHEMA_VERSION) {
    throw badModel(dir, `${MODEL_METADATA_FILE} is not modelship model metadata of schema version ${MODEL_SCHEMA_VERSION}`);
  }
  return metadata;
}

/** Loads a model folder written by {@link saveModel}, after checking it (see the module comment). */
export async function loadModel(dir: string): Promise<LoadedModel> {
  const resolved = path.resolve(dir);
  try {
    if (!(await stat(resolved)).isDirectory()) throw notModel(dir, 'it is not a folder');
  } catch (err) {
    if (err instanceof ConfigurationError) throw err;
    throw notModel(dir, 'it does not exist');
  }
  const files = await readModelFiles(resolved);
  const metadata = await readMetadata(resolved);
  let model: tfl.LayersModel;
  try {
    model = await modelFromFiles(files);
  } catch (err) {
    throw badModel(dir, `tfjs cannot build it (${(err as Error).message.split('\n')[0]})`);
  }
  return { model, metadata, dir: resolved };
}

/**
 * Checkpoints: after every epoch, the whole training state in one folder, replaced atomically
 * (built in a temporary sibling, then renamed), so an interrupt leaves the previous good one.
 *
 * `<output-dir>/.checkpoint/`: model.json + weights.bin (weights after the epoch), best.bin (the
 * weights of the best epoch so far, same layout), optimizer.bin + optimizer.json (Adam's moments and
 * step count), state.json (epoch, history, RNG states, early-stopping counters, params, data digest).
 */
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { type BackendName, type EpochRecord, type ModelFiles, readModelFiles, type TrainParams, writeModelFiles } from '../model/index.ts';
import { buildDirAtomic, ConfigurationError, folder, readFileInside, readTextInside, statInside, writeFileAtomic } from '../util/index.ts';
import { CHECKPOINT_DIR } from './options.ts';

export { CHECKPOINT_DIR };
export const CHECKPOINT_STATE_FILE = 'state.json';
const BEST_FILE = 'best.bin';
const OPTIMIZER_FILE = 'optimizer.bin';
const OPTIMIZER_SPECS_FILE = 'optimizer.json';

export interface CheckpointState {
  readonly kind: 'modelship.checkpoint';
  readonly schemaVersion: 1;
  /** Epochs completed. */
  readonly epoch: number;
  readonly history: readonly EpochRecord[];
  readonly params: TrainParams;
  readonly datasetDigest: string;
  readonly backend: BackendName;
  readonly rng: { readonly shuffle: number; readonly dropout: number };
  readonly best?: { readonly epoch: number; readonly valLoss: number };
  readonly epochsSinceBest: number;
  readonly startedAt: string;
  /** Training seconds spent so far (all sessions). */
  readonly elapsedSeconds: number;
}

export interface Checkpoint {
  readonly dir: string;
  readonly state: CheckpointState;
  readonly files: ModelFiles;
  readonly bestWeights?: Uint8Array;
  readonly optimizer?: { readonly specs: tf.io.WeightsManifestEntry[]; readonly data: Uint8Array };
}

export interface CheckpointWrite {
  readonly state: CheckpointState;
  readonly files: ModelFiles;
  readonly bestWeights?: Uint8Array;
  readonly optimizer: tf.Optimizer;
}

export async function writeCheckpoint(dir: string, ck: CheckpointWrite): Promise<void> {
  const named = await ck.optimizer.getWeights();
  const encoded = await tf.io.encodeWeights(named);
  // getWeights hands out the optimizer's own moment variables; only the step counter is a new tensor.
  if (named[0]?.name === 'iter') named[0].tensor.dispose();
  const optData = new Uint8Array(tf.io.CompositeArrayBuffer.join(encoded.data));
  await buildDirAtomic(dir, async (tmp) => {
    await writeModelFiles(tmp, ck.files);
    if (ck.bestWeights) await writeFileAtomic(path.join(tmp, BEST_FILE), ck.bestWeights);
    await writeFileAtomic(path.join(tmp, OPTIMIZER_FILE), optData);
    await writeFileAtomic(path.join(tmp, OPTIMIZER_SPECS_FILE), `${JSON.stringify(encoded.specs)}\n`);
    // state.json last: a folder with it is complete.
    await writeFileAtomic(path.join(tmp, CHECKPOINT_STATE_FILE), `${JSON.stringify(ck.state, null, 2)}\n`);
  });
}

/** True for a regular file (a link named like one is not: the safe reader refuses it when read). */
async function isFile(p: string): Promise<boolean> {
  try {
    const st = await lstat(p);
    return st.isFile() || st.isSymbolicLink();
  } catch {
    return false;
  }
}

/** Finds the checkpoint in `dirOrModelDir` (the checkpoint folder itself or a folder holding `.checkpoint/`). */
export async function findCheckpoint(dirOrModelDir: string): Promise<string | undefined> {
  if (await isFile(path.join(dirOrModelDir, CHECKPOINT_STATE_FILE))) return dirOrModelDir;
  const inner = path.join(dirOrModelDir, CHECKPOINT_DIR);
  if (await isFile(path.join(inner, CHECKPOINT_STATE_FILE))) return inner;
  return undefined;
}

export async function readCheckpoint(dirOrModelDir: string, inputName = 'resume-from'): Promise<Checkpoint> {
  const dir = await findCheckpoint(dirOrModelDir);
  if (!dir) {
    throw new ConfigurationError(
      `${inputName} '${dirOrModelDir}' holds no checkpoint (no ${CHECKPOINT_STATE_FILE}, no ${CHECKPOINT_DIR}/ folder).`,
      `Pass the output-dir of the interrupted run (or its ${CHECKPOINT_DIR} folder); a finished run needs no resume.`,
    );
  }
  // Every file of the checkpoint through the safe reader: regular files inside the folder only.
  const f = folder(dir, `input '${inputName}' checkpoint folder`, dir);
  let state: CheckpointState;
  try {
    state = JSON.parse(await readTextInside(f, CHECKPOINT_STATE_FILE)) as CheckpointState;
  } catch (err) {
    if (err instanceof ConfigurationError) throw err;
    throw new ConfigurationError(
      `${inputName} '${dir}': ${CHECKPOINT_STATE_FILE} is unreadable (${(err as Error).message}).`,
      'Start the training again without resume-from.',
    );
  }
  if (state.kind !== 'modelship.checkpoint' || state.schemaVersion !== 1) {
    throw new ConfigurationError(
      `${inputName} '${dir}' is not a modelship checkpoint of schema version 1.`,
      'Start the training again without resume-from.',
    );
  }
  const files = await readModelFiles(dir, `input '${inputName}' checkpoint folder`);
  const bestWeights = (await statInside(f, BEST_FILE)) ? new Uint8Array(await readFileInside(f, BEST_FILE)) : undefined;
  let optimizer: Checkpoint['optimizer'];
  if (await statInside(f, OPTIMIZER_FILE)) {
    const specs = JSON.parse(await readTextInside(f, OPTIMIZER_SPECS_FILE)) as tf.io.WeightsManifestEntry[];
    optimizer = { specs, data: new Uint8Array(await readFileInside(f, OPTIMIZER_FILE)) };
  }
  return { dir, state, files, ...(bestWeights ? { bestWeights } : {}), ...(optimizer ? { optimizer } : {}) };
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** Restores Adam's state (step count and moments, in the optimizer's own order). */
export async function restoreOptimizer(optimizer: tf.Optimizer, saved: NonNullable<Checkpoint['optimizer']>): Promise<void> {
  const map = tf.io.decodeWeights(toArrayBuffer(saved.data), saved.specs);
  await optimizer.setWeights(saved.specs.map((s) => ({ name: s.name, tensor: map[s.name] })));
  for (const t of Object.values(map)) t.dispose();
}

/** Sets a model's weights from bytes laid out like its own weights.bin. */
export function setWeightsFromBytes(model: tfl.LayersModel, specs: readonly tf.io.WeightsManifestEntry[], bytes: Uint8Array): void {
  const map = tf.io.decodeWeights(toArrayBuffer(bytes), [...specs]);
  const tensors = specs.map((s) => map[s.name]);
  model.setWeights(tensors);
  for (const t of Object.values(map)) t.dispose();
}

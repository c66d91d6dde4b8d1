/**
 * Reading a prepared data set folder: its manifest and its per-split tensors.
 * Used by train, evaluate-gate, register and monitor-check.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ConfigurationError } from '../util/index.ts';
import { DATASET_SCHEMA_VERSION, MANIFEST_FILE, type DatasetManifest, type SplitName, type TensorFile } from './manifest.ts';

export type TensorArray = Uint8Array | Int32Array | Float32Array;

export interface LoadedDataset {
  readonly dir: string;
  readonly manifestPath: string;
  readonly manifest: DatasetManifest;
}

/** Accepts a data set folder or the path of its manifest.json. */
export async function loadManifest(dirOrManifest: string, inputName = 'dataset'): Promise<LoadedDataset> {
  let manifestPath = path.resolve(dirOrManifest);
  try {
    if ((await stat(manifestPath)).isDirectory()) manifestPath = path.join(manifestPath, MANIFEST_FILE);
  } catch {
    throw new ConfigurationError(
      `${inputName} '${dirOrManifest}' does not exist.`,
      `Pass the dataset-dir or manifest output of setup-data as ${inputName}.`,
    );
  }
  let manifest: DatasetManifest;
  try {
    manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as DatasetManifest;
  } catch (err) {
    throw new ConfigurationError(
      `${inputName} '${dirOrManifest}' has no readable ${MANIFEST_FILE} (${(err as Error).message}).`,
      `Run setup-data first and pass its dataset-dir output as ${inputName}.`,
    );
  }
  if (manifest.kind !== 'modelship.dataset' || manifest.schemaVersion !== DATASET_SCHEMA_VERSION) {
    throw new ConfigurationError(
      `${manifestPath} is not a modelship data set manifest of schema version ${DATASET_SCHEMA_VERSION}.`,
      'Prepare the data again with this version of setup-data.',
    );
  }
  return { dir: path.dirname(manifestPath), manifestPath, manifest };
}

export async function readTensor(dir: string, t: TensorFile): Promise<TensorArray> {
  const buf = await readFile(path.join(dir, t.file));
  const expected = t.shape.reduce((a, b) => a * b, 1);
  const bytes = t.dtype === 'uint8' ? 1 : 4;
  if (buf.byteLength !== expected * bytes) {
    throw new ConfigurationError(
      `data set file ${t.file} has ${buf.byteLength} bytes; its manifest says ${expected * bytes}.`,
      'The data set folder was changed after setup-data wrote it: run setup-data again.',
    );
  }
  // Copy into an aligned buffer: Buffer pools may not be 4-byte aligned.
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  switch (t.dtype) {
    case 'uint8':
      return new Uint8Array(ab);
    case 'int32':
      return new Int32Array(ab);
    case 'float32':
      return new Float32Array(ab);
  }
}

export interface SplitTensors {
  readonly count: number;
  /** Shape of one example. */
  readonly inputShape: readonly number[];
  readonly x: TensorArray;
  readonly y: TensorArray;
}

export async function readSplit(ds: LoadedDataset, split: SplitName): Promise<SplitTensors> {
  const rec = ds.manifest.splits[split];
  const [x, y] = await Promise.all([readTensor(ds.dir, rec.x), readTensor(ds.dir, rec.y)]);
  return { count: rec.count, inputShape: rec.x.shape.slice(1), x, y };
}

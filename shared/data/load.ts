/**
 * Reading a prepared data set folder: its manifest and its per-split tensors, verified.
 * Used by train, evaluate-gate, register and setup-data itself (a restored cache entry).
 *
 * Nothing is read unverified. `loadManifest` checks the manifest's own digest (a hand edit is
 * refused); `openDataset` recomputes every digest the manifest records from the tensors (digest.ts:
 * each file's sha256, each split's digest, each example's split from the seed and ratios, the data
 * set digest) while it reads them, so the digest a step records is the digest of what it read.
 * Files are read through the safe folder reader (no links, no special files), in bounded chunks for
 * the splits that are only verified, into aligned buffers for the ones that are kept.
 */
import { createHash, type Hash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ConfigurationError, folder, formatBytes, openInside, readTextInside, type Folder } from '../util/index.ts';
import {
  contentOrder,
  datasetDigest,
  digestHeader,
  dtypeBytes,
  manifestDigestOf,
  RECORD_BYTES,
  splitDigest,
  writeRecords,
} from './digest.ts';
import {
  DATASET_SCHEMA_VERSION,
  MANIFEST_FILE,
  SPLITS,
  type DatasetManifest,
  type SplitName,
  type SplitRecord,
  type TensorDtype,
  type TensorFile,
} from './manifest.ts';
import { assignSplit, splitPoints } from './split.ts';
import { GIVEN_TEST, GIVEN_TRAIN, GIVEN_VALIDATION } from './types.ts';

export type TensorArray = Uint8Array | Int32Array | Float32Array;

export interface LoadedDataset {
  readonly dir: string;
  readonly manifestPath: string;
  readonly manifest: DatasetManifest;
}

/** The fix for any data set folder that does not match its manifest. */
export const RUN_SETUP_DATA_AGAIN =
  'The data set folder was changed after setup-data wrote it: run setup-data again (it rebuilds a folder whose files changed).';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isShape = (v: unknown): v is number[] => Array.isArray(v) && v.every((d) => Number.isSafeInteger(d) && (d as number) >= 0);
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const HEX = /^[0-9a-f]{64}$/;

/** What the readers rely on, checked before any file is opened; a string says what is wrong. */
function manifestProblem(m: Record<string, unknown>): string | undefined {
  if (typeof m['digest'] !== 'string' || !DIGEST.test(m['digest'])) return 'digest is not a sha256 digest';
  if (m['task'] !== 'classification' && m['task'] !== 'regression') return `task is ${JSON.stringify(m['task'])}`;
  if (!Array.isArray(m['classes']) || !m['classes'].every((c) => typeof c === 'string')) return 'classes is not a list of names';
  if (!isShape(m['inputShape'])) return 'inputShape is not a shape';
  const split = m['split'];
  if (!isObject(split) || !Array.isArray(split['ratios']) || split['ratios'].length !== 3 || !Number.isSafeInteger(split['seed']))
    return 'split has no ratios and seed';
  if (!isObject(m['splits'])) return 'splits is missing';
  for (const name of SPLITS) {
    const s = m['splits'][name];
    if (!isObject(s) || !Number.isSafeInteger(s['count']) || typeof s['digest'] !== 'string' || !DIGEST.test(s['digest']))
      return `splits.${name} has no count and digest`;
    for (const [t, want] of [
      ['x', `${name}.x.bin`],
      ['y', `${name}.y.bin`],
    ] as const) {
      const f = s[t];
      if (!isObject(f) || f['file'] !== want) return `splits.${name}.${t} is not the file ${want}`;
      if (!isShape(f['shape']) || f['shape'][0] !== s['count']) return `splits.${name}.${t}.shape does not start with the count`;
      if (typeof f['sha256'] !== 'string' || !HEX.test(f['sha256'])) return `splits.${name}.${t}.sha256 is not a sha256`;
    }
    const x = s['x'] as TensorFile;
    const y = s['y'] as TensorFile;
    if (x.dtype !== 'uint8' && x.dtype !== 'float32') return `splits.${name}.x.dtype is ${JSON.stringify(x.dtype)}`;
    if (y.dtype !== (m['task'] === 'classification' ? 'int32' : 'float32')) return `splits.${name}.y.dtype is ${JSON.stringify(y.dtype)}`;
    if (y.shape.length !== 1) return `splits.${name}.y.shape is not [count]`;
    if (x.shape.slice(1).join('x') !== m['inputShape'].join('x')) return `splits.${name}.x.shape does not match inputShape`;
  }
  return undefined;
}

/** Accepts a data set folder or the path of its manifest.json; checks the manifest's own digest. */
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
  const dir = path.dirname(manifestPath);
  const f = folder(dir, 'data set folder', shownDir(dirOrManifest, manifestPath));
  let manifest: DatasetManifest;
  try {
    manifest = JSON.parse(await readTextInside(f, path.basename(manifestPath))) as DatasetManifest;
  } catch (err) {
    if (err instanceof ConfigurationError) throw err;
    throw new ConfigurationError(
      `${inputName} '${dirOrManifest}' has no readable ${MANIFEST_FILE} (${(err as Error).message}).`,
      `Run setup-data first and pass its dataset-dir output as ${inputName}.`,
    );
  }
  if (!isObject(manifest) || manifest.kind !== 'modelship.dataset' || manifest.schemaVersion !== DATASET_SCHEMA_VERSION) {
    throw new ConfigurationError(
      `${manifestPath} is not a modelship data set manifest of schema version ${DATASET_SCHEMA_VERSION}.`,
      'Prepare the data again with this version of setup-data.',
    );
  }
  const recomputed = manifestDigestOf(manifest);
  if (manifest.manifestDigest !== recomputed) {
    throw new ConfigurationError(
      `${MANIFEST_FILE} in ${f.label} was edited after setup-data wrote it: its content hashes to ${recomputed}, it records ${String(manifest.manifestDigest)}.`,
      'Run setup-data again; change a data set through its source and setup-data inputs, never by editing manifest.json.',
    );
  }
  const problem = manifestProblem(manifest);
  if (problem) {
    throw new ConfigurationError(`${MANIFEST_FILE} in ${f.label} is not a valid data set manifest: ${problem}.`, RUN_SETUP_DATA_AGAIN);
  }
  return { dir, manifestPath, manifest };
}

function shownDir(given: string, manifestPath: string): string {
  return path.basename(given) === path.basename(manifestPath) ? path.dirname(given) : given;
}

export interface SplitTensors {
  readonly count: number;
  /** Shape of one example. */
  readonly inputShape: readonly number[];
  readonly x: TensorArray;
  readonly y: TensorArray;
}

export interface OpenDatasetOptions {
  /** The input that named the data set, for errors (default `dataset`). */
  readonly inputName?: string;
  /** The splits to keep in memory (the others are only verified, in bounded chunks). */
  readonly load?: readonly SplitName[];
  /** Largest size of the kept splits, in bytes; more is refused before anything is read. */
  readonly memoryBudget?: number;
  /** The input that sets the budget, named in the refusal (default `memory-budget`). */
  readonly budgetInput?: string;
}

export interface VerifiedDataset extends LoadedDataset {
  /** The splits asked for in `load`. */
  readonly splits: Partial<Record<SplitName, SplitTensors>>;
  /** What the verification read, and how long it took. */
  readonly verified: { readonly bytes: number; readonly seconds: number };
}

/** Bytes read per call while verifying a split that is not kept. */
const CHUNK_BYTES = 8 << 20;

function mismatch(f: Folder, file: string, what: string): ConfigurationError {
  return new ConfigurationError(`${f.label}: ${file} does not match ${MANIFEST_FILE}: ${what}.`, RUN_SETUP_DATA_AGAIN);
}

function typed(dtype: TensorDtype, ab: ArrayBuffer): TensorArray {
  return dtype === 'uint8' ? new Uint8Array(ab) : dtype === 'int32' ? new Int32Array(ab) : new Float32Array(ab);
}

/** The bytes a kept split takes in memory (x and y). */
export function splitBytes(rec: SplitRecord): number {
  const size = (t: TensorFile): number => t.shape.reduce((a, b) => a * b, 1) * dtypeBytes(t.dtype);
  return size(rec.x) + size(rec.y);
}

/** Reads `length` bytes at `position` into `into` (at offset), or fails naming the file. */
async function readExactly(
  fh: Awaited<ReturnType<typeof openInside>>,
  into: Uint8Array,
  position: number,
  f: Folder,
  file: string,
): Promise<void> {
  let done = 0;
  while (done < into.length) {
    const { bytesRead } = await fh.read(into, done, into.length - done, position + done);
    if (bytesRead === 0) throw mismatch(f, file, `it ended after ${position + done} bytes`);
    done += bytesRead;
  }
}

interface SplitCheck {
  readonly records: Buffer;
  readonly tensors?: SplitTensors;
  readonly bytes: number;
}

/** Reads one split, checking both files' sizes and sha256 and the split digest; keeps it when asked. */
async function verifySplit(f: Folder, m: DatasetManifest, name: SplitName, keep: boolean): Promise<SplitCheck> {
  const rec = m.splits[name];
  const n = rec.count;
  const exampleBytes = rec.x.shape.slice(1).reduce((a, b) => a * b, 1) * dtypeBytes(rec.x.dtype);
  const open = async (t: TensorFile, bytes: number): Promise<Awaited<ReturnType<typeof openInside>>> => {
    let fh;
    try {
      fh = await openInside(f, t.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw mismatch(f, t.file, 'the file is missing');
      throw err;
    }
    const size = (await fh.stat()).size;
    if (size !== bytes) {
      await fh.close();
      throw mismatch(f, t.file, `it has ${size} bytes; the manifest says ${bytes}`);
    }
    return fh;
  };
  const checkHash = (h: Hash, t: TensorFile): void => {
    const got = h.digest('hex');
    if (got !== t.sha256) throw mismatch(f, t.file, `its sha256 is ${got}; the manifest says ${t.sha256}`);
  };

  const yAb = new ArrayBuffer(n * 4);
  const yBytes = new Uint8Array(yAb);
  const fy = await open(rec.y, n * 4);
  try {
    await readExactly(fy, yBytes, 0, f, rec.y.file);
  } finally {
    await fy.close();
  }
  checkHash(createHash('sha256').update(yBytes), rec.y);

  const records = Buffer.alloc(n * RECORD_BYTES);
  const xAb = keep ? new ArrayBuffer(n * exampleBytes) : undefined;
  const perChunk = Math.max(1, Math.floor(CHUNK_BYTES / Math.max(1, exampleBytes)));
  const chunk = xAb ? undefined : new Uint8Array(Math.min(n, perChunk) * exampleBytes);
  const hx = createHash('sha256');
  const fx = await open(rec.x, n * exampleBytes);
  try {
    for (let at = 0; at < n; at += perChunk) {
      const k = Math.min(perChunk, n - at);
      const view = xAb ? new Uint8Array(xAb, at * exampleBytes, k * exampleBytes) : chunk!.subarray(0, k * exampleBytes);
      await readExactly(fx, view, at * exampleBytes, f, rec.x.file);
      hx.update(view);
      writeRecords(view, yBytes.subarray(at * 4, (at + k) * 4), k, exampleBytes, records, at);
    }
  } finally {
    await fx.close();
  }
  checkHash(hx, rec.x);
  const digest = splitDigest(records);
  if (digest !== rec.digest) {
    throw mismatch(f, `the ${name} split`, `its examples hash to ${digest}; the manifest says ${rec.digest}`);
  }
  checkLabels(f, m, name, typed(rec.y.dtype, yAb));
  return {
    records,
    bytes: n * (exampleBytes + 4),
    ...(xAb ? { tensors: { count: n, inputShape: rec.x.shape.slice(1), x: typed(rec.x.dtype, xAb), y: typed(rec.y.dtype, yAb) } } : {}),
  };
}

/** Class labels are class indices and match the recorded counts; regression targets are finite. */
function checkLabels(f: Folder, m: DatasetManifest, name: SplitName, y: TensorArray): void {
  const rec = m.splits[name];
  if (m.task === 'regression') {
    for (let i = 0; i < y.length; i++) if (!Number.isFinite(y[i])) throw mismatch(f, rec.y.file, `example ${i} has the target ${y[i]}`);
    return;
  }
  const counts = new Array<number>(m.classes.length).fill(0);
  for (let i = 0; i < y.length; i++) {
    const l = y[i];
    if (!(l >= 0 && l < m.classes.length))
      throw mismatch(f, rec.y.file, `example ${i} has label ${l}, not one of the ${m.classes.length} classes`);
    counts[l]++;
  }
  if (counts.join(',') !== (rec.classCounts ?? []).join(',')) {
    throw mismatch(f, rec.y.file, `its class counts are [${counts.join(', ')}]; the manifest says [${(rec.classCounts ?? []).join(', ')}]`);
  }
}

/**
 * Every example is in the split the recorded seed and ratios put it in (digest.ts, split.ts). With
 * a split the source gave, the parts carved from its train split are checked; the given parts are
 * bound by the digests only.
 */
function checkAssignment(f: Folder, m: DatasetManifest, records: Record<SplitName, Buffer>): void {
  const point = splitPoints(m.split.seed);
  const ratios = m.split.ratios;
  const carved = new Set(m.split.carved ?? []);
  const carve = { validation: carved.has('validation'), test: carved.has('test') };
  SPLITS.forEach((name, s) => {
    const r = records[name];
    const n = r.length / RECORD_BYTES;
    // In a given split, only train and the carved splits follow from the hash.
    if (m.split.given && name !== 'train' && !carve[name]) return;
    for (let i = 0; i < n; i++) {
      const p = point(r.subarray(i * RECORD_BYTES, i * RECORD_BYTES + 32));
      const want = m.split.given ? assignSplit(p, ratios, GIVEN_TRAIN, carve) : assignSplit(p, ratios, undefined);
      if (want !== s) {
        const where = ([GIVEN_TRAIN, GIVEN_VALIDATION, GIVEN_TEST] as const).indexOf(want as 0 | 1 | 2);
        throw mismatch(
          f,
          `the ${name} split`,
          `example ${i} (sha256 ${r
            .subarray(i * RECORD_BYTES, i * RECORD_BYTES + 32)
            .toString('hex')
            .slice(0, 12)}…) belongs in ${SPLITS[where]} by the recorded split (seed ${m.split.seed}, ${ratios.join('/')})`,
        );
      }
    }
  });
}

/**
 * Opens a data set folder and verifies it against its manifest (see the module comment), keeping
 * the splits in `load`. Throws a ConfigurationError naming the file and the fix on any mismatch.
 */
export async function openDataset(dirOrManifest: string, opts: OpenDatasetOptions = {}): Promise<VerifiedDataset> {
  const ds = await loadManifest(dirOrManifest, opts.inputName ?? 'dataset');
  return verifyDataset(ds, opts, dirOrManifest);
}

/** Verifies an already loaded manifest's folder (see openDataset). */
export async function verifyDataset(ds: LoadedDataset, opts: OpenDatasetOptions = {}, shown: string = ds.dir): Promise<VerifiedDataset> {
  const started = performance.now();
  const m = ds.manifest;
  const f = folder(ds.dir, 'data set folder', shownDir(shown, ds.manifestPath));
  const load = new Set(opts.load ?? []);
  if (opts.memoryBudget !== undefined) {
    const kept = [...load].reduce((a, s) => a + splitBytes(m.splits[s]), 0);
    if (kept > opts.memoryBudget) {
      const input = opts.budgetInput ?? 'memory-budget';
      throw new ConfigurationError(
        `the ${[...load].join(' and ')} split${load.size > 1 ? 's' : ''} of ${f.label} take ${formatBytes(kept)} in memory, above input '${input}' (${formatBytes(opts.memoryBudget)}).`,
        `Raise ${input} (e.g. ${input}: ${formatBytes(2 ** Math.ceil(Math.log2(kept))).replace(' ', '')}) on a runner with that much memory, or prepare a smaller data set (fewer examples, a smaller image-size).`,
      );
    }
  }
  const checks = {} as Record<SplitName, SplitCheck>;
  for (const name of SPLITS) checks[name] = await verifySplit(f, m, name, load.has(name));
  const records = { train: checks.train.records, validation: checks.validation.records, test: checks.test.records };
  checkAssignment(f, m, records);
  const all = Buffer.concat([records.train, records.validation, records.test]);
  const n = all.length / RECORD_BYTES;
  const digest = datasetDigest(digestHeader(m, m.splits.train.x.dtype), all, n, contentOrder(all, n));
  if (digest !== m.digest) {
    throw mismatch(f, 'the data set', `its content hashes to ${digest}; the manifest says ${m.digest}`);
  }
  const splits: Partial<Record<SplitName, SplitTensors>> = {};
  for (const name of load) splits[name] = checks[name].tensors;
  const bytes = SPLITS.reduce((a, s) => a + checks[s].bytes, 0);
  return { ...ds, splits, verified: { bytes, seconds: (performance.now() - started) / 1000 } };
}

/** One split of a data set, after verifying the whole folder (tests and tools; steps use openDataset). */
export async function readSplit(ds: LoadedDataset, split: SplitName): Promise<SplitTensors> {
  return (await verifyDataset(ds, { load: [split] })).splits[split]!;
}

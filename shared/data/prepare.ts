/**
 * setup-data's core: resolve the source, hash it (through the state file), reuse an unchanged
 * output or a cached one, else read, split, and write the data set folder atomically.
 */
import { createHash, hash } from 'node:crypto';
import { cp, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import pkg from '../../package.json' with { type: 'json' };
import { buildDirAtomic, ConfigurationError, isInside, type Logger, writeJsonAtomic } from '../util/index.ts';
import type { ExtractLimits } from './extract.ts';
import { parseChecksum, sha256Hasher, type Hasher } from './hash.ts';
import { loadManifest } from './load.ts';
import {
  DATASET_SCHEMA_VERSION,
  MANIFEST_FILE,
  SPLITS,
  type DatasetFormat,
  type DatasetManifest,
  type DatasetStatistics,
  type FileRecord,
  type SplitName,
  type SplitRecord,
  type TensorDtype,
  type TensorFile,
} from './manifest.ts';
import { READERS, readerFor } from './readers/index.ts';
import { resolveSource, type FetchLike } from './source.ts';
import { assignSplit, parseSplit, splitPoint, type Ratios } from './split.ts';
import { STATE_FILE, StatCache, readState, writeState } from './state.ts';
import { classDistribution, featureStatistics, imageStatistics } from './stats.ts';
import { listTree } from './tree.ts';
import { GIVEN_TEST, GIVEN_VALIDATION, type ReadResult, type SourceFile, type SourceTree } from './types.ts';

/** Bumped when the prepared output changes for the same source and options. */
const PREPARE_VERSION = 1;

/** Where prepared data comes back from between jobs (the Actions cache, behind this interface). */
export interface DataCache {
  /** Restores `dir` saved under `key`; true on an exact hit. */
  restore(dir: string, key: string): Promise<boolean>;
  save(dir: string, key: string): Promise<void>;
}

export interface SetupDataOptions {
  /** A folder, a file, an archive or an https:// URL; relative to cwd. */
  readonly source: string | undefined;
  readonly format: 'auto' | DatasetFormat;
  readonly labelColumn?: string | undefined;
  /** `80/10/10`. */
  readonly split: string;
  readonly splitSeed?: number | undefined;
  /** `WIDTHxHEIGHT`. */
  readonly imageSize?: string | undefined;
  readonly checksum?: string | undefined;
  /** Use `deps.cache` (when given) to restore and save prepared data. */
  readonly cache: boolean;
  readonly outputDir: string;
  readonly cwd: string;
}

export interface SetupDataDeps {
  readonly log: Logger;
  readonly now?: () => Date;
  readonly hasher?: Hasher;
  readonly cache?: DataCache | undefined;
  readonly fetch?: FetchLike;
  readonly limits?: ExtractLimits;
}

export interface SetupDataResult {
  readonly datasetDir: string;
  readonly manifestPath: string;
  readonly manifest: DatasetManifest;
  /** True when the output was reused: unchanged since the last run, or restored from the cache. */
  readonly cacheHit: boolean;
  /** How the output came to be. */
  readonly origin: 'unchanged' | 'cache' | 'built';
  /** Source files read and hashed this run, and those recognised by the state file. */
  readonly hashedFiles: number;
  readonly reusedFiles: number;
  /** The key the output is cached under (sha256 of the source files' digests and the options). */
  readonly cacheKey: string;
}

export function parseImageSize(raw: string | undefined, inputName = 'image-size'): [number, number] | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const m = /^\s*(\d+)\s*[xX×]\s*(\d+)\s*$/.exec(raw);
  const w = Number(m?.[1]);
  const h = Number(m?.[2]);
  if (!m || w < 1 || h < 1 || w > 8192 || h > 8192) {
    throw new ConfigurationError(
      `input '${inputName}' must be WIDTHxHEIGHT with sides from 1 to 8192, like 28x28; got '${raw.trim()}'.`,
      `Write ${inputName}: 28x28.`,
    );
  }
  return [w, h];
}

export function cacheKeyOf(key: string): string {
  return `modelship-data-v${PREPARE_VERSION}-${key}`;
}

/** Prepares a data set folder from a source. The one core function behind setup-data. */
export async function setupData(opts: SetupDataOptions, deps: SetupDataDeps): Promise<SetupDataResult> {
  if (!opts.source) {
    throw new ConfigurationError(
      "input 'source' is required.",
      "Set 'source' in the step's 'with:' (or --source), or data.source in modelship.yml.",
    );
  }
  const ratios = parseSplit(opts.split);
  const seed = opts.splitSeed ?? 0;
  const imageSize = parseImageSize(opts.imageSize);
  const checksum = opts.checksum ? parseChecksum(opts.checksum) : undefined;
  if (imageSize && (opts.format === 'idx' || opts.format === 'csv')) {
    throw new ConfigurationError(
      `input 'image-size' applies to image folders, but format is ${opts.format}.`,
      'Remove image-size, or set format to image-folder.',
    );
  }
  const outDir = path.resolve(opts.cwd, opts.outputDir);
  // One run at a time per output folder (two jobs on one machine, or the CLI beside an action).
  await mkdir(path.dirname(outDir), { recursive: true });
  const release = await lockfile.lock(outDir, {
    realpath: false,
    lockfilePath: `${outDir}.lock`,
    stale: 30_000,
    retries: { retries: 600, minTimeout: 200, maxTimeout: 1000 },
  });
  try {
    return await prepareLocked(opts, deps, { source: opts.source, outDir, ratios, seed, imageSize, checksum });
  } finally {
    await release().catch(() => undefined);
  }
}

interface Parsed {
  readonly source: string;
  readonly outDir: string;
  readonly ratios: Ratios;
  readonly seed: number;
  readonly imageSize: [number, number] | undefined;
  readonly checksum: string | undefined;
}

async function prepareLocked(opts: SetupDataOptions, deps: SetupDataDeps, parsed: Parsed): Promise<SetupDataResult> {
  const log = deps.log;
  const { source, outDir, ratios, seed, imageSize, checksum } = parsed;
  // Downloads (by URL) and extractions (by archive sha256), shared by outputs in the same folder.
  const workDir = path.join(path.dirname(outDir), '.modelship-work');
  const stats = new StatCache(deps.hasher ?? sha256Hasher, await readState(outDir));

  const resolved = await resolveSource({
    source,
    checksum,
    cwd: opts.cwd,
    workDir,
    stats,
    log,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
    ...(deps.limits ? { limits: deps.limits } : {}),
  });
  const root = resolved.isFile ? path.dirname(resolved.root) : resolved.root;
  if (
    !resolved.isFile &&
    isInside(root, outDir) &&
    !path
      .relative(root, outDir)
      .split(path.sep)
      .some((p) => p.startsWith('.'))
  ) {
    throw new ConfigurationError(
      `input 'output-dir' ('${opts.outputDir}') is inside the source '${source}'.`,
      'Write the prepared data outside the source folder (the default .modelship/data is fine).',
    );
  }
  const listing = resolved.isFile ? { files: [path.basename(resolved.root)], dirs: [] } : await listTree(root);
  const digests = await log.group(`Hashing ${listing.files.length} source file(s)`, async () => {
    const d = await stats.digestAll(listing.files.map((f) => path.join(root, f)));
    log.info(`${stats.hashed} hashed, ${stats.reused} unchanged since the last run (size and mtime).`);
    return d;
  });
  const files: SourceFile[] = listing.files.map((rel, i) => ({
    rel,
    abs: path.join(root, rel),
    sha256: digests[i].sha256,
    size: digests[i].size,
  }));
  // The source's name is part of the key so the manifest's source.uri is always the one given now.
  const key = sourceKey(files, { uri: resolved.uri, format: opts.format, labelColumn: opts.labelColumn, ratios, seed, imageSize });
  const base = { hashedFiles: stats.hashed, reusedFiles: stats.reused, cacheKey: cacheKeyOf(key) };

  // 1. Unchanged since the last run: the output folder is still the one built from these bytes.
  const previous = await readState(outDir);
  if (previous.key === key) {
    const ok = await validOutput(outDir, previous.digest);
    if (ok) {
      if (stats.hashed > 0) await writeState(outDir, stats.toState(key, ok.digest));
      log.info(`Source unchanged since the last run: reusing ${outDir} (${ok.digest}).`);
      return {
        datasetDir: outDir,
        manifestPath: path.join(outDir, MANIFEST_FILE),
        manifest: ok,
        cacheHit: true,
        origin: 'unchanged',
        ...base,
      };
    }
  }

  // 2. The Actions cache, keyed by the source digest.
  const cache = opts.cache ? deps.cache : undefined;
  const stage = path.join(workDir, 'cache');
  if (cache) {
    const restored = await restoreFromCache(cache, stage, cacheKeyOf(key), log);
    if (restored) {
      await buildDirAtomic(outDir, async (tmp) => {
        for (const name of await readdir(stage)) await rename(path.join(stage, name), path.join(tmp, name));
        await writeState(tmp, stats.toState(key, restored.digest));
      });
      await rm(stage, { recursive: true, force: true });
      log.info(`Restored the prepared data from the Actions cache (${restored.digest}).`);
      return {
        datasetDir: outDir,
        manifestPath: path.join(outDir, MANIFEST_FILE),
        manifest: { ...restored },
        cacheHit: true,
        origin: 'cache',
        ...base,
      };
    }
  }

  // 3. Build.
  const tree: SourceTree = { root, label: resolved.uri, files, dirs: listing.dirs };
  const format = opts.format === 'auto' ? detectFormat(tree) : opts.format;
  if (imageSize && format !== 'image-folder') {
    throw new ConfigurationError(
      `input 'image-size' applies to image folders, but '${resolved.uri}' was read as ${format}.`,
      'Remove image-size, or set format to image-folder.',
    );
  }
  if (opts.labelColumn && format !== 'csv') log.warning(`label-column is ignored: '${resolved.uri}' is read as ${format}, not csv.`);
  const reader = readerFor(format);
  const read = await log.group(`Reading ${format} from ${resolved.uri}`, () =>
    reader.read(tree, { log, ...(opts.labelColumn ? { labelColumn: opts.labelColumn } : {}), ...(imageSize ? { imageSize } : {}) }),
  );
  const now = (deps.now ?? (() => new Date()))();
  const manifest = await log.group('Splitting and writing the data set', () =>
    buildDirAtomic(outDir, async (tmp) => {
      const m = await writeDataset(tmp, read, {
        ratios,
        seed,
        source: { uri: resolved.uri, ...(resolved.sha256 ? { sha256: resolved.sha256 } : {}) },
        createdAt: now.toISOString(),
      });
      await writeState(tmp, stats.toState(key, m.digest));
      return m;
    }),
  );
  log.info(
    `${manifest.digest} · ${manifest.splits.train.count} train / ${manifest.splits.validation.count} validation / ${manifest.splits.test.count} test`,
  );
  if (cache) await saveToCache(cache, outDir, stage, cacheKeyOf(key), log);
  return { datasetDir: outDir, manifestPath: path.join(outDir, MANIFEST_FILE), manifest, cacheHit: false, origin: 'built', ...base };
}

function sourceKey(files: readonly SourceFile[], options: Record<string, unknown>): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ v: PREPARE_VERSION, schema: DATASET_SCHEMA_VERSION, options }));
  for (const f of files) h.update(`\n${f.rel}\t${f.sha256}`);
  return h.digest('hex');
}

/** The format of a source, looked at its files: IDX pairs, then class folders of images, then CSV. */
export function detectFormat(tree: SourceTree): DatasetFormat {
  const found = READERS.find((r) => r.detect(tree));
  if (found) return found.format;
  throw new ConfigurationError(
    `source '${tree.label}' holds nothing modelship can read: no IDX files, no <class>/<image> folders, no .csv file.`,
    'Point source at an image folder, IDX files or a CSV file, or set format explicitly.',
  );
}

const bytesOf = (dtype: TensorDtype): number => (dtype === 'uint8' ? 1 : 4);

/** The manifest's view of a folder is whole: every tensor file there with the size its shape says. */
export async function validOutput(dir: string, digest?: string): Promise<DatasetManifest | undefined> {
  try {
    const { manifest } = await loadManifest(dir);
    if (digest !== undefined && manifest.digest !== digest) return undefined;
    for (const s of SPLITS) {
      for (const t of [manifest.splits[s].x, manifest.splits[s].y]) {
        const st = await stat(path.join(dir, t.file));
        if (st.size !== t.shape.reduce((a, b) => a * b, 1) * bytesOf(t.dtype)) return undefined;
      }
    }
    return manifest;
  } catch {
    return undefined;
  }
}

async function restoreFromCache(cache: DataCache, stage: string, key: string, log: Logger): Promise<DatasetManifest | undefined> {
  try {
    await rm(stage, { recursive: true, force: true });
    if (!(await cache.restore(stage, key))) {
      log.info(`No Actions cache entry for ${key}.`);
      return undefined;
    }
    const m = await validOutput(stage);
    if (!m) log.warning(`The Actions cache entry ${key} is incomplete; preparing the data again.`);
    return m;
  } catch (err) {
    log.warning(`Could not restore from the Actions cache (${(err as Error).message}); preparing the data again.`);
    return undefined;
  }
}

async function saveToCache(cache: DataCache, outDir: string, stage: string, key: string, log: Logger): Promise<void> {
  try {
    await rm(stage, { recursive: true, force: true });
    await cp(outDir, stage, { recursive: true, filter: (src) => path.basename(src) !== STATE_FILE });
    await cache.save(stage, key);
    log.info(`Saved the prepared data to the Actions cache as ${key}.`);
  } catch (err) {
    log.warning(`Could not save to the Actions cache (${(err as Error).message}).`);
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

// ---- writing -----------------------------------------------------------------------------------

interface WriteMeta {
  readonly ratios: Ratios;
  readonly seed: number;
  readonly source: DatasetManifest['source'];
  readonly createdAt: string;
}

async function writeTensor(dir: string, file: string, data: Uint8Array, dtype: TensorDtype, shape: number[]): Promise<TensorFile> {
  const fh = await open(path.join(dir, file), 'w');
  try {
    await fh.writeFile(data);
  } finally {
    await fh.close();
  }
  return { file, dtype, shape, sha256: createHash('sha256').update(data).digest('hex') };
}

function bytes(a: Uint8Array | Int32Array | Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

const RECORD = 36;

/**
 * Indices of the records in byte order. The top bits of each record and its index are packed into
 * one 64-bit integer and sorted natively; runs whose top bits tie are then ordered by full compare.
 */
export function contentOrder(records: Buffer, n: number): Int32Array {
  const idxBits = BigInt(Math.max(1, 32 - Math.clz32(Math.max(1, n - 1))));
  const mask = (1n << idxBits) - 1n;
  const packed = new BigUint64Array(n);
  for (let i = 0; i < n; i++) packed[i] = ((records.readBigUInt64BE(i * RECORD) >> idxBits) << idxBits) | BigInt(i);
  packed.sort();
  const order = new Int32Array(n);
  for (let k = 0; k < n; k++) order[k] = Number(packed[k] & mask);
  const view = (i: number): Buffer => records.subarray(i * RECORD, (i + 1) * RECORD);
  for (let k = 0; k < n;) {
    let end = k + 1;
    while (end < n && packed[end] >> idxBits === packed[k] >> idxBits) end++;
    if (end - k > 1) order.subarray(k, end).sort((a, b) => Buffer.compare(view(a), view(b)));
    k = end;
  }
  return order;
}

/** Example digests, split, ordering, tensors, statistics and the manifest, written into `dir`. */
export async function writeDataset(dir: string, r: ReadResult, meta: WriteMeta): Promise<DatasetManifest> {
  const n = r.count;
  const exampleSize = r.inputShape.reduce((a, b) => a * b, 1);
  const xBytes = bytes(r.x);
  const yBytes = bytes(r.y);
  const eb = exampleSize * (r.x instanceof Uint8Array ? 1 : 4);
  // A record per example: sha256 of its content (32 bytes) then its label (4 bytes, LE).
  const records = Buffer.alloc(n * RECORD);
  for (let i = 0; i < n; i++) {
    records.set(hash('sha256', xBytes.subarray(i * eb, (i + 1) * eb), 'buffer'), i * RECORD);
    records.set(yBytes.subarray(i * 4, i * 4 + 4), i * RECORD + 32);
  }
  const carve = { validation: !(r.given?.includes(GIVEN_VALIDATION) ?? false), test: !(r.given?.includes(GIVEN_TEST) ?? false) };
  const splitOf = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    splitOf[i] = assignSplit(splitPoint(meta.seed, records.subarray(i * RECORD, i * RECORD + 32)), meta.ratios, r.given?.[i], carve);
  }
  // Content order: the same data gives the same tensor files whatever the order of the source.
  const order = contentOrder(records, n);
  const views = Array.from({ length: n }, (_, i) => records.subarray(i * RECORD, (i + 1) * RECORD));

  const classification = r.task === 'classification';
  const header = JSON.stringify({
    kind: 'modelship.dataset',
    task: r.task,
    classes: r.classes,
    inputShape: r.inputShape,
    features: r.features ?? null,
    dtype: r.x instanceof Uint8Array ? 'uint8' : 'float32',
  });
  const all = createHash('sha256').update(header);
  for (const i of order) all.update(views[i]);
  const digest = `sha256:${all.digest('hex')}`;

  const xDtype: TensorDtype = r.x instanceof Uint8Array ? 'uint8' : 'float32';
  const yDtype: TensorDtype = classification ? 'int32' : 'float32';
  const splits = {} as Record<SplitName, SplitRecord>;
  const indices = {} as Record<SplitName, Int32Array>;
  for (const [s, name] of SPLITS.entries()) {
    const idx = order.filter((i) => splitOf[i] === s);
    indices[name] = idx;
    const xs = new Uint8Array(idx.length * eb);
    const ys = new Uint8Array(idx.length * 4);
    const h = createHash('sha256');
    const classCounts = new Array<number>(r.classes.length).fill(0);
    idx.forEach((i, k) => {
      xs.set(xBytes.subarray(i * eb, (i + 1) * eb), k * eb);
      ys.set(yBytes.subarray(i * 4, i * 4 + 4), k * 4);
      h.update(views[i]);
      if (classification) classCounts[r.y[i]]++;
    });
    splits[name] = {
      count: idx.length,
      digest: `sha256:${h.digest('hex')}`,
      classCounts,
      x: await writeTensor(dir, `${name}.x.bin`, xs, xDtype, [idx.length, ...r.inputShape]),
      y: await writeTensor(dir, `${name}.y.bin`, ys, yDtype, [idx.length]),
    };
  }

  let files: FileRecord[] = [...r.files];
  if (r.exampleFile) {
    files = files.map((f) => ({ ...f }));
    for (let i = 0; i < n; i++) (files[r.exampleFile[i]] as { split?: SplitName }).split = SPLITS[splitOf[i]];
  }
  const statistics: DatasetStatistics = {
    classDistribution: classification ? classDistribution(r.y as Int32Array, r.classes.length) : [],
    ...(r.x instanceof Uint8Array
      ? imageStatistics(r.x, exampleSize, r.inputShape[r.inputShape.length - 1], indices.train)
      : featureStatistics(r.x, r.features ?? [], indices.train)),
  };
  const manifest: DatasetManifest = {
    schemaVersion: DATASET_SCHEMA_VERSION,
    kind: 'modelship.dataset',
    format: r.format,
    task: r.task,
    source: meta.source,
    digest,
    classes: r.classes,
    inputShape: r.inputShape,
    ...(r.features ? { features: r.features } : {}),
    split: {
      ratios: meta.ratios,
      seed: meta.seed,
      given: r.given !== undefined,
      ...(r.given
        ? { carved: SPLITS.filter((name) => (name === 'validation' && carve.validation) || (name === 'test' && carve.test)) }
        : {}),
    },
    splits,
    files,
    statistics,
    createdAt: meta.createdAt,
    tool: { name: 'modelship', version: pkg.version },
  };
  await writeJsonAtomic(path.join(dir, MANIFEST_FILE), manifest);
  return manifest;
}

/**
 * setup-data's core: resolve the source, hash it (through the state file), reuse an unchanged
 * output or a cached one, else read, split, and write the data set folder atomically.
 */
import { createHash, type Hash } from 'node:crypto';
import { cp, open, readdir, rename, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import pkg from '../../package.json' with { type: 'json' };
import { buildDirAtomic, ConfigurationError, errorMessage, isInside, type Logger, writeJsonAtomic } from '../util/index.ts';
import { contentOrder, datasetDigest, digestHeader, RECORD_BYTES, sealManifest, splitDigest, writeRecords } from './digest.ts';
import { parseChecksum, sha256Hasher, type Hasher } from './hash.ts';
import { DEFAULT_DATA_LIMITS, type DataLimits } from './limits.ts';
import { loadManifest, verifyDataset } from './load.ts';
import {
  DATASET_SCHEMA_VERSION,
  MANIFEST_FILE,
  SPLITS,
  type DatasetFormat,
  type DatasetManifest,
  type DatasetStatistics,
  type FileRecord,
  type SplitName,
  type SourceRecord,
  type SplitRecord,
  type TensorDtype,
  type TensorFile,
} from './manifest.ts';
import { READERS, readerFor } from './readers/index.ts';
import { resolveSource, type FetchLike } from './source.ts';
import { assignSplit, parseSplit, splitPoints, type Ratios } from './split.ts';
import { outputsUnchanged, STATE_FILE, StatCache, statOutputs, readState, writeState, type DataState } from './state.ts';
import { classDistribution, featureStatistics, imageStatistics } from './stats.ts';
import { listTree } from './tree.ts';
import { mergeSources, type SourceRead } from './merge.ts';
import { PROVENANCE_FILE } from './names.ts';
import { GIVEN_TEST, GIVEN_VALIDATION, type ReadResult, type SourceFile, type SourceTree } from './types.ts';
import { Undo } from './undo.ts';

/** Bumped when the prepared output changes for the same source and options. */
const PREPARE_VERSION = 2;

/** The files of a prepared data set folder (besides the state file). */
export const OUTPUT_FILES: readonly string[] = [MANIFEST_FILE, ...SPLITS.flatMap((s) => [`${s}.x.bin`, `${s}.y.bin`])];

/** Where prepared data comes back from between jobs (the Actions cache, behind this interface). */
export interface DataCache {
  /** Restores `dir` saved under `key`; true on an exact hit. */
  restore(dir: string, key: string): Promise<boolean>;
  save(dir: string, key: string): Promise<void>;
}

export interface SetupDataOptions {
  /**
   * A folder, a file, an archive or an https:// URL, relative to cwd; or several, read each in its
   * own format and prepared as one data set (see mergeSources).
   */
  readonly source: string | readonly string[] | undefined;
  readonly format: 'auto' | DatasetFormat;
  readonly labelColumn?: string | undefined;
  /** `80/10/10`. */
  readonly split: string;
  readonly splitSeed?: number | undefined;
  /** `WIDTHxHEIGHT`. */
  readonly imageSize?: string | undefined;
  /** The sha256 the first source's download or archive must have. */
  readonly checksum?: string | undefined;
  /** Use `deps.cache` (when given) to restore and save prepared data. */
  readonly cache: boolean;
  readonly outputDir: string;
  readonly cwd: string;
  /** Download, archive and memory bounds (limits.ts); each defaults to DEFAULT_DATA_LIMITS. */
  readonly limits?: Partial<DataLimits>;
}

export interface SetupDataDeps {
  readonly log: Logger;
  readonly now?: () => Date;
  readonly hasher?: Hasher;
  readonly cache?: DataCache | undefined;
  readonly fetch?: FetchLike;
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
  const sources = (typeof opts.source === 'string' ? [opts.source] : [...(opts.source ?? [])]).map((x) => x.trim()).filter((x) => x !== '');
  if (sources.length === 0) {
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
  const limits: DataLimits = { ...DEFAULT_DATA_LIMITS, ...definedOnly(opts.limits ?? {}) };
  // Everything this attempt writes outside the output folder; a failure removes it all.
  const undo = new Undo();
  try {
    // One run at a time per output folder (two jobs on one machine, or the CLI beside an action).
    await undo.mkdir(path.dirname(outDir));
    const release = await lockfile.lock(outDir, {
      realpath: false,
      lockfilePath: `${outDir}.lock`,
      stale: 30_000,
      retries: { retries: 600, minTimeout: 200, maxTimeout: 1000 },
    });
    try {
      return await prepareLocked(opts, deps, { sources, outDir, ratios, seed, imageSize, checksum, limits, undo });
    } finally {
      await release().catch(() => undefined);
    }
  } catch (err) {
    await undo.rollback();
    throw err;
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

interface Parsed {
  readonly sources: readonly string[];
  readonly outDir: string;
  readonly ratios: Ratios;
  readonly seed: number;
  readonly imageSize: [number, number] | undefined;
  readonly checksum: string | undefined;
  readonly limits: DataLimits;
  readonly undo: Undo;
}

/** One source, resolved (downloaded, extracted), listed and hashed. */
interface ListedSource {
  readonly given: string;
  readonly uri: string;
  readonly sha256?: string;
  readonly root: string;
  readonly files: SourceFile[];
  readonly dirs: readonly string[];
}

async function listSource(
  source: string,
  checksum: string | undefined,
  opts: SetupDataOptions,
  deps: SetupDataDeps,
  ctx: { workDir: string; outDir: string; stats: StatCache; limits: DataLimits; undo: Undo },
): Promise<ListedSource> {
  const { log } = deps;
  const { stats } = ctx;
  const resolved = await resolveSource({
    source,
    checksum,
    cwd: opts.cwd,
    workDir: ctx.workDir,
    stats,
    log,
    limits: ctx.limits,
    undo: ctx.undo,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
  });
  const root = resolved.isFile ? path.dirname(resolved.root) : resolved.root;
  if (
    !resolved.isFile &&
    isInside(root, ctx.outDir) &&
    !path
      .relative(root, ctx.outDir)
      .split(path.sep)
      .some((p) => p.startsWith('.'))
  ) {
    throw new ConfigurationError(
      `input 'output-dir' ('${opts.outputDir}') is inside the source '${source}'.`,
      'Write the prepared data outside the source folder (the default .modelship/data is fine).',
    );
  }
  const listing = resolved.isFile ? { files: [path.basename(resolved.root)], dirs: [] } : await listTree(root, resolved.uri);
  const hashedBefore = stats.hashed;
  const reusedBefore = stats.reused;
  const digests = await log.group(`Hashing ${listing.files.length} file(s) of ${resolved.uri}`, async () => {
    const d = await stats.digestAll(listing.files.map((f) => path.join(root, f)));
    log.info(`${stats.hashed - hashedBefore} hashed, ${stats.reused - reusedBefore} unchanged since the last run (size and mtime).`);
    return d;
  });
  const files: SourceFile[] = listing.files.map((rel, i) => ({
    rel,
    abs: path.join(root, rel),
    sha256: digests[i].sha256,
    size: digests[i].size,
  }));
  return { given: source, uri: resolved.uri, ...(resolved.sha256 ? { sha256: resolved.sha256 } : {}), root, files, dirs: listing.dirs };
}

async function prepareLocked(opts: SetupDataOptions, deps: SetupDataDeps, parsed: Parsed): Promise<SetupDataResult> {
  const log = deps.log;
  const { sources, outDir, ratios, seed, imageSize, checksum, limits, undo } = parsed;
  // Downloads (by URL) and extractions (by archive sha256), shared by outputs in the same folder.
  const workDir = path.join(path.dirname(outDir), '.modelship-work');
  const stats = new StatCache(deps.hasher ?? sha256Hasher, await readState(outDir));
  const listed: ListedSource[] = [];
  for (const [i, source] of sources.entries()) {
    listed.push(await listSource(source, i === 0 ? checksum : undefined, opts, deps, { workDir, outDir, stats, limits, undo }));
  }
  const uris = listed.map((l) => l.uri);
  const dup = uris.findIndex((u, i) => uris.indexOf(u) !== i);
  if (dup >= 0) throw new ConfigurationError(`input 'source' names '${sources[dup]}' twice.`, 'Give each source once.');
  // The sources' names are part of the key so the manifest's source.uri is always the one given now.
  const options = { format: opts.format, labelColumn: opts.labelColumn, ratios, seed, imageSize };
  const key =
    listed.length === 1
      ? sourceKey(listed[0].files, { uri: listed[0].uri, ...options })
      : sourceKey(
          listed[0].files,
          { uris, ...options },
          listed.slice(1).map((l) => l.files),
        );
  const base = { hashedFiles: stats.hashed, reusedFiles: stats.reused, cacheKey: cacheKeyOf(key) };

  // 1. Unchanged since the last run: the output folder is still the one built from these bytes.
  const previous = await readState(outDir);
  if (previous.key === key) {
    const ok = await reusableOutput(outDir, previous, log);
    if (ok) {
      if (stats.hashed > 0 || !ok.fast)
        await writeState(outDir, stats.toState(key, ok.manifest.digest, await statOutputs(outDir, OUTPUT_FILES)));
      log.info(`Source${listed.length > 1 ? 's' : ''} unchanged since the last run: reusing ${outDir} (${ok.manifest.digest}).`);
      return {
        datasetDir: outDir,
        manifestPath: path.join(outDir, MANIFEST_FILE),
        manifest: ok.manifest,
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
        await writeState(tmp, stats.toState(key, restored.digest, await statOutputs(tmp, OUTPUT_FILES)));
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

  // 3. Build: read each source in its format, then (several) merge them into one set of examples.
  const reads: SourceRead[] = [];
  for (const l of listed) {
    const tree: SourceTree = { root: l.root, label: l.uri, files: l.files, dirs: l.dirs };
    const format = opts.format === 'auto' ? detectFormat(tree) : opts.format;
    if (imageSize && format !== 'image-folder' && (listed.length === 1 || opts.format !== 'auto')) {
      throw new ConfigurationError(
        `input 'image-size' applies to image folders, but '${l.uri}' was read as ${format}.`,
        'Remove image-size, or set format to image-folder.',
      );
    }
    if (opts.labelColumn && format !== 'csv' && listed.length === 1)
      log.warning(`label-column is ignored: '${l.uri}' is read as ${format}, not csv.`);
    const reader = readerFor(format);
    const read = await log.group(`Reading ${format} from ${l.uri}`, () =>
      reader.read(tree, {
        log,
        memoryBudget: limits.memoryBudget,
        ...(opts.labelColumn ? { labelColumn: opts.labelColumn } : {}),
        ...(imageSize && format === 'image-folder' ? { imageSize } : {}),
      }),
    );
    // A provenance file (a feedback export's) is recorded with the source files it describes.
    const provenance = l.files.find((f) => f.rel === PROVENANCE_FILE);
    const withProvenance =
      provenance && !read.files.some((f) => f.path === PROVENANCE_FILE)
        ? { ...read, files: [...read.files, { path: provenance.rel, sha256: provenance.sha256, size: provenance.size }] }
        : read;
    reads.push({ uri: l.uri, ...(l.sha256 ? { sha256: l.sha256 } : {}), read: withProvenance });
  }
  if (imageSize && !reads.some((r) => r.read.format === 'image-folder')) {
    throw new ConfigurationError(
      `input 'image-size' applies to image folders, but no source was read as one (${reads.map((r) => `${r.uri}: ${r.read.format}`).join(', ')}).`,
      'Remove image-size, or set format to image-folder.',
    );
  }
  const merged = reads.length === 1 ? { read: reads[0].read, sources: undefined } : mergeSources(reads, log);
  const now = (deps.now ?? (() => new Date()))();
  const manifest = await log.group('Splitting and writing the data set', () =>
    buildDirAtomic(outDir, async (tmp) => {
      const m = await writeDataset(tmp, merged.read, {
        ratios,
        seed,
        source: { uri: listed[0].uri, ...(listed[0].sha256 ? { sha256: listed[0].sha256 } : {}) },
        ...(merged.sources ? { sources: merged.sources } : {}),
        createdAt: now.toISOString(),
      });
      await writeState(tmp, stats.toState(key, m.digest, await statOutputs(tmp, OUTPUT_FILES)));
      return m;
    }),
  );
  if (manifest.sources) {
    for (const s of manifest.sources) log.info(`source ${s.uri}: ${s.examples} examples (${s.format}), ${s.digest}`);
  }
  log.info(
    `${manifest.digest} · ${manifest.splits.train.count} train / ${manifest.splits.validation.count} validation / ${manifest.splits.test.count} test`,
  );
  if (cache) await saveToCache(cache, outDir, stage, cacheKeyOf(key), log);
  return { datasetDir: outDir, manifestPath: path.join(outDir, MANIFEST_FILE), manifest, cacheHit: false, origin: 'built', ...base };
}

function sourceKey(files: readonly SourceFile[], options: Record<string, unknown>, more: readonly (readonly SourceFile[])[] = []): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ v: PREPARE_VERSION, schema: DATASET_SCHEMA_VERSION, options }));
  for (const f of files) h.update(`\n${f.rel}\t${f.sha256}`);
  more.forEach((list, i) => {
    h.update(`\n--- source ${i + 2}`);
    for (const f of list) h.update(`\n${f.rel}\t${f.sha256}`);
  });
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

/**
 * The output folder of the last run, when it can be reused: its manifest's own digest checks out
 * and names the digest the state recorded, and either every file is exactly as written (same size,
 * mtime, ctime and inode: the fast path, nothing read) or the folder verifies in full. A folder
 * changed since it was written and no longer valid is rebuilt, with a warning.
 */
async function reusableOutput(
  dir: string,
  state: DataState,
  log: Logger,
): Promise<{ manifest: DatasetManifest; fast: boolean } | undefined> {
  let manifest: DatasetManifest;
  try {
    manifest = (await loadManifest(dir)).manifest;
  } catch (err) {
    log.warning(`The prepared data in ${dir} cannot be reused (${(err as Error).message}); preparing it again.`);
    return undefined;
  }
  if (state.digest !== undefined && manifest.digest !== state.digest) return undefined;
  if (await outputsUnchanged(dir, state.outputs, OUTPUT_FILES)) return { manifest, fast: true };
  const verified = await validOutput(dir, state.digest, log);
  return verified ? { manifest: verified, fast: false } : undefined;
}

/** The folder's manifest when the folder verifies in full against it (load.ts), else undefined. */
export async function validOutput(dir: string, digest?: string, log?: Logger): Promise<DatasetManifest | undefined> {
  try {
    const ds = await loadManifest(dir);
    if (digest !== undefined && ds.manifest.digest !== digest) return undefined;
    await verifyDataset(ds);
    return ds.manifest;
  } catch (err) {
    log?.warning(`The prepared data in ${dir} was changed after it was written (${(err as Error).message}); preparing it again.`);
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
    // A cache entry is verified in full before it is used: what is restored is what its digests say.
    // A refused entry is removed from the stage, so nothing of it reaches the output folder.
    try {
      const ds = await loadManifest(stage);
      await verifyDataset(ds);
      return ds.manifest;
    } catch (err) {
      log.warning(
        `The Actions cache entry ${key} does not verify against its manifest (${errorMessage(err).replace(/\.$/, '')}); preparing the data again.`,
      );
      await rm(stage, { recursive: true, force: true });
      return undefined;
    }
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
  /** With several sources: each one's record (see mergeSources). */
  readonly sources?: readonly SourceRecord[];
  readonly createdAt: string;
}

/** Bytes gathered per write when a split's tensor is written. */
const WRITE_CHUNK_BYTES = 8 << 20;

async function writeAll(fh: FileHandle, data: Uint8Array, h: Hash): Promise<void> {
  h.update(data);
  for (let done = 0; done < data.length;) {
    const { bytesWritten } = await fh.write(data, done, data.length - done);
    done += bytesWritten;
  }
}

/**
 * Writes the examples at `indices` of `src` (each `per` bytes) to a new file, gathered in chunks of
 * at most `chunkBytes` (an example larger than that is written straight from `src`), hashing as it
 * goes: the memory it takes is one chunk, whatever the split's size.
 */
export async function writeGathered(
  file: string,
  src: Uint8Array,
  per: number,
  indices: ArrayLike<number>,
  chunkBytes = WRITE_CHUNK_BYTES,
): Promise<string> {
  const h = createHash('sha256');
  const fh = await open(file, 'wx');
  try {
    if (per >= chunkBytes) {
      for (let k = 0; k < indices.length; k++) await writeAll(fh, src.subarray(indices[k] * per, (indices[k] + 1) * per), h);
    } else {
      const perChunk = Math.floor(chunkBytes / Math.max(1, per));
      const buf = new Uint8Array(Math.min(indices.length, perChunk) * per);
      for (let k = 0; k < indices.length; k += perChunk) {
        const m = Math.min(perChunk, indices.length - k);
        for (let j = 0; j < m; j++) {
          const i = indices[k + j];
          buf.set(src.subarray(i * per, (i + 1) * per), j * per);
        }
        await writeAll(fh, buf.subarray(0, m * per), h);
      }
    }
  } finally {
    await fh.close();
  }
  return h.digest('hex');
}

function bytes(a: Uint8Array | Int32Array | Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * Example records, split, content order, tensors, statistics and the manifest, written into `dir`.
 * Beyond the examples it was given, it holds about 60 bytes per example (records, order, split)
 * and one write chunk: no split is copied whole.
 */
export async function writeDataset(dir: string, r: ReadResult, meta: WriteMeta): Promise<DatasetManifest> {
  const n = r.count;
  const exampleSize = r.inputShape.reduce((a, b) => a * b, 1);
  const xBytes = bytes(r.x);
  const yBytes = bytes(r.y);
  const xDtype: TensorDtype = r.x instanceof Uint8Array ? 'uint8' : 'float32';
  const eb = exampleSize * (xDtype === 'uint8' ? 1 : 4);
  const records = Buffer.alloc(n * RECORD_BYTES);
  writeRecords(xBytes, yBytes, n, eb, records);
  const carve = { validation: !(r.given?.includes(GIVEN_VALIDATION) ?? false), test: !(r.given?.includes(GIVEN_TEST) ?? false) };
  const point = splitPoints(meta.seed);
  const splitOf = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    splitOf[i] = assignSplit(point(records.subarray(i * RECORD_BYTES, i * RECORD_BYTES + 32)), meta.ratios, r.given?.[i], carve);
  }
  // Content order: the same data gives the same tensor files whatever the order of the source.
  const order = contentOrder(records, n);
  const header = { task: r.task, classes: r.classes, inputShape: r.inputShape, ...(r.features ? { features: r.features } : {}) };
  const digest = datasetDigest(digestHeader(header, xDtype), records, n, order);

  const classification = r.task === 'classification';
  const yDtype: TensorDtype = classification ? 'int32' : 'float32';
  const splits = {} as Record<SplitName, SplitRecord>;
  const indices = {} as Record<SplitName, Int32Array>;
  for (const [s, name] of SPLITS.entries()) {
    const idx = order.filter((i) => splitOf[i] === s);
    indices[name] = idx;
    const classCounts = new Array<number>(r.classes.length).fill(0);
    if (classification) for (const i of idx) classCounts[r.y[i]]++;
    const tensor = async (suffix: string, src: Uint8Array, per: number, dtype: TensorDtype, shape: number[]): Promise<TensorFile> => {
      const file = `${name}.${suffix}.bin`;
      return { file, dtype, shape, sha256: await writeGathered(path.join(dir, file), src, per, idx) };
    };
    splits[name] = {
      count: idx.length,
      digest: splitDigest(records, idx),
      classCounts,
      x: await tensor('x', xBytes, eb, xDtype, [idx.length, ...r.inputShape]),
      y: await tensor('y', yBytes, 4, yDtype, [idx.length]),
    };
  }

  let files: FileRecord[] = [...r.files];
  if (r.exampleFile) {
    files = files.map((f) => ({ ...f }));
    // (-1: an example of a source whose files hold many examples, when several sources were merged)
    for (let i = 0; i < n; i++) if (r.exampleFile[i] >= 0) (files[r.exampleFile[i]] as { split?: SplitName }).split = SPLITS[splitOf[i]];
  }
  const statistics: DatasetStatistics = {
    classDistribution: classification ? classDistribution(r.y as Int32Array, r.classes.length) : [],
    ...(r.x instanceof Uint8Array
      ? imageStatistics(r.x, exampleSize, r.inputShape[r.inputShape.length - 1], indices.train)
      : featureStatistics(r.x, r.features ?? [], indices.train)),
  };
  const manifest = sealManifest({
    schemaVersion: DATASET_SCHEMA_VERSION,
    kind: 'modelship.dataset',
    format: r.format,
    task: r.task,
    source: meta.source,
    ...(meta.sources ? { sources: meta.sources } : {}),
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
  });
  await writeJsonAtomic(path.join(dir, MANIFEST_FILE), manifest);
  return manifest;
}

/**
 * A model folder as an OCI artifact: one manifest (`artifactType` MODEL_ARTIFACT_TYPE), a config
 * blob with the metadata and lineage, and one layer per file with its own media type.
 *
 * The manifest is deterministic: the same folder, report, data set and run give the same bytes
 * and so the same digest, which is what makes registering twice idempotent. The version number is
 * therefore not in the manifest; it is the tag (and, in a local layout, an index annotation).
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { openDataset } from '../data/index.ts';
import { HISTORY_FILE, MODEL_CARD_FILE, MODEL_JSON_FILE, MODEL_METADATA_FILE } from '../model/index.ts';
import {
  ConfigurationError,
  folder,
  isInside,
  readTextInside,
  sha256,
  sha256Inside,
  statInside,
  type Folder,
  type Provenance,
} from '../util/index.ts';
import { encodeManifest, OCI_MANIFEST, type BlobSource, type Descriptor, type StoredManifest } from './store.ts';
import type { ModelConfig } from './types.ts';

export const MODEL_ARTIFACT_TYPE = 'application/vnd.modelship.model.v1';
export const MODEL_CONFIG_MEDIA_TYPE = 'application/vnd.modelship.model.config.v1+json';
export const REPORT_FILE = 'report.json';

export const LAYER_MEDIA_TYPES = {
  modelJson: 'application/vnd.modelship.tfjs.model.v1+json',
  weights: 'application/vnd.modelship.tfjs.weights.v1',
  metadata: 'application/vnd.modelship.model.metadata.v1+json',
  history: 'application/vnd.modelship.model.history.v1+json',
  card: 'text/markdown',
  report: 'application/vnd.modelship.evaluation.report.v1+json',
} as const;

export const ANNOTATION = {
  title: 'org.opencontainers.image.title',
  created: 'org.opencontainers.image.created',
  revision: 'org.opencontainers.image.revision',
  source: 'org.opencontainers.image.source',
  version: 'org.opencontainers.image.version',
  description: 'org.opencontainers.image.description',
  name: 'dev.modelship.model.name',
} as const;

export interface BuiltArtifact {
  readonly manifest: StoredManifest;
  readonly config: ModelConfig;
  /** Config first, then the layers, each with where to read it from. */
  readonly blobs: readonly BlobSource[];
}

function notModel(dir: string, why: string): ConfigurationError {
  return new ConfigurationError(
    `'${dir}' is not a tfjs model folder: ${why}.`,
    'Pass the model-dir output of train (model.json, weights, modelship.json).',
  );
}

/** A JSON file of the model folder, through the safe reader (a link or special file is refused). */
async function readJsonInside(f: Folder, rel: string): Promise<unknown> {
  return JSON.parse(await readTextInside(f, rel)) as unknown;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** True when `rel` is a regular file inside the folder; a link or special file there is refused. */
async function exists(f: Folder, rel: string): Promise<boolean> {
  return (await statInside(f, rel)) !== undefined;
}

/**
 * Checks a folder is a tfjs layers model with modelship.json; returns the weight file names in
 * manifest order. Every file is read through the safe reader (util/fs.ts): a link in the folder,
 * or a FIFO or device, is refused, so nothing outside the folder is ever uploaded.
 */
export async function inspectModelDir(dir: string): Promise<{ weightFiles: string[]; metadata: Record<string, unknown> }> {
  try {
    if (!(await stat(dir)).isDirectory()) throw notModel(dir, 'it is not a folder');
  } catch (err) {
    if (err instanceof ConfigurationError) throw err;
    throw notModel(dir, 'it does not exist');
  }
  const f = folder(dir, 'model folder', dir);
  let modelJson: unknown;
  try {
    modelJson = await readJsonInside(f, MODEL_JSON_FILE);
  } catch (err) {
    if (err instanceof ConfigurationError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw notModel(dir, code === 'ENOENT' ? `no ${MODEL_JSON_FILE}` : `${MODEL_JSON_FILE} is not valid JSON`);
  }
  if (!isRecord(modelJson) || modelJson['format'] !== 'layers-model' || !isRecord(modelJson['modelTopology'])) {
    throw notModel(dir, `${MODEL_JSON_FILE} is not a tfjs layers model (format 'layers-model' with a modelTopology)`);
  }
  const wm = modelJson['weightsManifest'];
  if (!Array.isArray(wm)) throw notModel(dir, `${MODEL_JSON_FILE} has no weightsManifest`);
  const weightFiles: string[] = [];
  for (const group of wm) {
    const paths = isRecord(group) ? group['paths'] : undefined;
    if (!Array.isArray(paths)) throw notModel(dir, `a weightsManifest group in ${MODEL_JSON_FILE} has no paths`);
    for (const p of paths) {
      if (typeof p !== 'string' || !isSafeRelative(p)) {
        throw notModel(dir, `weight path ${JSON.stringify(p)} in ${MODEL_JSON_FILE} leaves the folder`);
      }
      if (!(await exists(f, p))) throw notModel(dir, `weight file '${p}' named in ${MODEL_JSON_FILE} is missing`);
      if (!weightFiles.includes(p)) weightFiles.push(p);
    }
  }
  let metadata: unknown;
  try {
    metadata = await readJsonInside(f, MODEL_METADATA_FILE);
  } catch (err) {
    if (err instanceof ConfigurationError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw notModel(dir, code === 'ENOENT' ? `no ${MODEL_METADATA_FILE}` : `${MODEL_METADATA_FILE} is not valid JSON`);
  }
  if (!isRecord(metadata) || metadata['kind'] !== 'modelship.model') {
    throw notModel(dir, `${MODEL_METADATA_FILE} is not modelship model metadata (kind 'modelship.model')`);
  }
  return { weightFiles, metadata };
}

/** A relative path that stays inside its folder: no absolute paths, '..', URLs or backslashes. */
export function isSafeRelative(p: string): boolean {
  if (p === '' || p.length > 255 || path.isAbsolute(p) || p.includes('\\') || p.includes('\0') || /^[a-z][a-z0-9+.-]*:/i.test(p))
    return false;
  const norm = path.posix.normalize(p);
  return norm === p && !norm.startsWith('../') && norm !== '..' && !norm.startsWith('.') && isInside('/x', path.posix.join('/x', norm));
}

/** Numeric metrics from evaluate-gate's report.json (tolerant of its exact layout). */
export function metricsFromReport(report: unknown): {
  metrics: Record<string, number>;
  passed?: boolean;
  baseline?: ModelConfig['parent'];
} {
  const out: Record<string, number> = {};
  if (!isRecord(report)) return { metrics: out };
  const candidate = isRecord(report['candidate']) ? report['candidate'] : undefined;
  const source = isRecord(report['metrics']) ? report['metrics'] : isRecord(candidate?.['metrics']) ? candidate['metrics'] : undefined;
  if (isRecord(source)) {
    for (const [k, v] of Object.entries(source)) {
      if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
      else if (isRecord(v) && typeof v['candidate'] === 'number' && Number.isFinite(v['candidate'])) out[k] = v['candidate'];
    }
  }
  const passed = typeof report['passed'] === 'boolean' ? report['passed'] : undefined;
  let baseline: ModelConfig['parent'];
  const b = report['baseline'];
  if (isRecord(b)) {
    const name = typeof b['name'] === 'string' ? b['name'] : undefined;
    const version = typeof b['version'] === 'number' ? b['version'] : undefined;
    const digest = typeof b['digest'] === 'string' && /^sha256:[0-9a-f]{64}$/.test(b['digest']) ? b['digest'] : undefined;
    const ref = typeof b['ref'] === 'string' ? b['ref'] : undefined;
    const fromRegistry = b['source'] === undefined || b['source'] === 'registry';
    if (fromRegistry && (version !== undefined || digest !== undefined)) {
      baseline = {
        ...(name ? { name } : {}),
        ...(version !== undefined ? { version } : {}),
        ...(digest ? { digest } : {}),
        ...(ref ? { ref } : {}),
      };
    }
  }
  return { metrics: out, ...(passed !== undefined ? { passed } : {}), ...(baseline ? { baseline } : {}) };
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function definedOnly<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** Builds the config blob from the model metadata, the report, the data set and the run. Pure. */
export function buildConfig(args: {
  name: string;
  metadata: Record<string, unknown>;
  report?: unknown;
  dataset?: { digest: string; split?: { ratios?: readonly number[]; seed?: number; given?: boolean }; splits?: Record<string, string> };
  provenance?: Provenance;
  now: Date;
}): ModelConfig {
  const md = args.metadata;
  const fromReport = args.report !== undefined ? metricsFromReport(args.report) : undefined;
  const trainMetrics: Record<string, number> = {};
  if (isRecord(md['metrics'])) {
    for (const [k, v] of Object.entries(md['metrics'])) if (typeof v === 'number' && Number.isFinite(v)) trainMetrics[k] = v;
  }
  const useReport = fromReport !== undefined && Object.keys(fromReport.metrics).length > 0;
  const metrics = useReport ? fromReport.metrics : trainMetrics;
  const training = isRecord(md['training']) ? md['training'] : {};
  const created = str(training['finishedAt']) ?? args.now.toISOString();
  const mdDataset = isRecord(md['dataset']) ? md['dataset'] : undefined;
  const dataset =
    args.dataset ??
    (mdDataset && typeof mdDataset['digest'] === 'string'
      ? { digest: mdDataset['digest'], ...(isRecord(mdDataset['splits']) ? { splits: mdDataset['splits'] as Record<string, string> } : {}) }
      : undefined);
  const git = isRecord(md['git']) ? md['git'] : {};
  // The registering run first (where it is a GitHub run or a checkout), then what training recorded.
  const p = args.provenance;
  const run = definedOnly({ url: p?.runUrl ?? str(git['runUrl']), id: p?.runId, workflow: p?.workflow });
  const commit = p?.commit ?? str(git['commit']);
  const dirty = p?.commit !== undefined ? p.dirty : typeof git['dirty'] === 'boolean' ? git['dirty'] : undefined;
  const gitOut = definedOnly({
    commit,
    ...(commit !== undefined && dirty !== undefined ? { dirty } : {}),
    ref: p?.ref ?? str(git['ref']),
    repository: p?.repository ?? str(git['repository']),
  });
  return definedOnly({
    schemaVersion: 1 as const,
    kind: 'modelship.model.config' as const,
    name: args.name,
    created,
    task: str(md['task']),
    inputShape: Array.isArray(md['inputShape']) ? (md['inputShape'] as number[]) : undefined,
    classes: Array.isArray(md['classes']) ? (md['classes'] as string[]) : undefined,
    metrics,
    metricsSource: useReport ? ('report' as const) : Object.keys(trainMetrics).length > 0 ? ('training' as const) : ('none' as const),
    gatePassed: fromReport?.passed,
    dataset,
    params: isRecord(md['params']) ? md['params'] : undefined,
    backend: str(md['backend']),
    versions: isRecord(md['versions']) ? (md['versions'] as Record<string, string>) : undefined,
    git: Object.keys(gitOut).length > 0 ? gitOut : undefined,
    run: Object.keys(run).length > 0 ? run : undefined,
    parent: fromReport?.baseline,
  });
}

/**
 * A layer from a file inside `f`, hashed through the safe reader. The upload reads the file again
 * and checks it against this digest, so what is stored is what was hashed here.
 */
async function fileBlob(
  f: Folder,
  rel: string,
  label: string,
  mediaType: string,
  title: string,
): Promise<{ blob: BlobSource; desc: Descriptor }> {
  const { hex, size } = await sha256Inside(f, rel);
  const digest = `sha256:${hex}`;
  const file = path.join(f.root, rel);
  return { blob: { digest, size, label, file }, desc: { mediaType, digest, size, annotations: { [ANNOTATION.title]: title } } };
}

/** Reads a model folder (and optional report and data set) into an artifact ready to push. */
export async function buildArtifact(
  modelDir: string,
  opts: { name: string; report?: string; dataset?: string; provenance?: Provenance; now: Date },
): Promise<BuiltArtifact> {
  const dir = path.resolve(modelDir);
  const { weightFiles, metadata } = await inspectModelDir(dir);
  let report: unknown;
  if (opts.report !== undefined) {
    try {
      const file = path.resolve(opts.report);
      report = await readJsonInside(folder(path.dirname(file), "input 'report' folder", path.dirname(opts.report)), path.basename(file));
    } catch (err) {
      if (err instanceof ConfigurationError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      throw new ConfigurationError(
        `report '${opts.report}' ${code === 'ENOENT' ? 'does not exist' : 'is not valid JSON'}.`,
        "Pass evaluate-gate's report output (report.json), or leave 'report' empty.",
      );
    }
  }
  let dataset: Parameters<typeof buildConfig>[0]['dataset'];
  if (opts.dataset !== undefined) {
    // Verified against its manifest (data/load.ts): the lineage recorded is that of the files there.
    const ds = await openDataset(opts.dataset, { inputName: 'dataset' });
    const splits: Record<string, string> = {};
    for (const [k, v] of Object.entries(ds.manifest.splits)) splits[k] = v.digest;
    dataset = {
      digest: ds.manifest.digest,
      split: { ratios: ds.manifest.split.ratios, seed: ds.manifest.split.seed, given: ds.manifest.split.given },
      splits,
    };
  }
  const config = buildConfig({
    name: opts.name,
    metadata,
    report,
    dataset,
    ...(opts.provenance ? { provenance: opts.provenance } : {}),
    now: opts.now,
  });

  const f = folder(dir, 'model folder', modelDir);
  const layers: { blob: BlobSource; desc: Descriptor }[] = [];
  layers.push(await fileBlob(f, MODEL_JSON_FILE, MODEL_JSON_FILE, LAYER_MEDIA_TYPES.modelJson, MODEL_JSON_FILE));
  for (const w of weightFiles) layers.push(await fileBlob(f, w, w, LAYER_MEDIA_TYPES.weights, w));
  layers.push(await fileBlob(f, MODEL_METADATA_FILE, MODEL_METADATA_FILE, LAYER_MEDIA_TYPES.metadata, MODEL_METADATA_FILE));
  if (await exists(f, HISTORY_FILE)) layers.push(await fileBlob(f, HISTORY_FILE, HISTORY_FILE, LAYER_MEDIA_TYPES.history, HISTORY_FILE));
  if (await exists(f, MODEL_CARD_FILE))
    layers.push(await fileBlob(f, MODEL_CARD_FILE, MODEL_CARD_FILE, LAYER_MEDIA_TYPES.card, MODEL_CARD_FILE));
  if (opts.report !== undefined) {
    const report = path.resolve(opts.report);
    const rf = folder(path.dirname(report), "input 'report' folder", path.dirname(opts.report));
    layers.push(await fileBlob(rf, path.basename(report), REPORT_FILE, LAYER_MEDIA_TYPES.report, REPORT_FILE));
  }

  const configBytes = new TextEncoder().encode(JSON.stringify(config));
  const configBlob: BlobSource = { digest: `sha256:${sha256(configBytes)}`, size: configBytes.length, label: 'config', bytes: configBytes };
  const annotations = definedOnly({
    [ANNOTATION.created]: config.created,
    [ANNOTATION.title]: opts.name,
    [ANNOTATION.name]: opts.name,
    [ANNOTATION.revision]: config.git?.commit,
    [ANNOTATION.source]: config.git?.repository
      ? `${opts.provenance?.serverUrl ?? 'https://github.com'}/${config.git.repository}`
      : undefined,
  }) as Record<string, string>;
  const manifest = encodeManifest({
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: MODEL_ARTIFACT_TYPE,
    config: { mediaType: MODEL_CONFIG_MEDIA_TYPE, digest: configBlob.digest, size: configBlob.size },
    layers: layers.map((l) => l.desc),
    annotations,
  });
  return { manifest, config, blobs: [configBlob, ...layers.map((l) => l.blob)] };
}

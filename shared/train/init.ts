/**
 * train's `init-from`: fine-tuning starts from the weights of an earlier model, a registry
 * reference (`production`, `fashion@production`, `fashion:3`, `oci://…`) or a model folder.
 *
 * The earlier model must fit the run: the same architecture (by name, and weight for weight the
 * shapes the architecture builds now), the same task, input shape and classes (names, in order) as
 * the data set. Every mismatch is listed in one ConfigurationError that says what to do. The
 * weights are then set on the freshly built architecture, so the run trains exactly the model the
 * architecture defines, starting where the earlier one ended; the earlier model's preprocessing is
 * kept (its weights were learned on inputs scaled that way). What it started from is recorded as
 * the new model's `initFrom` (lineage).
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type * as tfl from '@tensorflow/tfjs-layers';
import type { DatasetManifest } from '../data/index.ts';
import {
  loadArchitecture,
  loadModel,
  MODEL_METADATA_FILE,
  modelFilesDigest,
  type ModelInitFrom,
  type ModelMetadata,
} from '../model/index.ts';
import { DEFAULT_REGISTRY, formatReference, isNotFound, openRegistry, parseReference } from '../registry/index.ts';
import { ConfigurationError, errorMessage, type Logger } from '../util/index.ts';
import type { TrainContext, TrainOptions } from './options.ts';

export interface InitFromContext {
  readonly cwd: string;
  readonly log: Logger;
  /** The model name a bare alias (`production`) refers to. */
  readonly name?: string;
  /** Where registry references live (default .modelship/registry). */
  readonly registry?: string;
  readonly username?: string;
  readonly password?: string;
}

export interface InitModel {
  /** The architecture, freshly built, holding the earlier model's weights. */
  readonly model: tfl.LayersModel;
  readonly metadata: ModelMetadata;
  readonly lineage: ModelInitFrom;
}

/** What the run trains: the architecture it builds and the data it trains on. */
export interface InitTarget {
  readonly architecture: string;
  readonly manifest: Pick<DatasetManifest, 'task' | 'inputShape' | 'classes'>;
}

const list = (xs: readonly unknown[]): string => `[${xs.map((x) => (typeof x === 'string' ? x : String(x))).join(', ')}]`;

/** Why an earlier model cannot start this run (empty when it can). Pure. */
export function initProblems(meta: Pick<ModelMetadata, 'params' | 'task' | 'inputShape' | 'classes'>, want: InitTarget): string[] {
  const problems: string[] = [];
  const m = want.manifest;
  if (meta.params.architecture !== want.architecture) {
    problems.push(`it was trained as architecture '${meta.params.architecture}', this run builds '${want.architecture}'`);
  }
  if (meta.task !== m.task) problems.push(`it is a ${meta.task} model, the data set is ${m.task}`);
  if (meta.inputShape.join('x') !== m.inputShape.join('x')) {
    problems.push(`it takes inputs of shape ${list(meta.inputShape)}, the data set has ${list(m.inputShape)}`);
  }
  const classes = m.task === 'classification' ? m.classes : [];
  if (meta.classes.join('\u0000') !== classes.join('\u0000')) {
    const missing = classes.filter((c) => !meta.classes.includes(c));
    const extra = meta.classes.filter((c) => !classes.includes(c));
    problems.push(
      missing.length || extra.length
        ? `its classes differ from the data set's${missing.length ? ` (the data set has ${list(missing)}, which it has not)` : ''}${extra.length ? ` (it has ${list(extra)}, which the data set has not)` : ''}`
        : `its classes are in another order: ${list(meta.classes)}, the data set's ${list(classes)}`,
    );
  }
  return problems;
}

/** Weight shapes, in order, that differ between two models (empty when they fit). */
export function weightMismatch(a: readonly (readonly number[])[], b: readonly (readonly number[])[]): string | undefined {
  if (a.length !== b.length) return `it has ${a.length} weight tensors, the architecture builds ${b.length}`;
  const i = a.findIndex((s, k) => s.join('x') !== b[k].join('x'));
  return i < 0 ? undefined : `weight ${i + 1} of ${a.length} has shape ${list(a[i])}, the architecture builds ${list(b[i])}`;
}

async function isModelFolder(dir: string): Promise<boolean> {
  try {
    return (await stat(path.join(dir, MODEL_METADATA_FILE))).isFile();
  } catch {
    return false;
  }
}

const HINT =
  "init-from must be a model of this run's architecture, input shape and classes: train from scratch (drop init-from), set architecture to the one it was trained with, or prepare the data with its classes.";

/**
 * Resolves `text` to a model folder (pulling a registry reference into a temporary folder), checks
 * it fits the run and returns the freshly built architecture holding its weights.
 */
export async function initFromModel(text: string, want: InitTarget & { readonly seed: number }, ctx: InitFromContext): Promise<InitModel> {
  const raw = text.trim();
  const asPath = path.resolve(ctx.cwd, raw);
  let dir: string;
  let lineage: Omit<ModelInitFrom, 'dataset'>;
  let tmp: string | undefined;
  try {
    if (await isModelFolder(asPath)) {
      dir = asPath;
      lineage = { source: raw, digest: await modelFilesDigest(dir) };
    } else {
      if (/[\\/]/.test(raw.split('@')[0]) && !/^oci:\/\//i.test(raw)) {
        throw new ConfigurationError(
          `input 'init-from' '${raw}' is neither a model folder (no ${MODEL_METADATA_FILE} there) nor a registry reference.`,
          "Give a model folder (train's model-dir) or a registry reference such as production or fashion@production.",
        );
      }
      const ref = parseReference(raw, { ...(ctx.name ? { defaultName: ctx.name } : {}), where: "input 'init-from'" });
      const registry = await openRegistry(ref.registry ?? ctx.registry ?? DEFAULT_REGISTRY, {
        log: ctx.log,
        cwd: ctx.cwd,
        ...(ctx.name ? { defaultName: ctx.name } : {}),
        ...(ctx.username ? { username: ctx.username } : {}),
        ...(ctx.password ? { password: ctx.password } : {}),
      });
      tmp = await mkdtemp(path.join(os.tmpdir(), 'modelship-init-from-'));
      let pulled;
      try {
        pulled = await registry.pull(ref, path.join(tmp, 'model'));
      } catch (err) {
        if (!isNotFound(err)) throw err;
        throw new ConfigurationError(
          `input 'init-from': ${formatReference({ ...ref, registry: undefined })} is not in the registry ${registry.display} (${errorMessage(err)}).`,
          'Register a model first (train from scratch without init-from, then register it), or check init-from and the registry input.',
          { cause: err },
        );
      }
      dir = pulled.dir;
      const { name, version, digest } = pulled.resolved;
      lineage = { source: raw, ref: `${name}:${version}`, digest, version };
      ctx.log.info(`init-from ${raw} = ${name}:${version} in ${registry.display} (${digest}, ${pulled.files.length} files)`);
    }
    const loaded = await loadModel(dir);
    try {
      const problems = initProblems(loaded.metadata, want);
      const fresh = await loadArchitecture(
        want.architecture,
        {
          inputShape: want.manifest.inputShape,
          numClasses: want.manifest.task === 'classification' ? want.manifest.classes.length : 0,
          seed: want.seed,
        },
        ctx.cwd,
      );
      const mismatch = problems.length
        ? undefined
        : weightMismatch(
            loaded.model.getWeights().map((w) => w.shape),
            fresh.getWeights().map((w) => w.shape),
          );
      if (mismatch) problems.push(mismatch);
      if (problems.length) {
        fresh.dispose();
        throw new ConfigurationError(`input 'init-from' '${raw}' does not fit this run: ${problems.join('; ')}.`, HINT);
      }
      fresh.setWeights(loaded.model.getWeights());
      const m = loaded.metadata;
      return {
        model: fresh,
        metadata: m,
        lineage: {
          ...lineage,
          dataset: m.dataset.digest,
          ...(m.metrics.valAccuracy !== undefined ? { valAccuracy: m.metrics.valAccuracy } : {}),
        },
      };
    } finally {
      loaded.model.dispose();
    }
  } finally {
    if (tmp) await rm(tmp, { recursive: true, force: true });
  }
}

/**
 * The start of a fine-tuning run, when train has `init-from` (undefined otherwise): resolved,
 * checked against the data set, and said in the log.
 */
export async function fineTuneStart(
  options: TrainOptions,
  manifest: InitTarget['manifest'] & Pick<DatasetManifest, 'digest'>,
  ctx: Pick<TrainContext, 'cwd' | 'log'>,
): Promise<InitModel | undefined> {
  if (!options.initFrom) return undefined;
  if (options.resumeFrom) {
    throw new ConfigurationError(
      "inputs 'init-from' and 'resume-from' are both set.",
      'resume-from continues an interrupted run (its checkpoint holds the weights): drop init-from to resume, or resume-from to start again from init-from.',
    );
  }
  const init = await initFromModel(
    options.initFrom,
    { architecture: options.architecture, manifest, seed: options.seed },
    {
      cwd: ctx.cwd,
      log: ctx.log,
      ...(options.name ? { name: options.name } : {}),
      ...(options.registry ? { registry: options.registry } : {}),
      ...(options.registryUsername ? { username: options.registryUsername } : {}),
      ...(options.registryPassword ? { password: options.registryPassword } : {}),
    },
  );
  const l = init.lineage;
  ctx.log.info(
    `fine-tuning from ${l.ref ?? l.source} (trained on ${l.dataset.slice(0, 19)}…${l.valAccuracy !== undefined ? `, val accuracy ${l.valAccuracy.toFixed(4)}` : ''}${l.dataset === manifest.digest ? ', the same data' : ''}): ${options.epochs} epoch${options.epochs === 1 ? '' : 's'} at learning rate ${options.learningRate}`,
  );
  return init;
}

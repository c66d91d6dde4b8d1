/**
 * evaluate-gate's work: score the candidate (and the baseline) on the data set's test split, decide
 * the gate, write report.json and report.md, and return them. Publishing (the PR comment, the job
 * summary) is the step's. The decision itself is the pure `decideGate`, the report the pure
 * `buildGateReport`.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openDataset, type LoadedDataset, type SplitTensors } from '../data/index.ts';
import { MODEL_METADATA_FILE, modelFilesDigest, type ModelMetadata } from '../model/index.ts';
import {
  formatReference,
  isNotFound,
  isOciLocation,
  openRegistry,
  parseReference,
  type OpenOptions,
  type Registry,
} from '../registry/index.ts';
import { renderGateMarkdown, REPORT_FILE, REPORT_MARKDOWN_FILE, type GateReport } from '../report/index.ts';
import { parseRules, type Rule } from '../rules/index.ts';
import { buildDirAtomic, ConfigurationError, errorMessage, formatBytes, type Logger, writeFileAtomic } from '../util/index.ts';
import { decideGate, type GateDecision } from './gate.ts';
import { metricNames, scalarMetrics } from './metrics.ts';
import { buildGateReport, type ModelIdentity } from './report.ts';
import { bootstrapIntervals, checkHeldOut, readHistory, scoreOutputs, type Scored } from './score.ts';

export interface EvaluateGateOptions {
  readonly model: string;
  readonly dataset: string;
  /** A model folder, a registry reference (`production`, `fashion@production`, `fashion:3`, `oci://…`) or `none`. */
  readonly baseline: string;
  readonly registry: string;
  /** Credentials for an OCI baseline registry. */
  readonly registryUsername?: string;
  readonly registryPassword?: string;
  readonly name?: string;
  readonly thresholds: readonly string[];
  readonly maxRegression: readonly string[];
  readonly significance: number;
  readonly reportDir: string;
  /** Largest size of the test split held in memory, in bytes (refused above it before reading). */
  readonly memoryBudget?: number;
  /** The workflow run the report records (links, PR, commit); empty outside Actions. */
  readonly run?: NonNullable<GateReport['run']>;
  readonly log: Logger;
  readonly cwd: string;
  readonly now?: () => Date;
  /** Seams for tests and other transports. */
  readonly openRegistry?: (location: string, opts: OpenOptions) => Promise<Registry>;
  readonly scoreModel?: (
    dir: string,
    test: SplitTensors,
    log: Logger,
  ) => Promise<{ metadata: ModelMetadata; outputs: Float32Array; backend?: string }>;
}

export interface EvaluateGateResult {
  readonly report: GateReport;
  readonly decision: GateDecision;
  readonly markdown: string;
  readonly reportPath: string;
  readonly markdownPath: string;
}

interface Side {
  readonly dir: string;
  readonly metadata: ModelMetadata;
  readonly scored: Scored;
  readonly identity: ModelIdentity;
}

/** Loads a model folder and predicts the test split with the shared input pipeline. */
async function defaultScoreModel(
  dir: string,
  test: SplitTensors,
  log: Logger,
): Promise<{ metadata: ModelMetadata; outputs: Float32Array; backend: string }> {
  const { initBackend, loadModel, predictProbabilities } = await import('../model/index.ts');
  const backend = await initBackend('auto', log);
  const loaded = await loadModel(dir);
  try {
    const outputs = await predictProbabilities(loaded.model, loaded.metadata, test.x, test.count);
    return { metadata: loaded.metadata, outputs, backend: backend.name };
  } finally {
    loaded.model.dispose();
  }
}

async function isModelFolder(p: string): Promise<boolean> {
  try {
    return (await stat(path.join(p, MODEL_METADATA_FILE))).isFile();
  } catch {
    return false;
  }
}

export function parseGateRules(
  task: 'classification' | 'regression',
  thresholds: readonly string[],
  maxRegression: readonly string[],
): Rule[] {
  const known = metricNames(task);
  return [
    ...parseRules(thresholds, { known, source: 'thresholds', kinds: ['threshold'] }),
    ...parseRules(maxRegression, { known, source: 'max-regression', kinds: ['regression'] }),
  ];
}

type ScoreModel = NonNullable<EvaluateGateOptions['scoreModel']>;

/** What every part of a run shares: the options, the verified data set and its test split. */
interface GateRun {
  readonly opts: EvaluateGateOptions;
  readonly log: Logger;
  readonly score: ScoreModel;
  readonly ds: LoadedDataset;
  readonly test: SplitTensors;
  readonly task: 'classification' | 'regression';
  readonly classes: number;
}

export async function evaluateGate(opts: EvaluateGateOptions): Promise<EvaluateGateResult> {
  const { log } = opts;
  const now = opts.now ?? (() => new Date());
  const { ds, test } = await openTestSplit(opts);
  const task = ds.manifest.task;
  const rules = parseGateRules(task, opts.thresholds, opts.maxRegression);
  if (rules.length === 0)
    log.warning('No thresholds and no max-regression rules: the gate passes on any scores. Add thresholds such as accuracy >= 0.9.');
  const run: GateRun = { opts, log, score: opts.scoreModel ?? defaultScoreModel, ds, test, task, classes: ds.manifest.classes.length };

  const candidate = await log.group('Candidate', () => scoreCandidate(run));
  const name = opts.name ?? candidate.metadata.name ?? 'model';
  const { baseline, note: baselineNote } = await log.group('Baseline', () => scoreBaseline(run, name));
  const decision = await log.group('Gate', () => Promise.resolve(decide(run, rules, candidate, baseline)));

  const history = await readHistory(candidate.dir);
  const report = buildGateReport({
    name,
    candidate: { identity: candidate.identity, metadata: candidate.metadata, metrics: candidate.scored.metrics },
    ...(baseline ? { baseline: { identity: baseline.identity, metadata: baseline.metadata, metrics: baseline.scored.metrics } } : {}),
    ...(baselineNote ? { baselineNote } : {}),
    decision,
    manifest: ds.manifest,
    testCount: test.count,
    ...(history ? { history } : {}),
    run: opts.run ?? {},
    createdAt: now(),
  });
  const markdown = renderGateMarkdown(report);
  const reportDir = path.resolve(opts.cwd, opts.reportDir);
  await buildDirAtomic(reportDir, async (tmp) => {
    await writeFileAtomic(path.join(tmp, REPORT_FILE), `${JSON.stringify(report, null, 2)}\n`);
    await writeFileAtomic(path.join(tmp, REPORT_MARKDOWN_FILE), markdown);
  });
  log.info(`Report: ${path.join(reportDir, REPORT_FILE)}`);

  return {
    report,
    decision,
    markdown,
    reportPath: path.join(reportDir, REPORT_FILE),
    markdownPath: path.join(reportDir, REPORT_MARKDOWN_FILE),
  };
}

/** The data set, verified against its manifest as a whole before anything is scored or recorded, and its test split. */
async function openTestSplit(opts: EvaluateGateOptions): Promise<{ ds: LoadedDataset; test: SplitTensors }> {
  const { log } = opts;
  const verified = await log.group('Data set', async () => {
    const v = await openDataset(path.resolve(opts.cwd, opts.dataset), {
      inputName: 'dataset',
      load: ['test'],
      ...(opts.memoryBudget !== undefined ? { memoryBudget: opts.memoryBudget } : {}),
    });
    log.info(`Verified ${v.manifest.digest} against its manifest: ${formatBytes(v.verified.bytes)} in ${v.verified.seconds.toFixed(2)} s.`);
    return v;
  });
  const ds: LoadedDataset = { dir: verified.dir, manifestPath: verified.manifestPath, manifest: verified.manifest };
  const test = await log.group('Test split', () => {
    const t = verified.splits.test;
    if (t === undefined) {
      throw new ConfigurationError(
        `the data set '${opts.dataset}' has no test split.`,
        'Run setup-data again with a test share above 0 (setup-data split ratios), and pass its dataset-dir output.',
      );
    }
    log.info(`${t.count} test examples (split ${ds.manifest.splits.test.digest}) of data set ${ds.manifest.digest}`);
    return Promise.resolve(t);
  });
  if (test.count === 0) {
    throw new ConfigurationError(
      `the data set '${opts.dataset}' has an empty test split.`,
      'Prepare the data with a test share above 0 (setup-data split ratios).',
    );
  }
  return { ds, test };
}

/** The candidate model folder, scored on the test split after checking it was not trained on it. */
async function scoreCandidate(run: GateRun): Promise<Side> {
  const { opts } = run;
  const dir = path.resolve(opts.cwd, opts.model);
  if (!(await isModelFolder(dir))) {
    throw new ConfigurationError(
      `input 'model' '${opts.model}' is not a model folder (no ${MODEL_METADATA_FILE}).`,
      'Pass the model-dir output of train.',
    );
  }
  const r = await run.score(dir, run.test, run.log);
  checkHeldOut(r.metadata, run.ds, 'candidate', opts.model);
  return {
    dir,
    metadata: r.metadata,
    scored: scoreOutputs(run.task, r.outputs, run.test.y, run.classes),
    identity: {
      name: opts.name ?? r.metadata.name ?? 'model',
      label: 'this PR',
      source: 'folder',
      digest: await modelFilesDigest(dir),
      trainedOn: r.metadata.dataset.digest,
    },
  };
}

/** The baseline, resolved and scored like the candidate (a pulled one is removed after scoring), or why there is none. */
async function scoreBaseline(run: GateRun, name: string): Promise<{ baseline?: Side; note?: string }> {
  const { log, ds } = run;
  const b = await resolveBaseline(run.opts, name, log);
  if (b.note) log.info(b.note);
  const note = b.note !== undefined ? { note: b.note } : {};
  if (b.kind !== 'model') return note;
  try {
    const r = await run.score(b.dir, run.test, log);
    checkHeldOut(r.metadata, ds, 'baseline', b.identity.label);
    if (r.metadata.dataset.digest !== ds.manifest.digest) {
      log.info(
        `The baseline was trained on data set ${r.metadata.dataset.digest}; both models are scored on the test split of ${ds.manifest.digest}.`,
      );
    }
    const baseline: Side = {
      dir: b.dir,
      metadata: r.metadata,
      scored: scoreOutputs(run.task, r.outputs, run.test.y, run.classes),
      identity: { ...b.identity, trainedOn: r.metadata.dataset.digest },
    };
    return { baseline, ...note };
  } finally {
    if (b.tmp) await rm(b.tmp, { recursive: true, force: true });
  }
}

/** The gate decision over both sides' scores (paired bootstrap intervals for regression rules other than accuracy), logged rule by rule. */
function decide(run: GateRun, rules: readonly Rule[], candidate: Side, base: Side | undefined): GateDecision {
  const { log, task } = run;
  const alpha = run.opts.significance;
  const bootstrapMetrics = [
    ...new Set(
      rules.filter((r) => r.kind === 'regression' && !(task === 'classification' && r.metric === 'accuracy')).map((r) => r.metric),
    ),
  ];
  const bootstrap = base
    ? bootstrapIntervals({
        metrics: bootstrapMetrics,
        task,
        candidate: candidate.scored.outputs,
        baseline: base.scored.outputs,
        labels: run.test.y,
        classes: run.classes,
        alpha,
      })
    : undefined;
  const d = decideGate({
    candidate: scalarMetrics(candidate.scored.metrics),
    ...(base ? { baseline: scalarMetrics(base.scored.metrics) } : {}),
    ...(candidate.scored.correct ? { candidateCorrect: candidate.scored.correct } : {}),
    ...(base?.scored.correct ? { baselineCorrect: base.scored.correct } : {}),
    rules,
    significance: { alpha, ...(bootstrap ? { bootstrap } : {}) },
  });
  for (const r of d.rules) {
    const icon = r.verdict === 'fail' ? '❌' : r.note ? '⚠️' : r.verdict === 'skip' ? '➖' : '✅';
    log.info(`${icon} ${r.rule.source}: ${r.reason}`);
  }
  if (d.significance.mcnemar) {
    const m = d.significance.mcnemar;
    log.info(
      `McNemar exact test: ${m.candidateOnly} right only for the candidate, ${m.baselineOnly} only for the baseline, p = ${m.pValue.toPrecision(3)}`,
    );
  }
  log.info(
    d.passed ? `Gate passed${d.withinNoise ? ` (${d.withinNoise} rule(s) within noise)` : ''}.` : `Gate failed: ${d.failed} rule(s).`,
  );
  return d;
}

/** What the baseline input resolves to: nothing to compare with, the first model, or a model folder to score. */
type ResolvedBaseline =
  | { readonly kind: 'none'; readonly note: string }
  | { readonly kind: 'first'; readonly note: string }
  | {
      readonly kind: 'model';
      readonly dir: string;
      /** A temporary folder the model was pulled into, removed after scoring. */
      readonly tmp?: string;
      readonly identity: ModelIdentity;
      readonly note?: string;
    };

/**
 * `none` → no baseline; an existing model folder → that folder; anything else → a registry
 * reference (a bare alias means `<name>@alias`). An alias no version carries yet, in a registry with
 * or without versions of the model, is the first model, said plainly — decided by the registry
 * answering "not found"; an explicit version or digest that does not exist is an error.
 */
async function resolveBaseline(opts: EvaluateGateOptions, name: string, log: Logger): Promise<ResolvedBaseline> {
  const text = opts.baseline.trim();
  if (text === '' || text.toLowerCase() === 'none') return { kind: 'none', note: 'no baseline, baseline: none — gated on thresholds only' };
  const asPath = path.resolve(opts.cwd, text);
  if (await isModelFolder(asPath)) {
    return {
      kind: 'model',
      dir: asPath,
      identity: { name, label: path.basename(asPath), source: 'folder', digest: await modelFilesDigest(asPath) },
    };
  }
  // A path (a '/' before any '@' selector) that is not a model folder; 'fashion@sha256:…/…' is a
  // reference with a malformed digest, and parseReference says so.
  if (/[\\/]/.test(text.split('@')[0]) && !isOciLocation(text)) {
    throw new ConfigurationError(
      `input 'baseline' '${text}' is neither a model folder (no ${MODEL_METADATA_FILE} there) nor a registry reference.`,
      'Pass a model folder, a registry reference such as production or fashion@production, or none.',
    );
  }
  const ref = parseReference(text, { defaultName: name, where: "input 'baseline'" });
  const open = opts.openRegistry ?? openRegistry;
  const registry = await open(ref.registry ?? opts.registry, {
    log,
    cwd: opts.cwd,
    defaultName: name,
    ...(opts.registryUsername ? { username: opts.registryUsername } : {}),
    ...(opts.registryPassword ? { password: opts.registryPassword } : {}),
  });
  const refText = formatReference({ ...ref, registry: undefined });
  const byAlias = ref.alias !== undefined || (ref.version === undefined && ref.digest === undefined);
  if (byAlias) {
    let versions: readonly { version: number }[];
    try {
      versions = await registry.list(ref.name);
    } catch (err) {
      throw new ConfigurationError(
        `cannot read model '${ref.name}' in registry ${registry.display}: ${errorMessage(err)}`,
        "Check input 'registry' and its credentials.",
        { cause: err },
      );
    }
    if (versions.length === 0) {
      return {
        kind: 'first',
        note: `first model: the registry ${registry.display} has no versions of ${ref.name} yet — gated on thresholds only`,
      };
    }
    if (ref.alias !== undefined) {
      try {
        await registry.resolve(ref);
      } catch (err) {
        if (!isNotFound(err)) throw err;
        return {
          kind: 'first',
          note: `first model for ${ref.alias}: no version of ${ref.name} is aliased ${ref.alias} yet, ${versions.length} registered — gated on thresholds only`,
        };
      }
    }
  }
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'modelship-baseline-'));
  try {
    const pulled = await registry.pull(ref, path.join(tmp, 'model'));
    log.info(`Baseline ${pulled.resolved.ref} pulled (${pulled.files.length} files).`);
    return {
      kind: 'model',
      dir: pulled.dir,
      tmp,
      identity: {
        name: pulled.resolved.name,
        label: ref.alias !== undefined ? `${ref.alias} v${pulled.resolved.version}` : `${pulled.resolved.name}:${pulled.resolved.version}`,
        source: 'registry',
        digest: pulled.resolved.digest,
        ref: pulled.resolved.ref,
        version: pulled.resolved.version,
        ...(ref.alias !== undefined ? { alias: ref.alias } : {}),
      },
      note: `baseline ${refText} = ${pulled.resolved.ref}`,
    };
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

/**
 * evaluate-gate, end to end: score the candidate (and the baseline) on the data set's test split,
 * decide the gate, write report.json and report.md, upsert the PR comment. The action and
 * `modelship evaluate-gate` both call `evaluateGate`; the decision itself is the pure `decideGate`.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadManifest, readSplit, type LoadedDataset, type SplitTensors } from '../data/index.ts';
import { type CommentMode, type CommentOutcome, type GithubContext, publishComment, readGithubContext } from '../github/index.ts';
import { MODEL_METADATA_FILE, type ModelMetadata } from '../model/index.ts';
import type { Registry, OpenOptions } from '../registry/index.ts';
import {
  type GateReport,
  jsonNumber,
  renderGateMarkdown,
  REPORT_FILE,
  REPORT_MARKDOWN_FILE,
  REPORT_SCHEMA_VERSION,
} from '../report/index.ts';
import { parseRules, type Rule } from '../rules/index.ts';
import { buildDirAtomic, ConfigurationError, errorMessage, type Logger, writeFileAtomic } from '../util/index.ts';
import { decideGate, type GateDecision } from './gate.ts';
import { metricNames, scalarMetrics, type Metrics } from './metrics.ts';
import { bootstrapIntervals, checkHeldOut, modelFilesDigest, readHistory, scoreOutputs, type Scored } from './score.ts';

export interface EvaluateGateOptions {
  readonly model: string;
  readonly dataset: string;
  /** A model folder, a registry reference (`production`, `fashion@production`, `fashion:3`, `oci://…`) or `none`. */
  readonly baseline: string;
  readonly registry: string;
  /** Credentials for an OCI baseline registry (the registry also reads MODELSHIP_REGISTRY_PASSWORD). */
  readonly registryUsername?: string;
  readonly registryPassword?: string;
  readonly name?: string;
  readonly thresholds: readonly string[];
  readonly maxRegression: readonly string[];
  readonly significance: number;
  readonly comment: CommentMode;
  readonly githubToken?: string;
  readonly reportDir: string;
  readonly log: Logger;
  readonly env: Readonly<Record<string, string | undefined>>;
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
  readonly comment: CommentOutcome;
}

interface Side {
  readonly dir: string;
  readonly metadata: ModelMetadata;
  readonly scored: Scored;
  readonly identity: Omit<NonNullable<GateReport['baseline']>, 'metrics'>;
}

/** Loads a model folder and predicts the test split with the shared input pipeline. */
async function defaultScoreModel(
  dir: string,
  test: SplitTensors,
  log: Logger,
): Promise<{ metadata: ModelMetadata; outputs: Float32Array; backend: string }> {
  const [{ initBackend }, { loadModel }, { predictProbabilities }] = await Promise.all([
    import('../model/backend.ts'),
    import('../model/io.ts'),
    import('../model/predict.ts'),
  ]);
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

function reportMetrics(m: Metrics): GateReport['candidate']['metrics'] {
  const scalars: Record<string, number | null> = {};
  for (const [k, v] of Object.entries(scalarMetrics(m))) scalars[k] = jsonNumber(v);
  if (m.task === 'regression') return { scalars };
  return {
    scalars,
    perClass: m.perClass.map((c) => ({
      precision: jsonNumber(c.precision),
      recall: jsonNumber(c.recall),
      f1: jsonNumber(c.f1),
      support: c.support,
    })),
    confusion: m.confusion.map((r) => [...r]),
  };
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

export async function evaluateGate(opts: EvaluateGateOptions): Promise<EvaluateGateResult> {
  const { log } = opts;
  const now = opts.now ?? (() => new Date());
  const score = opts.scoreModel ?? defaultScoreModel;
  const resolvePath = (p: string): string => path.resolve(opts.cwd, p);
  const context = await readGithubContext(opts.env);

  const ds: LoadedDataset = await loadManifest(resolvePath(opts.dataset), 'dataset');
  const task = ds.manifest.task;
  const rules = parseGateRules(task, opts.thresholds, opts.maxRegression);
  if (rules.length === 0)
    log.warning('No thresholds and no max-regression rules: the gate passes on any scores. Add thresholds such as accuracy >= 0.9.');
  const k = ds.manifest.classes.length;
  const test = await log.group('Test split', async () => {
    const t = await readSplit(ds, 'test');
    log.info(`${t.count} test examples (split ${ds.manifest.splits.test.digest}) of data set ${ds.manifest.digest}`);
    return t;
  });
  if (test.count === 0) {
    throw new ConfigurationError(
      `the data set '${opts.dataset}' has an empty test split.`,
      'Prepare the data with a test share above 0 (setup-data split ratios).',
    );
  }

  const candidateDir = resolvePath(opts.model);
  const candidate: Side = await log.group('Candidate', async () => {
    if (!(await isModelFolder(candidateDir))) {
      throw new ConfigurationError(
        `input 'model' '${opts.model}' is not a model folder (no ${MODEL_METADATA_FILE}).`,
        'Pass the model-dir output of train.',
      );
    }
    const r = await score(candidateDir, test, log);
    checkHeldOut(r.metadata, ds, 'candidate', opts.model);
    const scored = scoreOutputs(task, r.outputs, test.y, k);
    return {
      dir: candidateDir,
      metadata: r.metadata,
      scored,
      identity: {
        name: opts.name ?? r.metadata.name ?? 'model',
        label: 'this PR',
        source: 'folder',
        digest: await modelFilesDigest(candidateDir),
        trainedOn: r.metadata.dataset.digest,
      },
    };
  });
  const name = opts.name ?? candidate.metadata.name ?? 'model';

  let baselineNote: string | undefined;
  let baseline: Side | undefined;
  const cleanup: string[] = [];
  try {
    await log.group('Baseline', async () => {
      const b = await resolveBaseline(opts, name, log);
      if (b.note) log.info(b.note);
      baselineNote = b.note;
      if (b.tmp) cleanup.push(b.tmp);
      if (!b.dir) return;
      const r = await score(b.dir, test, log);
      checkHeldOut(r.metadata, ds, 'baseline', b.identity!.label);
      baseline = {
        dir: b.dir,
        metadata: r.metadata,
        scored: scoreOutputs(task, r.outputs, test.y, k),
        identity: { ...b.identity!, trainedOn: r.metadata.dataset.digest },
      };
      if (r.metadata.dataset.digest !== ds.manifest.digest) {
        log.info(
          `The baseline was trained on data set ${r.metadata.dataset.digest}; both models are scored on the test split of ${ds.manifest.digest}.`,
        );
      }
    });
  } finally {
    for (const t of cleanup) await rm(t, { recursive: true, force: true });
  }
  const base = baseline;

  const decision = await log.group('Gate', () => {
    const candScalars = scalarMetrics(candidate.scored.metrics);
    const bootstrapMetrics = base
      ? [
          ...new Set(
            rules.filter((r) => r.kind === 'regression' && !(task === 'classification' && r.metric === 'accuracy')).map((r) => r.metric),
          ),
        ]
      : [];
    const bootstrap = base
      ? bootstrapIntervals({
          metrics: bootstrapMetrics,
          task,
          candidate: candidate.scored.outputs,
          baseline: base.scored.outputs,
          labels: test.y,
          classes: k,
          alpha: opts.significance,
        })
      : undefined;
    const d = decideGate({
      candidate: candScalars,
      ...(base ? { baseline: scalarMetrics(base.scored.metrics) } : {}),
      ...(candidate.scored.correct ? { candidateCorrect: candidate.scored.correct } : {}),
      ...(base?.scored.correct ? { baselineCorrect: base.scored.correct } : {}),
      rules,
      significance: { alpha: opts.significance, ...(bootstrap ? { bootstrap } : {}) },
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
    return Promise.resolve(d);
  });

  const history = await readHistory(candidateDir);
  const md = candidate.metadata;
  const report: GateReport = {
    schemaVersion: REPORT_SCHEMA_VERSION,
    kind: 'modelship.report',
    name,
    task,
    passed: decision.passed,
    firstModel: decision.firstModel,
    createdAt: now().toISOString(),
    metrics: reportMetrics(candidate.scored.metrics).scalars,
    candidate: {
      ...candidate.identity,
      name,
      metrics: reportMetrics(candidate.scored.metrics),
      params: {
        architecture: md.params.architecture,
        epochs: md.params.epochs,
        batch: md.params.batchSize,
        lr: md.params.learningRate,
        seed: md.params.seed,
      },
      backend: md.backend,
      ...(md.git.commit ? { commit: md.git.commit } : {}),
    },
    baseline: base ? { ...base.identity, metrics: reportMetrics(base.scored.metrics) } : null,
    ...(baselineNote ? { baselineNote } : {}),
    dataset: {
      digest: ds.manifest.digest,
      split: 'test',
      splitDigest: ds.manifest.splits.test.digest,
      count: test.count,
      total: ds.manifest.splits.train.count + ds.manifest.splits.validation.count + ds.manifest.splits.test.count,
      ratios: [...ds.manifest.split.ratios],
      counts: {
        train: ds.manifest.splits.train.count,
        validation: ds.manifest.splits.validation.count,
        test: ds.manifest.splits.test.count,
      },
      classes: [...ds.manifest.classes],
    },
    rules: decision.rules.map((r) => ({
      rule: r.rule.source,
      kind: r.rule.kind,
      metric: r.metric,
      text: r.text,
      value: jsonNumber(r.value),
      baseline: jsonNumber(r.baseline),
      verdict: r.verdict,
      reason: r.reason,
      ...(r.note ? { note: r.note } : {}),
    })),
    significance: {
      alpha: decision.significance.alpha,
      ...(decision.significance.mcnemar ? { mcnemar: decision.significance.mcnemar } : {}),
      bootstrap: decision.significance.bootstrap.map((b) => ({
        ...b,
        observed: jsonNumber(b.observed),
        low: jsonNumber(b.low),
        high: jsonNumber(b.high),
      })),
    },
    ...(history
      ? {
          history: history.map((e) => ({
            epoch: e.epoch,
            loss: jsonNumber(e.loss),
            ...(e.acc !== undefined ? { acc: jsonNumber(e.acc) } : {}),
            ...(e.valLoss !== undefined ? { valLoss: jsonNumber(e.valLoss) } : {}),
            ...(e.valAcc !== undefined ? { valAcc: jsonNumber(e.valAcc) } : {}),
          })),
        }
      : {}),
    run: runInfo(context),
  };
  const markdown = renderGateMarkdown(report);
  const reportDir = resolvePath(opts.reportDir);
  await buildDirAtomic(reportDir, async (tmp) => {
    await writeFileAtomic(path.join(tmp, REPORT_FILE), `${JSON.stringify(report, null, 2)}\n`);
    await writeFileAtomic(path.join(tmp, REPORT_MARKDOWN_FILE), markdown);
  });
  log.info(`Report: ${path.join(reportDir, REPORT_FILE)}`);

  const comment = await log.group('PR comment', () =>
    publishComment({ mode: opts.comment, token: opts.githubToken, context, name, markdown, log }),
  );
  return {
    report,
    decision,
    markdown,
    reportPath: path.join(reportDir, REPORT_FILE),
    markdownPath: path.join(reportDir, REPORT_MARKDOWN_FILE),
    comment,
  };
}

function runInfo(c: GithubContext): NonNullable<GateReport['run']> {
  return {
    ...(c.runUrl ? { url: c.runUrl } : {}),
    ...(c.runNumber ? { number: c.runNumber } : {}),
    ...(c.workflow ? { workflow: c.workflow } : {}),
    ...(c.workflowFile ? { workflowFile: c.workflowFile } : {}),
    ...(c.eventName ? { event: c.eventName } : {}),
    ...(c.pullRequest?.headSha ? { sha: c.pullRequest.headSha } : c.sha ? { sha: c.sha } : {}),
    ...(c.pullRequest?.headRef ? { ref: c.pullRequest.headRef } : c.ref ? { ref: c.ref } : {}),
    ...(c.repository ? { repository: `${c.repository.owner}/${c.repository.repo}` } : {}),
    ...(c.pullRequest ? { pr: c.pullRequest.number } : {}),
  };
}

interface ResolvedBaseline {
  readonly dir?: string;
  readonly tmp?: string;
  readonly note?: string;
  readonly identity?: Omit<NonNullable<GateReport['baseline']>, 'metrics'>;
}

/**
 * `none` → no baseline; an existing model folder → that folder; anything else → a registry
 * reference (a bare alias means `<name>@alias`). An alias no version carries yet, in a registry with
 * or without versions of the model, is the first model, said plainly; an explicit version or digest
 * that does not exist is an error.
 */
async function resolveBaseline(opts: EvaluateGateOptions, name: string, log: Logger): Promise<ResolvedBaseline> {
  const text = opts.baseline.trim();
  if (text === '' || text.toLowerCase() === 'none') return { note: 'no baseline, baseline: none — gated on thresholds only' };
  const asPath = path.resolve(opts.cwd, text);
  if (await isModelFolder(asPath)) {
    return { dir: asPath, identity: { name, label: path.basename(asPath), source: 'folder', digest: await modelFilesDigest(asPath) } };
  }
  if (/[\\/]/.test(text) && !/^oci:\/\//i.test(text)) {
    throw new ConfigurationError(
      `input 'baseline' '${text}' is neither a model folder (no ${MODEL_METADATA_FILE} there) nor a registry reference.`,
      'Pass a model folder, a registry reference such as production or fashion@production, or none.',
    );
  }
  const { parseReference, formatReference } = await import('../registry/reference.ts');
  const ref = parseReference(text, { defaultName: name, where: "input 'baseline'" });
  const open = opts.openRegistry ?? (await import('../registry/index.ts')).openRegistry;
  const registry = await open(ref.registry ?? opts.registry, {
    log,
    env: opts.env,
    cwd: opts.cwd,
    defaultName: name,
    ...(opts.registryUsername ? { username: opts.registryUsername } : {}),
    ...(opts.registryPassword ? { password: opts.registryPassword } : {}),
  });
  const refText = formatReference({ ...ref, registry: undefined });
  if (ref.alias !== undefined || (ref.version === undefined && ref.digest === undefined)) {
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
        note: `first model: the registry ${registry.display} has no versions of ${ref.name} yet — gated on thresholds only`,
      };
    }
    if (ref.alias !== undefined) {
      try {
        await registry.resolve(ref);
      } catch (err) {
        if (!(err instanceof ConfigurationError)) throw err;
        return {
          note: `first model for ${ref.alias}: no version of ${ref.name} is aliased ${ref.alias} yet, ${versions.length} registered — gated on thresholds only`,
        };
      }
    }
  }
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'modelship-baseline-'));
  const pulled = await registry.pull(ref, path.join(tmp, 'model'));
  log.info(`Baseline ${pulled.resolved.ref} pulled (${pulled.files.length} files).`);
  return {
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
}

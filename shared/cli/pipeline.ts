/**
 * `modelship pipeline`: the whole loop on one machine, with the embedded defaults (a local registry
 * folder, local model servers behind a proxy, the servers' own /metrics):
 *
 *   setup-data → train → evaluate-gate (vs production) → register (staging) → deploy-rollout
 *   (a local canary of staging while the test split is replayed through the proxy, analysed, then
 *   promoted: production moves to it) → monitor-check (the running servers)
 *
 * Each step's outputs feed the next, exactly as a workflow passes them between `uses:` steps; an
 * option given to the pipeline goes to every step that declares an input of that name. Steps whose
 * inputs did not change reuse their last output (the run cache, steps/run-cache.ts), and a
 * candidate that production already serves is neither gated nor registered again. `--from` and
 * `--until` run part of the loop, taking the earlier steps' outputs from the last run.
 *
 * `--retrain` closes the loop on production's feedback: the servers' feedback store is exported as
 * a data set folder (`modelship feedback export`), setup-data prepares the old data and the new as
 * one data set (old examples keep their split; feedback never enters the test split), and train
 * fine-tunes from production (`init-from`); the gate, register, canary, promotion and monitor
 * follow as in any run.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { InputDecls } from '../config/index.ts';
import {
  deployRolloutStep,
  evaluateGateStep,
  monitorCheckStep,
  producedBy,
  registerStep,
  resolveInputs,
  runCache,
  setupDataStep,
  trainStep,
  type AnyStep,
  type StepResult,
  type StepServices,
} from '../steps/index.ts';
import { ConfigurationError, errorMessage, writeJsonAtomic } from '../util/index.ts';
import { parseStepArgs } from './args.ts';
import { DEFAULT_STORE, feedbackCommand } from './feedback.ts';

type RunStep = (step: AnyStep, raw: Readonly<Record<string, string>>) => Promise<StepResult<string>>;

const loop: readonly AnyStep[] = [setupDataStep, trainStep, evaluateGateStep, registerStep, deployRolloutStep, monitorCheckStep];
const STEP_NAMES = loop.map((s) => s.name);
/** Inputs the pipeline wires from one step's outputs to the next; not settable from outside. */
const wired = new Set(['dataset', 'model', 'report', 'ref', 'endpoint', 'reference', 'version']);
const own = ['work-dir', 'promote', 'until', 'from', 'rate', 'feedback'] as const;
const ownFlags = ['keep-serving', 'no-cache', 'retrain'] as const;

export function pipelineHelp(): string {
  return [
    'modelship pipeline: the whole loop on this machine —',
    '  setup-data → train → evaluate-gate (vs production) → register (staging) → deploy-rollout (a local canary',
    '  of staging under replayed test traffic, analysed, promoted: production moves) → monitor-check.',
    '',
    'Reads modelship.yml (or --config). Any step option may be given and goes to the steps that take it',
    '(e.g. --epochs 2, --thresholds "accuracy >= 0.8", --analysis-interval 2s).',
    '  --work-dir D      where step outputs go (default .modelship)',
    '  --promote A       the alias moved to the new version after a successful rollout (default production)',
    `  --from S          start at step S (${STEP_NAMES.join(', ')}), with the earlier outputs of the last run`,
    '  --until S         stop after step S',
    '  --rate N          replayed requests per second while deploying and monitoring (default 10)',
    '  --keep-serving    leave the servers running at the end (modelship deploy stop ends them)',
    '  --no-cache        run every step even when its inputs did not change',
    '',
    "Retraining on production's feedback (the labels sent to the servers' :feedback):",
    '  --retrain         export the feedback store as a data set, prepare the old data and it as one (the test',
    '                    split unchanged), fine-tune from production (--init-from), then gate, register, canary,',
    '                    promote and monitor as always. Also --fine-tune-epochs, --fine-tune-learning-rate.',
    `  --feedback D      the feedback store to learn from (default: serve.feedback-dir, else ${DEFAULT_STORE},`,
    '                    where the local servers write it)',
    '  --init-from R     the model to fine-tune from (default: the --promote alias, production)',
  ].join('\n');
}

interface StepReport {
  readonly step: string;
  readonly seconds: number;
  readonly note: string;
  readonly reused?: boolean;
}

export interface PipelineOutcome {
  readonly ok: boolean;
  readonly outputs: Record<string, Record<string, string>>;
  readonly steps: readonly StepReport[];
  readonly seconds: number;
}

const stepIndex = (name: string | undefined, option: string): number | undefined => {
  if (name === undefined) return undefined;
  const i = STEP_NAMES.indexOf(
    name === 'deploy'
      ? 'deploy-rollout'
      : name === 'monitor'
        ? 'monitor-check'
        : name === 'data'
          ? 'setup-data'
          : name === 'evaluate'
            ? 'evaluate-gate'
            : name,
  );
  if (i < 0)
    throw new ConfigurationError(`pipeline: ${option} '${name}' is not a step of the loop.`, `Use one of: ${STEP_NAMES.join(', ')}.`);
  return i;
};

export async function runPipeline(argv: readonly string[], ctx: StepServices, runStep: RunStep): Promise<PipelineOutcome> {
  const started = ctx.now().getTime();
  const all: InputDecls = {};
  for (const step of loop) for (const [name, d] of Object.entries(step.inputs)) if (!wired.has(name)) all[name] = d;
  const { values } = parseStepArgs(argv, all, 'pipeline', own, ownFlags);
  const workDir = values['work-dir'] ?? '.modelship';
  const promote = values['promote'] ?? 'production';
  const from = stepIndex(values['from'], '--from') ?? 0;
  const until = stepIndex(values['until'], '--until') ?? loop.length - 1;
  if (until < from)
    throw new ConfigurationError(`pipeline: --until ${values['until']} comes before --from ${values['from']}.`, 'Swap them.');
  const useCache = values['no-cache'] !== 'true';
  const keepServing = values['keep-serving'] === 'true';
  const retrain = values['retrain'] === 'true';
  if (!retrain && values['feedback'] !== undefined)
    throw new ConfigurationError(
      'pipeline: --feedback names the store to retrain on, and --retrain is not given.',
      'Add --retrain, or drop --feedback.',
    );
  const rate = values['rate'] !== undefined ? Number(values['rate']) : 10;
  if (!Number.isFinite(rate) || rate <= 0 || rate > 1000)
    throw new ConfigurationError(
      `pipeline: --rate must be requests per second from 1 to 1000, got '${values['rate']}'.`,
      'Write e.g. --rate 10.',
    );
  const at = (p: string): string => path.join(workDir, p);
  const pick = (step: AnyStep): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const name of Object.keys(step.inputs)) if (values[name] !== undefined) out[name] = values[name];
    return out;
  };
  const cache = runCache(path.resolve(ctx.cwd, at('run-cache')));
  const lastRunFile = path.resolve(ctx.cwd, at('pipeline.json'));
  const outputs: Record<string, Record<string, string>> = {};
  if (from > 0) {
    let last: { outputs?: Record<string, Record<string, string>> };
    try {
      last = JSON.parse(await readFile(lastRunFile, 'utf8')) as typeof last;
    } catch {
      throw new ConfigurationError(
        `pipeline: --from ${STEP_NAMES[from]} needs the outputs of a run before it, and ${at('pipeline.json')} has none.`,
        'Run the pipeline once without --from.',
      );
    }
    for (const s of STEP_NAMES.slice(0, from)) {
      const o = last.outputs?.[s];
      if (!o)
        throw new ConfigurationError(
          `pipeline: the last run has no outputs of ${s}, which --from ${STEP_NAMES[from]} needs.`,
          'Run the pipeline once without --from.',
        );
      outputs[s] = o;
    }
  }
  const reports: StepReport[] = [];
  const runs = (i: number): boolean => i >= from && i <= until;
  const done = async (ok: boolean): Promise<PipelineOutcome> => {
    await writeJsonAtomic(lastRunFile, { at: new Date().toISOString(), ok, outputs }).catch(() => undefined);
    return { ok, outputs, steps: reports, seconds: (ctx.now().getTime() - started) / 1000 };
  };
  const record = (step: AnyStep, result: StepResult<string>, t0: number, note: string, reused = false): void => {
    outputs[step.name] = Object.fromEntries(Object.entries(result.outputs).map(([k, v]) => [k, String(v)]));
    reports.push({ step: step.name, seconds: (ctx.now().getTime() - t0) / 1000, note, ...(reused ? { reused } : {}) });
  };
  const run = async (step: AnyStep, raw: Record<string, string>): Promise<StepResult<string>> =>
    ctx.log.group(`modelship ${step.name}`, async () => {
      const result = await runStep(step, raw);
      for (const [k, v] of Object.entries(result.outputs)) ctx.log.info(`  ${k}=${String(v)}`);
      return result;
    });
  /** A step through the run cache: reused when its inputs are unchanged and what it produced is intact. */
  const cached = async (
    step: AnyStep,
    raw: Record<string, string>,
    produced: (r: StepResult<string>) => Promise<Parameters<typeof cache.store>[4]>,
    extra: Record<string, unknown> = {},
  ): Promise<{ result: StepResult<string>; reused?: string }> => {
    if (!useCache) return { result: await run(step, raw) };
    const { inputs } = await resolveInputs(step, raw, ctx.cwd);
    const { key, parts } = await cache.key(step.name, inputs, ctx.cwd, extra);
    const hit = await cache.lookup(step.name, key);
    if (hit) {
      ctx.log.info(
        `▸ modelship ${step.name}: reused the run of ${hit.at.slice(0, 19).replace('T', ' ')} (same data, parameters, code and configuration)`,
      );
      return { result: hit, reused: hit.at };
    }
    const result = await run(step, raw);
    if (!result.failure) await cache.store(step.name, key, parts, result, await produced(result));
    return { result };
  };

  // 0. --retrain: the feedback store as a data set folder, added to the data's sources
  let t0 = ctx.now().getTime();
  const extraSources = values['extra-source'] !== undefined ? [values['extra-source']] : [];
  if (retrain && runs(0)) {
    const exported = await exportFeedbackSet(values['feedback'], at('feedback-data'));
    extraSources.push(exported['dataset-dir'] ?? at('feedback-data'));
    outputs['feedback'] = exported;
    reports.push({
      step: 'feedback',
      seconds: (ctx.now().getTime() - t0) / 1000,
      note: `${exported['examples']} labelled predictions of ${exported['model']} (${exported['wrong']} wrong) as ${exported['format']}`,
    });
  }

  // 1. setup-data (its own state file makes an unchanged source a no-op)
  t0 = ctx.now().getTime();
  if (runs(0)) {
    const data = await run(setupDataStep, {
      'output-dir': at('data'),
      ...pick(setupDataStep),
      ...(extraSources.length ? { 'extra-source': extraSources.join('\n') } : {}),
    });
    record(
      setupDataStep,
      data,
      t0,
      `${data.outputs['examples']} examples, ${String(data.outputs['digest']).slice(0, 19)}…${data.outputs['cache-hit'] === true || data.outputs['cache-hit'] === 'true' ? ' (unchanged source)' : ''}`,
    );
  }
  const dataset = outputs['setup-data']?.['dataset-dir'] ?? '';
  const manifest = outputs['setup-data']?.['manifest'] ?? '';
  if (until < 1) return finish(true);

  // 2. train (--retrain: fine-tuned from production)
  t0 = ctx.now().getTime();
  if (runs(1)) {
    const initFrom = values['init-from'] ?? (retrain ? promote : undefined);
    const { result, reused } = await cached(
      trainStep,
      { 'output-dir': at('model'), ...pick(trainStep), dataset, ...(initFrom ? { 'init-from': initFrom } : {}) },
      async (r) => [await producedBy('model', String(r.outputs['model-dir']))],
    );
    record(
      trainStep,
      result,
      t0,
      `val accuracy ${String(result.outputs['val-accuracy'])}, ${String(result.outputs['backend'])}${initFrom ? `, fine-tuned from ${initFrom}` : ''}${reused ? ' (reused)' : ` in ${String(result.outputs['duration-seconds'])} s`}`,
      reused !== undefined,
    );
  }
  const model = outputs['train']?.['model-dir'] ?? '';
  if (until < 2) return finish(true);

  // A candidate that production already serves needs no gate and no new version.
  const [{ openRegistry, modelName }, { modelFilesDigest }] = await Promise.all([
    import('../registry/index.ts'),
    import('../model/index.ts'),
  ]);
  const { inputs: regInputs } = await resolveInputs(registerStep, { ...pick(registerStep), model }, ctx.cwd);
  const registry = await openRegistry(regInputs.registry, { log: ctx.log, cwd: ctx.cwd });
  const name: string = await modelName(path.resolve(ctx.cwd, model), regInputs.name);
  const candidateDigest = await modelFilesDigest(path.resolve(ctx.cwd, model));
  const held = await registry.findModel(name, candidateDigest);
  const production = await registry.resolve(`${name}@${promote}`).catch(() => undefined);
  const servesAlready = held !== undefined && production !== undefined && held.digest === production.digest;

  // 3. evaluate-gate
  t0 = ctx.now().getTime();
  if (runs(2)) {
    if (servesAlready) {
      ctx.log.info(`▸ modelship evaluate-gate: skipped — the candidate is ${held.name}:${held.version}, which ${promote} already is`);
      outputs['evaluate-gate'] = {
        passed: 'true',
        report: outputs['evaluate-gate']?.['report'] ?? '',
        markdown: outputs['evaluate-gate']?.['markdown'] ?? '',
      };
      reports.push({ step: 'evaluate-gate', seconds: 0, note: `skipped: the candidate is ${promote} (v${held.version})`, reused: true });
    } else {
      const { result, reused } = await cached(
        evaluateGateStep,
        { 'report-dir': at('report'), comment: 'false', ...pick(evaluateGateStep), model, dataset, 'fail-on-gate': 'false' },
        async (r) => [await producedBy('file', String(r.outputs['report']))],
        { baseline: production?.digest ?? 'none' },
      );
      const passed = result.outputs['passed'] === true || result.outputs['passed'] === 'true';
      record(
        evaluateGateStep,
        result,
        t0,
        `${passed ? 'passed' : 'did not pass'} vs ${production ? `${promote} v${production.version}` : 'thresholds only (first model)'}${reused ? ' (reused)' : ''}`,
        reused !== undefined,
      );
      if (!passed) {
        ctx.log.info(
          `pipeline stopped: the gate did not pass, so the model is not registered. Report: ${String(result.outputs['markdown'])}`,
        );
        return finish(false);
      }
    }
  }
  if (until < 3) return finish(true);

  // 4. register (staging); the same model is found, not registered again
  t0 = ctx.now().getTime();
  if (runs(3)) {
    const aliases = values['alias'] ?? 'staging';
    const report = outputs['evaluate-gate']?.['report'];
    const r = await run(registerStep, { ...pick(registerStep), model, dataset, ...(report ? { report } : {}), alias: aliases });
    record(
      registerStep,
      r,
      t0,
      `${String(r.outputs['ref']).replace(/@sha256:.*/, '')} (${aliases.split(/[\n,]/).join(', ')})${held ? ', already registered' : ''}`,
      held !== undefined,
    );
  }
  if (until < 4) return finish(true);

  // 5–7. deploy-rollout: a local canary of staging under replayed traffic, analysed, promoted
  const { loadManifest, readSplit } = await import('../data/index.ts');
  const { replayTraffic } = await import('../serve/index.ts');
  const test = await readSplit(await loadManifest(path.resolve(ctx.cwd, dataset)), 'test');
  let traffic: ReturnType<typeof replayTraffic> | undefined;
  const { deployDir, readLocalState, stopLocal } = await import('../rollout/index.ts');
  const proxyUrl = async (): Promise<string | undefined> => (await readLocalState(deployDir(ctx.cwd, name)))?.proxy?.url;
  const startTraffic = async (): Promise<void> => {
    const url = await proxyUrl();
    if (url && !traffic) traffic = replayTraffic({ url, model: name, examples: test, rate });
  };
  try {
    t0 = ctx.now().getTime();
    if (runs(4)) {
      // The servers were stopped at the end of the last run: production serves again first, so that
      // staging goes out as a canary beside it, as it would on a cluster.
      const serving = (await readLocalState(deployDir(ctx.cwd, name)))?.stable;
      if (!serving && production && !servesAlready) {
        await run(deployRolloutStep, {
          target: 'local',
          ...pick(deployRolloutStep),
          ref: `${name}@${promote}`,
          strategy: 'rolling',
          analysis: '',
        });
      }
      await startTraffic();
      const r = await run(deployRolloutStep, {
        target: 'local',
        ...pick(deployRolloutStep),
        ref: `${name}@${values['alias']?.split(/[\n,]/)[0]?.trim() || 'staging'}`,
        'promote-alias': promote,
        reference: manifest,
      });
      await startTraffic();
      const seen = traffic?.stats();
      record(
        deployRolloutStep,
        r,
        t0,
        `${String(r.outputs['status'])}${seen ? `; ${seen.ok} replayed requests answered, ${seen.failed} failed` : ''}`,
      );
      if (r.failure) {
        ctx.log.info(`pipeline stopped: ${r.failure}`);
        return await finish(false);
      }
    }
    if (until < 5) return await finish(true);

    // 8. monitor-check against the running servers
    t0 = ctx.now().getTime();
    if (runs(5)) {
      await startTraffic();
      const state = await readLocalState(deployDir(ctx.cwd, name));
      const r = await run(monitorCheckStep, {
        ...pick(monitorCheckStep),
        endpoint: state?.stable?.url ?? '',
        ...(state?.stable ? { version: String(state.stable.version.version) } : {}),
        reference: manifest,
        name,
      });
      record(
        monitorCheckStep,
        r,
        t0,
        `${r.outputs['healthy'] === true || r.outputs['healthy'] === 'true' ? 'healthy' : `not healthy: ${String(r.outputs['breaches'])}`}`,
      );
      if (r.failure) {
        ctx.log.info(`pipeline stopped: ${r.failure}`);
        return await finish(false);
      }
    }
    return await finish(true);
  } finally {
    if (traffic) {
      const seen = await traffic.stop();
      ctx.log.info(
        `replayed ${seen.sent} requests of the test split through the proxy: ${seen.ok} answered, ${seen.failed} failed${seen.errors.length ? ` (${seen.errors.slice(0, 3).join('; ')})` : ''}`,
      );
    }
    if (!keepServing && runs(4)) {
      const n = await stopLocal(ctx.cwd, name, ctx.log).catch((err: unknown) => {
        ctx.log.warning(`could not stop the servers: ${errorMessage(err)}`);
        return 0;
      });
      if (n > 0) ctx.log.info(`stopped the ${n} local server processes (--keep-serving leaves them running)`);
    }
  }

  /** `modelship feedback export` of the store into `out`: its outputs (dataset-dir, examples, wrong, format, model). */
  async function exportFeedbackSet(store: string | undefined, out: string): Promise<Record<string, string>> {
    let text = '';
    const stdout = new Writable({
      write(chunk: Buffer, _encoding, done) {
        text += chunk.toString();
        done();
      },
    });
    const config = values['config'];
    const argv = ['export', ...(store ? ['--store', store] : []), '--out', out, ...(config ? ['--config', config] : [])];
    ctx.log.info(`▸ modelship feedback ${argv.join(' ')}`);
    try {
      await feedbackCommand(argv, { log: ctx.log, stdout, cwd: ctx.cwd, env: ctx.env, now: ctx.now });
    } catch (err) {
      if (err instanceof ConfigurationError)
        throw new ConfigurationError(
          `pipeline --retrain: ${err.message}`,
          `${err.hint ?? ''} The local servers of an earlier run write it to ${DEFAULT_STORE} (give another with --feedback).`.trim(),
          { cause: err },
        );
      throw err;
    }
    return Object.fromEntries(
      text
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
  }

  async function finish(ok: boolean): Promise<PipelineOutcome> {
    const outcome = await done(ok);
    const lines = [
      '',
      `pipeline ${ok ? 'done' : 'stopped'} in ${outcome.seconds.toFixed(1)} s`,
      ...where(),
      '',
      ...outcome.steps.map((s) => `  ${s.step.padEnd(15)} ${`${s.seconds.toFixed(1)} s`.padStart(7)}  ${s.note}`),
    ];
    ctx.log.info(lines.join('\n'));
    return outcome;
  }

  function where(): string[] {
    const rows: [string, string | undefined][] = [
      ['feedback', outputs['feedback']?.['dataset-dir']],
      ['data', outputs['setup-data']?.['dataset-dir']],
      ['model', outputs['train']?.['model-dir']],
      ['report', outputs['evaluate-gate']?.['markdown']],
      ['registry', outputs['register']?.['ref']],
      ['endpoint', outputs['deploy-rollout']?.['url']],
      ['monitor', outputs['monitor-check']?.['report']],
    ];
    return rows.filter(([, v]) => v).map(([k, v]) => `  ${k.padEnd(9)} ${v}`);
  }
}

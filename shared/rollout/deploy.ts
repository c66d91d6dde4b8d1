/**
 * deploy-rollout's work, on any target: resolve the reference (by digest), see what serves now,
 * abort a canary left in progress, skip a version that already serves, run the rollout (a canary
 * with analysis, or a rolling update), move the promote alias after a promotion, and return what
 * happened. `action` promote / abort finish a canary in progress; rollback moves the alias back
 * and deploys the version it pointed at before. Publishing (the summary) is the step's.
 */
import {
  DRIFT_NAMES,
  measure,
  judge,
  parseSloRules,
  parseDriftRules,
  loadReference,
  prometheusSource,
  scrapeSource,
  type FetchLike,
} from '../monitor/index.ts';
import { parseReference, type Registry } from '../registry/index.ts';
import { ConfigurationError, errorMessage, type Logger } from '../util/index.ts';
import { planProblem, type RolloutPlan } from './analysis.ts';
import { runRollout, type Measured, type StepRecord } from './run.ts';
import type { RolloutTarget, ServedVersion } from './target.ts';

export type DeployAction = 'deploy' | 'promote' | 'abort' | 'rollback';
export type DeployStatus = 'promoted' | 'rolled-back' | 'unchanged' | 'failed';

/** Consecutive measurement errors that abort a canary (Argo Rollouts' consecutiveErrorLimit default). */
export const CONSECUTIVE_ERROR_LIMIT = 4;
export const DEFAULT_STEPS = [10, 50, 100];

export interface DeployOptions {
  readonly action: DeployAction;
  /** fashion@staging, fashion:3, oci://… (for promote/abort: optional). */
  readonly ref: string;
  readonly strategy: 'rolling' | 'canary';
  readonly steps: readonly number[];
  readonly analysis: readonly string[];
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly failureLimit: number;
  readonly noData: 'fail' | 'warn' | 'pass';
  readonly prometheus?: string;
  /** setup-data's manifest or a model folder, for drift rules in the analysis. */
  readonly reference?: string;
  readonly promoteAlias?: string;
}

export interface DeployServices {
  readonly registry: Registry;
  readonly target: RolloutTarget;
  readonly log: Logger;
  readonly now: () => Date;
  readonly cwd: string;
  /** How the analysis reaches the canary's /metrics (through the API server on Kubernetes). */
  readonly scrapeFetch?: FetchLike;
  readonly signal?: AbortSignal;
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export interface DeployResult {
  readonly status: DeployStatus;
  readonly reason: string;
  readonly version?: ServedVersion;
  readonly previous?: ServedVersion;
  readonly url?: string;
  readonly steps: readonly StepRecord[];
  readonly seconds: number;
  readonly alias?: { readonly alias: string; readonly from?: number; readonly to: number };
  readonly where: string;
  readonly strategy: 'rolling' | 'canary';
}

async function resolveVersion(registry: Registry, text: string): Promise<ServedVersion> {
  const ref = parseReference(text, { where: "input 'ref'" });
  const r = await registry.resolve(ref);
  return { name: r.name, version: r.version, digest: r.digest, ref: r.ref };
}

/** The analysis rules, parsed once (the SLO and drift names of monitor-check). */
function analysisRules(lines: readonly string[]): ReturnType<typeof parseSloRules> {
  const isDrift = (line: string): boolean => DRIFT_NAMES.includes(line.trim().split(/[\s<>=!:]/)[0] ?? '');
  return [
    ...parseSloRules(
      lines.filter((l) => !isDrift(l)),
      [],
      'analysis',
    ),
    ...parseDriftRules(lines.filter(isDrift), 'analysis'),
  ];
}

const isDriftMetric = (metric: string): boolean => DRIFT_NAMES.includes(metric);

export async function deployRollout(o: DeployOptions, s: DeployServices): Promise<DeployResult> {
  const started = s.now().getTime();
  const { target, registry, log } = s;
  const seconds = (): number => (s.now().getTime() - started) / 1000;
  const done = (r: Omit<DeployResult, 'seconds' | 'where' | 'strategy' | 'steps'> & { steps?: readonly StepRecord[] }): DeployResult => {
    log.info(`${r.status}: ${r.reason}`);
    return { steps: [], ...r, seconds: seconds(), where: target.where, strategy: o.strategy };
  };
  const serving = await target.serving();
  let url = serving.url;

  if (o.action === 'promote' || o.action === 'abort') {
    const canary = serving.canary;
    if (!canary)
      return done({
        status: 'unchanged',
        reason: `no canary is in progress at ${target.where}`,
        ...(serving.stable ? { version: serving.stable } : {}),
        ...(url ? { url } : {}),
      });
    if (o.action === 'abort') {
      await target.abort('action: abort');
      return done({
        status: 'rolled-back',
        reason: `canary ${canary.name}:${canary.version} aborted (action: abort)`,
        version: canary,
        ...(serving.stable ? { previous: serving.stable } : {}),
        ...(url ? { url } : {}),
      });
    }
    await target.promote(canary);
    const alias = o.promoteAlias ? await moveAlias(registry, canary, o.promoteAlias, log) : undefined;
    return done({
      status: 'promoted',
      reason: `canary ${canary.name}:${canary.version} promoted (action: promote)`,
      version: canary,
      ...(serving.stable ? { previous: serving.stable } : {}),
      ...(alias ? { alias } : {}),
      ...(url ? { url } : {}),
    });
  }

  let version: ServedVersion;
  let rollbackNote = '';
  if (o.action === 'rollback') {
    if (!o.promoteAlias)
      throw new ConfigurationError(
        "action: rollback needs 'promote-alias' (the alias to move back, e.g. production).",
        'Set promote-alias: production.',
      );
    const name = parseReference(o.ref, { where: "input 'ref'" }).name;
    const move = await registry.rollback(name, o.promoteAlias);
    version = await resolveVersion(registry, `${name}:${move.to.version}`);
    rollbackNote = `${name}@${o.promoteAlias} moved back v${move.from?.version ?? '?'} → v${move.to.version}; `;
    log.info(`${name}@${o.promoteAlias}: v${move.from?.version ?? '?'} → v${move.to.version} (rolled back)`);
  } else {
    version = await resolveVersion(registry, o.ref);
  }

  if (serving.canary) {
    log.warning(
      `a canary of ${serving.canary.name}:${serving.canary.version} is in progress at ${serving.canary.weight}%: aborting it first`,
    );
    await target.abort(`a newer deploy (${version.name}:${version.version})`);
  }
  if (serving.stable?.digest === version.digest) {
    const alias = o.promoteAlias && o.action === 'deploy' ? await moveAlias(registry, version, o.promoteAlias, log) : undefined;
    return done({
      status: o.action === 'rollback' ? 'rolled-back' : 'unchanged',
      reason: `${rollbackNote}${version.name}:${version.version} (${version.digest.slice(0, 19)}…) already serves at ${target.where}`,
      version,
      previous: serving.stable,
      ...(alias ? { alias } : {}),
      ...(url ? { url } : {}),
    });
  }

  // The first version, a rollback and a rolling update go out in one step; a canary steps through its weights.
  const canary = o.strategy === 'canary' && serving.stable !== undefined && o.action === 'deploy';
  const steps = canary ? (o.steps.length ? o.steps : DEFAULT_STEPS) : [100];
  const problem = planProblem(steps);
  if (problem)
    throw new ConfigurationError(
      `input 'steps' [${o.steps.join(', ')}]: ${problem}.`,
      'Give increasing weights in percent that end at 100, e.g. steps: 10, 50, 100.',
    );
  const rules = canary && o.analysis.length ? analysisRules(o.analysis) : [];
  const drift = rules.some((r) => isDriftMetric(r.metric));
  const reference = drift && o.reference ? await loadReference(o.reference, s.cwd) : undefined;
  if (drift && !reference)
    throw new ConfigurationError(
      'the analysis has drift rules but no reference.',
      "Give 'reference': setup-data's manifest.json or the model folder.",
    );
  const plan: RolloutPlan = {
    steps,
    analysis: rules.length > 0,
    failureLimit: o.failureLimit,
    errorLimit: CONSECUTIVE_ERROR_LIMIT,
    noData: o.noData,
  };
  const windowSeconds = Math.max(1, Math.round(o.intervalMs / 1000));
  const measureCanary = async (v: ServedVersion): Promise<Measured> => {
    // With Prometheus the interval is waited first and the window queried; scraping waits the window between two scrapes.
    const source = o.prometheus
      ? prometheusSource({ url: o.prometheus })
      : scrapeSource({
          endpoints: await target.canaryEndpoints(),
          ...(s.scrapeFetch ? { fetch: s.scrapeFetch } : {}),
          ...(s.signal ? { signal: s.signal } : {}),
        });
    const m = await measure(
      source,
      rules.map((r) => r.metric),
      target.canarySelector(v),
      windowSeconds,
      { ...(reference ? { reference } : {}) },
    );
    const j = judge(rules, m.observations, o.noData);
    return { status: j.status, summary: j.verdicts.map((x) => `${x.rule}: ${x.reason}`).join('; ') };
  };
  log.info(
    canary
      ? `canary of ${version.ref} at ${target.where}: steps ${steps.join(', ')}%${rules.length ? `, analysis every ${windowSeconds}s: ${rules.map((r) => r.source).join(', ')}` : ', no analysis rules'}`
      : `${serving.stable ? 'rolling update' : 'first deploy'} of ${version.ref} at ${target.where}`,
  );
  const outcome = await runRollout({
    plan,
    target,
    version,
    ...(rules.length ? { measure: measureCanary } : {}),
    intervalMs: o.prometheus ? o.intervalMs : 0,
    timeoutMs: o.timeoutMs,
    log,
    now: s.now,
    ...(s.sleep ? { sleep: s.sleep } : {}),
    ...(s.signal ? { signal: s.signal } : {}),
  });
  url = (await target.serving()).url ?? url;
  if (outcome.status === 'rolled-back') {
    return done({
      status: 'rolled-back',
      reason: `${rollbackNote}${outcome.reason}`,
      version,
      ...(serving.stable ? { previous: serving.stable } : {}),
      steps: outcome.steps,
      ...(url ? { url } : {}),
    });
  }
  let alias: DeployResult['alias'];
  if (o.promoteAlias && o.action === 'deploy') {
    try {
      alias = await moveAlias(registry, version, o.promoteAlias, log);
    } catch (err) {
      return done({
        status: 'failed',
        reason: `${version.name}:${version.version} serves, but the alias ${o.promoteAlias} could not be moved: ${errorMessage(err)}`,
        version,
        ...(serving.stable ? { previous: serving.stable } : {}),
        steps: outcome.steps,
        ...(url ? { url } : {}),
      });
    }
  }
  return done({
    status: o.action === 'rollback' ? 'rolled-back' : 'promoted',
    reason: `${rollbackNote}${o.action === 'rollback' ? `${version.name}:${version.version} redeployed` : outcome.reason}`,
    version,
    ...(serving.stable ? { previous: serving.stable } : {}),
    steps: outcome.steps,
    ...(alias ? { alias } : {}),
    ...(url ? { url } : {}),
  });
}

async function moveAlias(
  registry: Registry,
  v: ServedVersion,
  alias: string,
  log: Logger,
): Promise<{ alias: string; from?: number; to: number }> {
  const move = await registry.setAlias(v.name, alias, v.version);
  if (move.from?.digest !== move.to.digest)
    log.info(`${v.name}@${alias}: ${move.from ? `v${move.from.version}` : '(new)'} → v${move.to.version}`);
  return { alias, ...(move.from ? { from: move.from.version } : {}), to: move.to.version };
}

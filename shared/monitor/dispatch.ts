/**
 * Closing the loop without storms: whether a breach starts the retraining workflow, decided from
 * the workflow's runs as the Actions API lists them (never from local state: every scheduled check
 * starts on a fresh runner), and the workflow_dispatch inputs that say why. Pure.
 */
import { ConfigurationError } from '../util/index.ts';
import { humanDuration } from './duration.ts';
import { formatValue, type RuleVerdict } from './measure.ts';
import type { Target } from './slo.ts';

/** A run of the retraining workflow, as the Actions API lists it. */
export interface RetrainRun {
  readonly id: number;
  readonly runNumber: number;
  /** queued, in_progress, waiting, requested, pending, completed. */
  readonly status: string;
  readonly event: string;
  readonly createdAt: string;
  readonly url: string;
}

/** Statuses of a run that has not finished. */
export const ACTIVE_STATUSES: readonly string[] = ['queued', 'in_progress', 'waiting', 'requested', 'pending'];

export type DispatchDecision =
  { readonly dispatch: true; readonly reason: string } | { readonly dispatch: false; readonly reason: string; readonly run?: RetrainRun };

/**
 * Dispatch unless a run of the workflow is queued or in progress, or one was created within the
 * cool-down. `runs` are the runs the API listed (active ones and recent ones, in any order).
 */
export function decideDispatch(runs: readonly RetrainRun[], now: Date, cooldownSeconds: number): DispatchDecision {
  const active = runs.filter((r) => ACTIVE_STATUSES.includes(r.status)).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  if (active[0]) {
    const r = active[0];
    return { dispatch: false, reason: `run #${r.runNumber} of the workflow is ${r.status.replace('_', ' ')} (${r.url})`, run: r };
  }
  const recent = runs
    .filter((r) => now.getTime() - Date.parse(r.createdAt) < cooldownSeconds * 1000)
    .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  if (recent[0]) {
    const r = recent[0];
    const ago = (now.getTime() - Date.parse(r.createdAt)) / 1000;
    return {
      dispatch: false,
      reason: `run #${r.runNumber} started ${humanDuration(Math.max(0, ago))} ago, within the cool-down of ${humanDuration(cooldownSeconds)} (${r.url})`,
      run: r,
    };
  }
  return { dispatch: true, reason: 'no run of the workflow is queued or in progress, and none started within the cool-down' };
}

/** The inputs modelship sends; the retraining workflow must declare them under workflow_dispatch. */
export const RETRAIN_INPUT_NAMES: readonly string[] = ['reason', 'rule', 'value', 'limit', 'window', 'model', 'version'];

/**
 * Why retraining starts: a sentence for people (`reason`, e.g. for the run summary), then the
 * first breached rule, its value and limit, the window and the model version, as strings
 * (workflow_dispatch takes strings only). `others` is how many more rules were breached.
 * `extra` (the retrain-inputs JSON) adds inputs or overrides these; a null drops one.
 */
export function retrainInputs(
  breach: RuleVerdict,
  windowText: string,
  target: Target,
  extra: Readonly<Record<string, string | null>> = {},
  others = 0,
): Record<string, string> {
  // With the numbers behind it where there are some (live_accuracy: `0.62 (124 of 200 labelled predictions right)`).
  const value = `${formatValue(breach.metric, breach.value)}${breach.detail ? ` (${breach.detail})` : ''}`;
  const who = `${target.model} ${target.version !== undefined ? `v${target.version}` : '(all versions)'}`;
  const more = others > 0 ? `; ${others} more rule${others === 1 ? '' : 's'} breached` : '';
  const ours: Record<string, string> = {
    reason: `monitor-check: ${breach.rule} breached by ${who}: ${value} over the last ${windowText}${more}`,
    rule: breach.rule,
    value,
    limit: breach.limit,
    window: windowText,
    model: target.model,
    version: target.version ?? 'all',
  };
  const out: Record<string, string> = { ...ours };
  for (const [k, v] of Object.entries(extra)) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}

/** Parses the retrain-inputs JSON: an object of strings, numbers, booleans or null. */
export function parseRetrainInputs(text: string | undefined): Record<string, string | null> {
  if (text === undefined || text.trim() === '') return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new ConfigurationError(
      `input 'retrain-inputs' is not JSON (${(err as Error).message}).`,
      `Write an object, e.g. retrain-inputs: '{"epochs": "10"}'.`,
    );
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) {
    throw new ConfigurationError(
      `input 'retrain-inputs' must be a JSON object.`,
      `Write an object, e.g. retrain-inputs: '{"epochs": "10"}'.`,
    );
  }
  const out: Record<string, string | null> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (x === null) out[k] = null;
    else if (typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean') out[k] = String(x);
    else
      throw new ConfigurationError(
        `input 'retrain-inputs' has a ${Array.isArray(x) ? 'list' : typeof x} for '${k}'.`,
        "workflow_dispatch inputs are strings: give a string, a number, a boolean, or null to drop one of modelship's inputs.",
      );
  }
  return out;
}

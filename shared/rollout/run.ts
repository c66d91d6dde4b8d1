/**
 * Driving a rollout: the loop that asks the state machine (analysis.ts) what to do, has the target
 * do it, and reports back what happened. The clock, the sleep and the measurement are parameters,
 * so the loop runs the same against the Kubernetes simulator, real local servers or a test script.
 */
import { errorMessage, type Logger } from '../util/index.ts';
import { nextStep, type MeasurementStatus, type RolloutEvent, type RolloutPlan, type RolloutState } from './analysis.ts';
import type { RolloutTarget, ServedVersion } from './target.ts';

export interface Measured {
  readonly status: MeasurementStatus;
  /** One line: each rule, its value and verdict. */
  readonly summary: string;
}

export interface RolloutRun {
  readonly plan: RolloutPlan;
  readonly target: RolloutTarget;
  readonly version: ServedVersion;
  /** One analysis measurement of the canary (called after each interval). */
  readonly measure?: (version: ServedVersion) => Promise<Measured>;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly log: Logger;
  readonly now: () => Date;
  /** Waits `ms` or until `signal` aborts. */
  readonly sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** Aborting it aborts the rollout (a newer deploy, SIGTERM). */
  readonly signal?: AbortSignal;
}

export interface StepRecord {
  readonly at: string;
  readonly action: string;
  readonly weight?: number;
  readonly note?: string;
}

export interface RolloutOutcome {
  readonly status: 'promoted' | 'rolled-back';
  readonly reason: string;
  readonly steps: readonly StepRecord[];
  readonly seconds: number;
}

function defaultSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Runs the rollout to its end. Target failures while deploying become `not-ready`; while aborting they throw. */
export async function runRollout(r: RolloutRun): Promise<RolloutOutcome> {
  const started = r.now().getTime();
  const sleep = r.sleep ?? defaultSleep;
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(new Error('timeout')), r.timeoutMs);
  const onOuterAbort = (): void => stop.abort(r.signal?.reason ?? new Error('aborted'));
  r.signal?.addEventListener('abort', onOuterAbort, { once: true });
  if (r.signal?.aborted) onOuterAbort();
  const steps: StepRecord[] = [];
  const record = (action: string, extra: Omit<StepRecord, 'at' | 'action'> = {}): void => {
    steps.push({ at: r.now().toISOString(), action, ...extra });
  };
  /** The event that interrupts a wait: the timeout, or an outside abort. */
  const interruption = (): RolloutEvent | undefined => {
    if (!stop.signal.aborted) return undefined;
    const why: unknown = stop.signal.reason;
    return why instanceof Error && why.message === 'timeout'
      ? { kind: 'timeout' }
      : { kind: 'abort-requested', reason: `aborted: ${errorMessage(why)}` };
  };
  let state: RolloutState = { phase: 'start' };
  let event: RolloutEvent = { kind: 'begin' };
  try {
    for (;;) {
      const t = nextStep(r.plan, state, event);
      state = t.state;
      if (t.note) r.log.info(t.note);
      const a = t.action;
      switch (a.kind) {
        case 'finish':
          record('finish', { note: a.reason });
          return { status: a.status, reason: a.reason, steps, seconds: (r.now().getTime() - started) / 1000 };
        case 'set-weight': {
          record('set-weight', { weight: a.weight });
          r.log.info(`${r.version.name}:${r.version.version} → ${a.weight}% of the traffic`);
          let readiness;
          try {
            readiness = await r.target.setWeight(r.version, a.weight, stop.signal);
          } catch (err) {
            readiness = { ready: false as const, reason: errorMessage(err) };
          }
          event = interruption() ?? (readiness.ready ? { kind: 'ready' } : { kind: 'not-ready', reason: readiness.reason });
          break;
        }
        case 'analyse': {
          await sleep(r.intervalMs, stop.signal);
          const interrupted = interruption();
          if (interrupted) {
            event = interrupted;
            break;
          }
          let m: Measured;
          try {
            m = r.measure ? await r.measure(r.version) : { status: 'healthy', summary: 'no analysis rules' };
          } catch (err) {
            m = { status: 'error', summary: errorMessage(err) };
          }
          record('analyse', { weight: a.weight, note: `${m.status}: ${m.summary}` });
          event = interruption() ?? { kind: 'measured', status: m.status, summary: m.summary };
          break;
        }
        case 'promote':
          record('promote');
          await r.target.promote(r.version);
          event = { kind: 'promoted' };
          break;
        case 'abort':
          record('abort', { note: a.reason });
          r.log.warning(`rolling back: ${a.reason}`);
          await r.target.abort(a.reason);
          event = { kind: 'aborted' };
          break;
        case 'wait':
          // An event that did not apply; the next one comes from the target or the clock.
          event = interruption() ?? { kind: 'timeout' };
          break;
      }
    }
  } finally {
    clearTimeout(timer);
    r.signal?.removeEventListener('abort', onOuterAbort);
  }
}

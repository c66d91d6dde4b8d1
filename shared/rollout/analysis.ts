/**
 * The rollout's decision: one pure state machine, `(plan, state, event) → { state, action }`, that
 * every target (Kubernetes, local) drives the same way. The driver does what the action says, then
 * reports what happened as the next event.
 *
 * The semantics follow Argo Rollouts' canary analysis and Flagger's, written as our own:
 * - The canary goes out at the first weight; each weight is held until the canary is ready at it,
 *   then analysed every analysis-interval against its own series. A healthy measurement moves to
 *   the next weight; after the last (100) the new version is promoted.
 * - A failed measurement (a rule breached, NaN, or no data under `no-data: fail`) counts against
 *   `failure-limit`: more failures than the limit abort. A failed one is measured again at the
 *   same weight; failures are not forgiven by later successes (as Argo counts them).
 * - A measurement that errs (metrics unreachable) is not a failure, but more consecutive errors
 *   than `errorLimit` abort; a measurement that answers resets the run of errors.
 * - No data under `no-data: warn` moves on, with a warning; under `pass` it counts as healthy.
 * - A canary that cannot become ready (crash loop, image pull, probes never pass), a timeout, or a
 *   requested abort (a newer deploy, `action: abort`) abort at once. Aborting puts all traffic back
 *   on the stable version in one move.
 * - Without analysis rules, each weight is held only until the canary is ready at it.
 */

/** What a measurement said, as the analysis sees it (a monitor Judgement's status). */
export type MeasurementStatus = 'healthy' | 'breach' | 'no-data' | 'error';

export interface RolloutPlan {
  /** Canary weights in percent, increasing, the last one 100. A rolling update is the plan [100]. */
  readonly steps: readonly number[];
  /** Whether there are analysis rules; without them each weight passes once the canary is ready. */
  readonly analysis: boolean;
  /** Failed measurements tolerated; one more aborts. */
  readonly failureLimit: number;
  /** Consecutive measurement errors tolerated; one more aborts. */
  readonly errorLimit: number;
  /** What a measurement with no data does. */
  readonly noData: 'fail' | 'warn' | 'pass';
}

export type RolloutState =
  | { readonly phase: 'start' }
  /** The canary is being brought to `steps[step]`'s weight. */
  | { readonly phase: 'weighting'; readonly step: number; readonly failures: number; readonly errors: number }
  /** Held at `steps[step]`, measuring. */
  | { readonly phase: 'analysing'; readonly step: number; readonly failures: number; readonly errors: number; readonly measured: number }
  | { readonly phase: 'promoting' }
  | { readonly phase: 'aborting'; readonly reason: string }
  | { readonly phase: 'done'; readonly status: 'promoted' | 'rolled-back'; readonly reason: string };

export type RolloutEvent =
  /** Begin (the driver has checked the stable version and the reference). */
  | { readonly kind: 'begin' }
  /** The canary is ready at the weight last set. */
  | { readonly kind: 'ready' }
  /** The canary cannot become ready: crash loop, image pull error, probes that never pass. */
  | { readonly kind: 'not-ready'; readonly reason: string }
  /** One analysis measurement, judged. */
  | { readonly kind: 'measured'; readonly status: MeasurementStatus; readonly summary: string }
  | { readonly kind: 'promoted' }
  | { readonly kind: 'aborted' }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'abort-requested'; readonly reason: string };

export type RolloutAction =
  /** Send `weight`% of the traffic to the canary (deploying it first if it is not there) and wait until it is ready. */
  | { readonly kind: 'set-weight'; readonly weight: number; readonly step: number }
  /** Wait one analysis interval, then measure the canary. */
  | { readonly kind: 'analyse'; readonly step: number; readonly weight: number }
  /** Make the canary the stable version; the canary goes to zero. */
  | { readonly kind: 'promote' }
  /** All traffic back to stable at once; remove the canary. */
  | { readonly kind: 'abort'; readonly reason: string }
  /** Nothing more to do. */
  | { readonly kind: 'finish'; readonly status: 'promoted' | 'rolled-back'; readonly reason: string }
  /** The event does not apply in this state (a late measurement after an abort, say): carry on waiting. */
  | { readonly kind: 'wait' };

export interface Transition {
  readonly state: RolloutState;
  readonly action: RolloutAction;
  /** A line for the log (why this happened). */
  readonly note?: string;
}

/** Checks a plan's weights: whole percents, increasing, ending at 100. Returns the problem, or undefined. */
export function planProblem(steps: readonly number[]): string | undefined {
  if (steps.length === 0) return 'no steps';
  for (const w of steps) if (!Number.isInteger(w) || w < 1 || w > 100) return `weight ${w} is not a whole percent from 1 to 100`;
  for (let i = 1; i < steps.length; i++) if (steps[i] <= steps[i - 1]) return `weights must increase (${steps[i - 1]} then ${steps[i]})`;
  if (steps[steps.length - 1] !== 100) return `the last weight is ${steps[steps.length - 1]}, not 100`;
  return undefined;
}

const weighting = (step: number, failures: number, errors: number): RolloutState => ({ phase: 'weighting', step, failures, errors });

/** The next state and what to do, from a state and what just happened. Pure. */
export function nextStep(plan: RolloutPlan, state: RolloutState, event: RolloutEvent): Transition {
  const abort = (reason: string): Transition => ({ state: { phase: 'aborting', reason }, action: { kind: 'abort', reason }, note: reason });
  if (state.phase === 'done') return { state, action: { kind: 'finish', status: state.status, reason: state.reason } };

  // Whatever the state, these end the canary (once).
  if (event.kind === 'timeout' || event.kind === 'abort-requested' || event.kind === 'not-ready') {
    // An abort under way, or a promotion (which moves traffic in one step), is seen through.
    if (state.phase === 'aborting' || state.phase === 'promoting') return { state, action: { kind: 'wait' } };
    const reason =
      event.kind === 'timeout'
        ? 'the rollout timed out'
        : event.kind === 'not-ready'
          ? `the canary is not ready: ${event.reason}`
          : event.reason;
    return abort(reason);
  }

  switch (state.phase) {
    case 'start':
      if (event.kind !== 'begin') return { state, action: { kind: 'wait' } };
      return { state: weighting(0, 0, 0), action: { kind: 'set-weight', weight: plan.steps[0], step: 0 } };

    case 'weighting': {
      if (event.kind !== 'ready') return { state, action: { kind: 'wait' } };
      const weight = plan.steps[state.step];
      if (!plan.analysis) return advance(plan, state.step, state.failures, state.errors, `canary ready at ${weight}%`);
      return {
        state: { phase: 'analysing', step: state.step, failures: state.failures, errors: state.errors, measured: 0 },
        action: { kind: 'analyse', step: state.step, weight },
        note: `canary ready at ${weight}%: analysing`,
      };
    }

    case 'analysing': {
      if (event.kind !== 'measured') return { state, action: { kind: 'wait' } };
      const weight = plan.steps[state.step];
      const again = (failures: number, errors: number, note: string): Transition => ({
        state: { phase: 'analysing', step: state.step, failures, errors, measured: state.measured + 1 },
        action: { kind: 'analyse', step: state.step, weight },
        note,
      });
      switch (event.status) {
        case 'error': {
          const errors = state.errors + 1;
          if (errors > plan.errorLimit) return abort(`the analysis could not measure ${errors} times in a row (${event.summary})`);
          return again(state.failures, errors, `measurement error ${errors} of at most ${plan.errorLimit} in a row: ${event.summary}`);
        }
        case 'breach':
          return failed(state.failures + 1, event.summary);
        case 'no-data':
          if (plan.noData === 'fail') return failed(state.failures + 1, event.summary);
          return advance(plan, state.step, state.failures, 0, `no data at ${weight}% (no-data: ${plan.noData}): ${event.summary}`);
        case 'healthy':
          return advance(plan, state.step, state.failures, 0, `healthy at ${weight}%: ${event.summary}`);
      }
      function failed(failures: number, summary: string): Transition {
        if (failures > plan.failureLimit)
          return abort(`the analysis failed ${failures} time${failures > 1 ? 's' : ''} (failure-limit ${plan.failureLimit}): ${summary}`);
        return again(failures, 0, `failed measurement ${failures} of at most ${plan.failureLimit}: ${summary}`);
      }
      break;
    }

    case 'promoting':
      if (event.kind !== 'promoted') return { state, action: { kind: 'wait' } };
      return {
        state: { phase: 'done', status: 'promoted', reason: 'every step passed' },
        action: { kind: 'finish', status: 'promoted', reason: 'every step passed' },
      };

    case 'aborting':
      if (event.kind !== 'aborted') return { state, action: { kind: 'wait' } };
      return {
        state: { phase: 'done', status: 'rolled-back', reason: state.reason },
        action: { kind: 'finish', status: 'rolled-back', reason: state.reason },
      };
  }
  return { state, action: { kind: 'wait' } };
}

/** After a step passes: the next weight, or promotion after the last. */
function advance(plan: RolloutPlan, step: number, failures: number, errors: number, note: string): Transition {
  if (step + 1 >= plan.steps.length) return { state: { phase: 'promoting' }, action: { kind: 'promote' }, note };
  return {
    state: weighting(step + 1, failures, errors),
    action: { kind: 'set-weight', weight: plan.steps[step + 1], step: step + 1 },
    note,
  };
}

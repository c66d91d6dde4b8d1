/** The rollout's state machine: every transition, as a table, and whole rollouts as event sequences. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  nextStep,
  planProblem,
  type RolloutAction,
  type RolloutEvent,
  type RolloutPlan,
  type RolloutState,
} from '../../shared/rollout/analysis.ts';

const plan: RolloutPlan = { steps: [10, 50, 100], analysis: true, failureLimit: 1, errorLimit: 2, noData: 'fail' };
const at = (step: number, failures = 0, errors = 0, measured = 0): RolloutState => ({
  phase: 'analysing',
  step,
  failures,
  errors,
  measured,
});
const w = (step: number, failures = 0, errors = 0): RolloutState => ({ phase: 'weighting', step, failures, errors });
const m = (status: 'healthy' | 'breach' | 'no-data' | 'error'): RolloutEvent => ({ kind: 'measured', status, summary: status });

describe('rollout transitions', () => {
  const rows: [string, Partial<RolloutPlan>, RolloutState, RolloutEvent, RolloutState, RolloutAction['kind'], RegExp?][] = [
    ['begin sends the first weight', {}, { phase: 'start' }, { kind: 'begin' }, w(0), 'set-weight'],
    ['an event before begin waits', {}, { phase: 'start' }, { kind: 'ready' }, { phase: 'start' }, 'wait'],
    ['ready at a weight starts the analysis', {}, w(0), { kind: 'ready' }, at(0), 'analyse'],
    ['ready without rules moves to the next weight', { analysis: false }, w(0), { kind: 'ready' }, w(1), 'set-weight'],
    ['ready at the last weight without rules promotes', { analysis: false }, w(2), { kind: 'ready' }, { phase: 'promoting' }, 'promote'],
    ['a measurement while weighting is ignored', {}, w(1), m('breach'), w(1), 'wait'],
    ['healthy moves on', {}, at(0), m('healthy'), w(1), 'set-weight'],
    ['healthy at the last weight promotes', {}, at(2), m('healthy'), { phase: 'promoting' }, 'promote'],
    ['a breach within the failure limit measures again', {}, at(1), m('breach'), at(1, 1, 0, 1), 'analyse'],
    [
      'a breach beyond the failure limit aborts',
      {},
      at(1, 1),
      m('breach'),
      { phase: 'aborting', reason: '' },
      'abort',
      /failed 2 times \(failure-limit 1\)/,
    ],
    [
      'failure-limit 0 aborts on the first breach',
      { failureLimit: 0 },
      at(0),
      m('breach'),
      { phase: 'aborting', reason: '' },
      'abort',
      /failed 1 time /,
    ],
    ['failures carry over between weights', {}, at(0, 1), m('healthy'), w(1, 1), 'set-weight'],
    ['an error is not a failure: measure again', {}, at(0), m('error'), at(0, 0, 1, 1), 'analyse', /measurement error 1 of at most 2/],
    [
      'a run of errors beyond the limit aborts',
      {},
      at(0, 0, 2),
      m('error'),
      { phase: 'aborting', reason: '' },
      'abort',
      /could not measure 3 times in a row/,
    ],
    ['an answer resets the run of errors', {}, at(0, 0, 2), m('breach'), at(0, 1, 0, 1), 'analyse'],
    ['no data under no-data: fail is a failure', {}, at(0), m('no-data'), at(0, 1, 0, 1), 'analyse'],
    ['no data under no-data: warn moves on', { noData: 'warn' }, at(0), m('no-data'), w(1), 'set-weight', /no-data: warn/],
    ['no data under no-data: pass moves on', { noData: 'pass' }, at(2), m('no-data'), { phase: 'promoting' }, 'promote'],
    [
      'not ready aborts, with the reason',
      {},
      w(1),
      { kind: 'not-ready', reason: 'CrashLoopBackOff' },
      { phase: 'aborting', reason: '' },
      'abort',
      /not ready: CrashLoopBackOff/,
    ],
    ['a timeout aborts', {}, at(1), { kind: 'timeout' }, { phase: 'aborting', reason: '' }, 'abort', /timed out/],
    [
      'a requested abort aborts',
      {},
      at(0),
      { kind: 'abort-requested', reason: 'a newer deploy' },
      { phase: 'aborting', reason: '' },
      'abort',
      /a newer deploy/,
    ],
    [
      'a second abort while aborting waits',
      {},
      { phase: 'aborting', reason: 'x' },
      { kind: 'timeout' },
      { phase: 'aborting', reason: 'x' },
      'wait',
    ],
    [
      'a late measurement while aborting waits',
      {},
      { phase: 'aborting', reason: 'x' },
      m('healthy'),
      { phase: 'aborting', reason: 'x' },
      'wait',
    ],
    [
      'aborted finishes rolled back',
      {},
      { phase: 'aborting', reason: 'x' },
      { kind: 'aborted' },
      { phase: 'done', status: 'rolled-back', reason: 'x' },
      'finish',
    ],
    ['a timeout during promotion is seen through', {}, { phase: 'promoting' }, { kind: 'timeout' }, { phase: 'promoting' }, 'wait'],
    [
      'promoted finishes',
      {},
      { phase: 'promoting' },
      { kind: 'promoted' },
      { phase: 'done', status: 'promoted', reason: 'every step passed' },
      'finish',
    ],
    [
      'done stays done',
      {},
      { phase: 'done', status: 'promoted', reason: 'r' },
      { kind: 'timeout' },
      { phase: 'done', status: 'promoted', reason: 'r' },
      'finish',
    ],
  ];
  for (const [what, over, state, event, wantState, wantAction, note] of rows) {
    it(what, () => {
      const t = nextStep({ ...plan, ...over }, state, event);
      if (wantState.phase === 'aborting') assert.equal(t.state.phase, 'aborting');
      else assert.deepEqual(t.state, wantState);
      assert.equal(t.action.kind, wantAction);
      if (note) assert.match(t.note ?? (t.action.kind === 'abort' ? t.action.reason : ''), note);
      if (t.action.kind === 'set-weight') assert.equal(t.action.weight, ({ ...plan, ...over }.steps as number[])[t.action.step]);
    });
  }
});

/** Drives the machine with a script of what the world says, the way a target does. */
function run(p: RolloutPlan, world: (a: RolloutAction) => RolloutEvent): { actions: string[]; final: RolloutState } {
  let state: RolloutState = { phase: 'start' };
  let t = nextStep(p, state, { kind: 'begin' });
  const actions: string[] = [];
  for (let i = 0; i < 100 && t.action.kind !== 'finish'; i++) {
    const a = t.action;
    actions.push(a.kind === 'set-weight' ? `weight ${a.weight}` : a.kind === 'analyse' ? `analyse ${a.weight}` : a.kind);
    state = t.state;
    t = nextStep(p, state, world(a));
  }
  return { actions, final: t.state };
}

describe('whole rollouts', () => {
  it('canary 10, 50, 100 with healthy analysis promotes', () => {
    const r = run(plan, (a) =>
      a.kind === 'set-weight'
        ? { kind: 'ready' }
        : a.kind === 'analyse'
          ? m('healthy')
          : { kind: a.kind === 'promote' ? 'promoted' : 'aborted' },
    );
    assert.deepEqual(r.actions, ['weight 10', 'analyse 10', 'weight 50', 'analyse 50', 'weight 100', 'analyse 100', 'promote']);
    assert.deepEqual(r.final, { phase: 'done', status: 'promoted', reason: 'every step passed' });
  });
  it('a breach at 50% beyond the failure limit aborts and rolls back', () => {
    const r = run(plan, (a) =>
      a.kind === 'set-weight'
        ? { kind: 'ready' }
        : a.kind === 'analyse'
          ? m(a.weight === 50 ? 'breach' : 'healthy')
          : { kind: a.kind === 'promote' ? 'promoted' : 'aborted' },
    );
    assert.deepEqual(r.actions, ['weight 10', 'analyse 10', 'weight 50', 'analyse 50', 'analyse 50', 'abort']);
    assert.equal(r.final.phase === 'done' && r.final.status, 'rolled-back');
  });
  it('a canary that never gets ready is rolled back without analysis', () => {
    const r = run(plan, (a) =>
      a.kind === 'set-weight' ? { kind: 'not-ready', reason: 'readiness probe never passed' } : { kind: 'aborted' },
    );
    assert.deepEqual(r.actions, ['weight 10', 'abort']);
    assert.match(r.final.phase === 'done' ? r.final.reason : '', /readiness probe never passed/);
  });
  it('a rolling update is the plan [100]', () => {
    const r = run({ ...plan, steps: [100], analysis: false }, (a) => (a.kind === 'set-weight' ? { kind: 'ready' } : { kind: 'promoted' }));
    assert.deepEqual(r.actions, ['weight 100', 'promote']);
  });
});

describe('plan weights', () => {
  const cases: [number[], RegExp | undefined][] = [
    [[10, 50, 100], undefined],
    [[100], undefined],
    [[], /no steps/],
    [[50, 10, 100], /must increase/],
    [[10, 50], /last weight is 50, not 100/],
    [[0, 100], /not a whole percent/],
    [[12.5, 100], /not a whole percent/],
  ];
  for (const [steps, problem] of cases) {
    it(`[${steps.join(', ')}]`, () => {
      const p = planProblem(steps);
      if (problem) assert.match(p ?? '', problem);
      else assert.equal(p, undefined);
    });
  }
});

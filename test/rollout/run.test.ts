/** The rollout loop against a scripted target: what it asks the target to do, in order. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RolloutPlan } from '../../shared/rollout/analysis.ts';
import { runRollout, type Measured } from '../../shared/rollout/run.ts';
import type { Readiness, RolloutTarget, ServedVersion } from '../../shared/rollout/target.ts';
import { memoryLogger } from '../../shared/util/log.ts';

const v2: ServedVersion = { name: 'fashion', version: 2, digest: 'sha256:2', ref: 'r/fashion:2@sha256:2' };
const plan: RolloutPlan = { steps: [10, 50, 100], analysis: true, failureLimit: 0, errorLimit: 1, noData: 'fail' };

function target(ready: (w: number) => Readiness | Promise<Readiness> = () => ({ ready: true })): RolloutTarget & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    kind: 'local',
    where: 'test',
    serving: () => Promise.resolve({}),
    setWeight: async (v, w) => {
      calls.push(`weight ${w} v${v.version}`);
      return ready(w);
    },
    promote: (v) => {
      calls.push(`promote v${v.version}`);
      return Promise.resolve();
    },
    abort: (reason) => {
      calls.push(`abort (${reason})`);
      return Promise.resolve();
    },
    canaryEndpoints: () => Promise.resolve([]),
    canarySelector: (v) => ({ model: v.name, version: String(v.version) }),
    close: () => Promise.resolve(),
  };
}

const base = { version: v2, intervalMs: 1, timeoutMs: 10_000, now: () => new Date(), sleep: () => Promise.resolve() };

describe('runRollout', () => {
  it('steps through 10, 50, 100 and promotes when every measurement is healthy', async () => {
    const t = target();
    const seen: number[] = [];
    const r = await runRollout({
      ...base,
      plan,
      target: t,
      log: memoryLogger(),
      measure: () => {
        seen.push(seen.length);
        return Promise.resolve<Measured>({ status: 'healthy', summary: 'error_rate 0 ≤ 0.01' });
      },
    });
    assert.equal(r.status, 'promoted');
    assert.deepEqual(t.calls, ['weight 10 v2', 'weight 50 v2', 'weight 100 v2', 'promote v2']);
    assert.equal(seen.length, 3);
    assert.deepEqual(
      r.steps.map((s) => s.action),
      ['set-weight', 'analyse', 'set-weight', 'analyse', 'set-weight', 'analyse', 'promote', 'finish'],
    );
  });
  it('aborts on a breach and says which rule', async () => {
    const t = target();
    let n = 0;
    const r = await runRollout({
      ...base,
      plan,
      target: t,
      log: memoryLogger(),
      measure: () =>
        Promise.resolve<Measured>(
          n++ === 0 ? { status: 'healthy', summary: 'ok' } : { status: 'breach', summary: 'p95_latency_ms 240 > 100' },
        ),
    });
    assert.equal(r.status, 'rolled-back');
    assert.match(r.reason, /p95_latency_ms 240 > 100/);
    assert.deepEqual(t.calls.slice(-1), [`abort (${r.reason})`]);
    assert.deepEqual(t.calls.slice(0, 2), ['weight 10 v2', 'weight 50 v2']);
  });
  it('a target that fails to deploy is a canary that is not ready: rolled back with the reason', async () => {
    const t = target(() => {
      throw new Error('pod fashion-canary-x: CrashLoopBackOff');
    });
    const r = await runRollout({ ...base, plan, target: t, log: memoryLogger() });
    assert.equal(r.status, 'rolled-back');
    assert.match(r.reason, /not ready: pod fashion-canary-x: CrashLoopBackOff/);
  });
  it('measurement errors beyond the limit abort; a measure that throws is an error, not a failure', async () => {
    const t = target();
    const r = await runRollout({
      ...base,
      plan,
      target: t,
      log: memoryLogger(),
      measure: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:9')),
    });
    assert.equal(r.status, 'rolled-back');
    assert.match(r.reason, /could not measure 2 times in a row \(connect ECONNREFUSED/);
  });
  it('an outside abort (a newer deploy) during the analysis wait rolls back', async () => {
    const t = target();
    const ctrl = new AbortController();
    const r = await runRollout({
      ...base,
      plan,
      target: t,
      log: memoryLogger(),
      signal: ctrl.signal,
      sleep: (_ms, signal) =>
        new Promise<void>((resolve) => {
          signal.addEventListener('abort', () => resolve(), { once: true });
          ctrl.abort(new Error('a newer deploy of fashion:3'));
        }),
      measure: () => Promise.resolve<Measured>({ status: 'healthy', summary: 'ok' }),
    });
    assert.equal(r.status, 'rolled-back');
    assert.match(r.reason, /a newer deploy of fashion:3/);
  });
  it('the timeout rolls back', async () => {
    const t = target(() => new Promise<Readiness>((resolve) => setTimeout(() => resolve({ ready: true }), 50)));
    const r = await runRollout({
      ...base,
      plan,
      target: t,
      timeoutMs: 10,
      log: memoryLogger(),
      measure: () => Promise.resolve<Measured>({ status: 'healthy', summary: 'ok' }),
    });
    assert.equal(r.status, 'rolled-back');
    assert.match(r.reason, /timed out/);
  });
});

/** The pure decisions: verdicts from observations, dispatch from runs, the inputs that say why. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  customPromql,
  decideDispatch,
  humanDuration,
  judge,
  parseCustomQueries,
  parseDriftRules,
  parseRetrainInputs,
  parseSloRules,
  promDuration,
  retrainInputs,
  SLO_METRICS,
  targetSelector,
  type Observation,
  type RetrainRun,
} from '../../shared/monitor/index.ts';

const value = (v: number, warnings: string[] = []): Observation => ({ kind: 'value', value: v, series: 1, warnings });
const none: Observation = { kind: 'no-data', reason: 'no series' };
const down: Observation = { kind: 'error', message: 'Prometheus at http://p:9090 refused the connection.', hint: 'Check it.' };

describe('judge', () => {
  const rules = parseSloRules(['p95_latency_ms <= 100', 'error_rate <= 0.01']);
  const cases: {
    name: string;
    obs: Record<string, Observation>;
    noData: 'fail' | 'warn' | 'pass';
    status: string;
    healthy: boolean;
    failed: boolean;
    breaches: number;
  }[] = [
    {
      name: 'all within limits',
      obs: { p95_latency_ms: value(42), error_rate: value(0) },
      noData: 'fail',
      status: 'healthy',
      healthy: true,
      failed: false,
      breaches: 0,
    },
    {
      name: 'a value at the limit passes',
      obs: { p95_latency_ms: value(100), error_rate: value(0.01) },
      noData: 'fail',
      status: 'healthy',
      healthy: true,
      failed: false,
      breaches: 0,
    },
    {
      name: 'a latency breach',
      obs: { p95_latency_ms: value(143), error_rate: value(0) },
      noData: 'fail',
      status: 'breach',
      healthy: false,
      failed: true,
      breaches: 1,
    },
    {
      name: 'NaN never passes',
      obs: { p95_latency_ms: value(NaN), error_rate: value(0) },
      noData: 'pass',
      status: 'breach',
      healthy: false,
      failed: true,
      breaches: 1,
    },
    {
      name: '+Inf never passes',
      obs: { p95_latency_ms: value(Infinity), error_rate: value(0) },
      noData: 'pass',
      status: 'breach',
      healthy: false,
      failed: true,
      breaches: 1,
    },
    {
      name: 'no data fails under fail',
      obs: { p95_latency_ms: none, error_rate: value(0) },
      noData: 'fail',
      status: 'no-data',
      healthy: false,
      failed: true,
      breaches: 0,
    },
    {
      name: 'no data warns under warn: not healthy, not failed',
      obs: { p95_latency_ms: none, error_rate: value(0) },
      noData: 'warn',
      status: 'no-data',
      healthy: false,
      failed: false,
      breaches: 0,
    },
    {
      name: 'no data passes under pass',
      obs: { p95_latency_ms: none, error_rate: none },
      noData: 'pass',
      status: 'healthy',
      healthy: true,
      failed: false,
      breaches: 0,
    },
    {
      name: 'an error is not a breach and not healthy',
      obs: { p95_latency_ms: down, error_rate: down },
      noData: 'pass',
      status: 'error',
      healthy: false,
      failed: true,
      breaches: 0,
    },
    {
      name: 'an error outranks a breach',
      obs: { p95_latency_ms: value(500), error_rate: down },
      noData: 'fail',
      status: 'error',
      healthy: false,
      failed: true,
      breaches: 1,
    },
    {
      name: 'a metric not measured is an error',
      obs: { p95_latency_ms: value(1) },
      noData: 'pass',
      status: 'error',
      healthy: false,
      failed: true,
      breaches: 0,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const j = judge(rules, c.obs, c.noData);
      assert.equal(j.status, c.status);
      assert.equal(j.healthy, c.healthy);
      assert.equal(j.failed, c.failed);
      assert.equal(j.breaches.length, c.breaches);
    });
  }
  it('says why, with the limit and Prometheus warnings', () => {
    const j = judge(rules, { p95_latency_ms: value(143, ['something odd']), error_rate: value(NaN) }, 'fail');
    assert.equal(j.verdicts[0].limit, '≤ 100');
    assert.equal(j.verdicts[0].threshold, 100);
    assert.match(j.verdicts[0].reason, /p95_latency_ms = 143 does not meet ≤ 100 \(Prometheus warned: something odd\)/);
    assert.match(j.verdicts[1].reason, /error_rate is NaN/);
    const e = judge(rules, { p95_latency_ms: down, error_rate: none }, 'warn');
    assert.equal(e.verdicts[0].hint, 'Check it.');
    assert.equal(e.verdicts[1].outcome, 'warn');
    assert.match(e.verdicts[1].reason, /^no data: no series/);
  });
});

describe('rules for monitoring', () => {
  it('knows the SLO and drift names, and lists them for an unknown one', () => {
    assert.equal(parseSloRules(['availability >= 0.999'])[0].metric, 'availability');
    assert.throws(
      () => parseSloRules(['p90_latency_ms <= 100']),
      (e: Error) => /unknown metric 'p90_latency_ms'/.test(e.message) && /p95_latency_ms/.test((e as { hint?: string }).hint ?? ''),
    );
    assert.throws(() => parseSloRules(['p95_latency_ms: 5%']), /only thresholds/);
    assert.equal(parseDriftRules(['prediction_chi2_p >= 0.001'])[0].op, '>=');
    assert.throws(() => parseDriftRules(['p95_latency_ms <= 1']), /unknown metric/);
  });
  it('takes custom PromQL as name: query, colons in the query included', () => {
    const q = parseCustomQueries([
      'queue_p95_ms: 1000 * histogram_quantile(0.95, sum by (le) (rate(modelship_queue_wait_seconds_bucket{$selector}[$window])))',
      'rec: job:rate5m{$selector}[5m:1m]',
    ]);
    assert.deepEqual(
      q.map((x) => x.name),
      ['queue_p95_ms', 'rec'],
    );
    assert.equal(customPromql(q[1], { selector: 'model="m"', window: '1h' }), 'job:rate5m{model="m"}[5m:1m]');
    assert.equal(parseSloRules(['queue_p95_ms <= 20'], q)[0].metric, 'queue_p95_ms');
    assert.throws(() => parseCustomQueries(['error_rate: 1']), /already a metric/);
    assert.throws(() => parseCustomQueries(['Bad-Name: 1']), /not a metric name/);
    assert.throws(() => parseCustomQueries(['no query here']), /not 'name: promql'/);
  });
  it('builds each SLO query per model and version from one table', () => {
    const scope = { selector: targetSelector({ model: 'fa"shion', version: '3' }), window: '1h' };
    assert.equal(scope.selector, 'model="fa\\"shion",version="3"');
    const q = Object.fromEntries(SLO_METRICS.map((m) => [m.name, m.promql(scope)]));
    assert.equal(
      q['p95_latency_ms'],
      '1000 * histogram_quantile(0.95, sum by (le) (rate(modelship_request_duration_seconds_bucket{model="fa\\"shion",version="3"}[1h]))) and on() (sum(rate(modelship_request_duration_seconds_count{model="fa\\"shion",version="3"}[1h])) > 0)',
    );
    assert.equal(
      q['error_rate'],
      'sum(rate(modelship_requests_total{model="fa\\"shion",version="3",api=~"predict|classify|regress|infer",code=~"5.."}[1h]) or 0 * rate(modelship_requests_total{model="fa\\"shion",version="3",api=~"predict|classify|regress|infer"}[1h])) / (sum(rate(modelship_requests_total{model="fa\\"shion",version="3",api=~"predict|classify|regress|infer"}[1h])) > 0)',
    );
    assert.match(SLO_METRICS.find((m) => m.name === 'p99_latency_ms')!.promql({ ...scope, by: ['version'] }), /sum by \(version, le\)/);
  });
});

describe('durations', () => {
  it('prints them as PromQL ranges and for people', () => {
    assert.equal(promDuration(5400), '90m');
    assert.equal(promDuration(3600), '1h');
    assert.equal(promDuration(45), '45s');
    assert.equal(humanDuration(5400), '1h 30m');
  });
});

describe('decideDispatch', () => {
  const now = new Date('2026-03-01T12:00:00Z');
  const run = (status: string, createdAt: string, n = 1): RetrainRun => ({
    id: n,
    runNumber: n,
    status,
    event: 'workflow_dispatch',
    createdAt,
    url: `https://github.com/a/b/actions/runs/${n}`,
  });
  const cases: { name: string; runs: RetrainRun[]; dispatch: boolean; reason: RegExp }[] = [
    { name: 'no runs at all', runs: [], dispatch: true, reason: /no run/ },
    { name: 'a queued run', runs: [run('queued', '2026-02-01T00:00:00Z', 7)], dispatch: false, reason: /run #7 of the workflow is queued/ },
    { name: 'a run in progress', runs: [run('in_progress', '2026-03-01T11:00:00Z', 8)], dispatch: false, reason: /is in progress/ },
    {
      name: 'a waiting run (environment approval)',
      runs: [run('waiting', '2026-03-01T11:00:00Z', 9)],
      dispatch: false,
      reason: /is waiting/,
    },
    {
      name: 'a run finished within the cool-down',
      runs: [run('completed', '2026-03-01T09:00:00Z', 3)],
      dispatch: false,
      reason: /started 3h ago, within the cool-down of 6h/,
    },
    { name: 'a run finished before the cool-down', runs: [run('completed', '2026-03-01T05:59:59Z', 3)], dispatch: true, reason: /no run/ },
    {
      name: 'the newest of several counts',
      runs: [run('completed', '2026-02-01T00:00:00Z', 1), run('completed', '2026-03-01T11:30:00Z', 2)],
      dispatch: false,
      reason: /run #2 started 30m ago/,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const d = decideDispatch(c.runs, now, 6 * 3600);
      assert.equal(d.dispatch, c.dispatch);
      assert.match(d.reason, c.reason);
    });
  }
});

describe('the inputs that say why', () => {
  const breach = judge(parseSloRules(['p95_latency_ms <= 100']), { p95_latency_ms: value(143.25) }, 'fail').breaches[0];
  it('names the rule, the value, the limit, the window and the model version', () => {
    assert.deepEqual(retrainInputs(breach, '1h', { model: 'fashion', version: '3' }), {
      reason: 'monitor-check: p95_latency_ms <= 100 breached by fashion v3: 143.25 ms over the last 1h',
      rule: 'p95_latency_ms <= 100',
      value: '143.25 ms',
      limit: '≤ 100',
      window: '1h',
      model: 'fashion',
      version: '3',
    });
  });
  it('takes extra inputs from retrain-inputs, where null drops one', () => {
    const extra = parseRetrainInputs('{"epochs": 10, "full": true, "version": null, "note": "x"}');
    assert.deepEqual(retrainInputs(breach, '1h', { model: 'fashion' }, extra, 2), {
      reason: 'monitor-check: p95_latency_ms <= 100 breached by fashion (all versions): 143.25 ms over the last 1h; 2 more rules breached',
      rule: 'p95_latency_ms <= 100',
      value: '143.25 ms',
      limit: '≤ 100',
      window: '1h',
      model: 'fashion',
      epochs: '10',
      full: 'true',
      note: 'x',
    });
    assert.throws(() => parseRetrainInputs('[1]'), /must be a JSON object/);
    assert.throws(() => parseRetrainInputs('{"a": {"b": 1}}'), /has a object for 'a'/);
    assert.throws(() => parseRetrainInputs('{'), /is not JSON/);
  });
});

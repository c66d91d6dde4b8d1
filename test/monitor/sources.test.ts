/**
 * The scrape source's semantics on scripted /metrics (a fake fetch and a fake clock): increases
 * between two scrapes, counter resets, series that appear, several servers summed, errors naming
 * the URL; the reference loader; the summary's text for the states people will see.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { judge, loadReference, measure, metricsUrl, parseSloRules, scrapeSource, type MonitorReport } from '../../shared/monitor/index.ts';
import { lineChart } from '../../shared/report/markdown.ts';
import { monitorSummary, monitorText } from '../../shared/report/monitor.ts';
import { writeReferenceManifest } from './fixtures.ts';

/** prom-client-shaped exposition for one version: requests by code and a 3-bucket latency histogram. */
function exposition(v: { ok: number; err: number; fast: number; slow: number; health?: number }): string {
  const total = v.fast + v.slow;
  return [
    '# HELP modelship_requests_total Requests.',
    '# TYPE modelship_requests_total counter',
    `modelship_requests_total{model="m",version="1",api="predict",code="200"} ${v.ok}`,
    `modelship_requests_total{model="m",version="1",api="predict",code="503"} ${v.err}`,
    `modelship_requests_total{model="m",version="1",api="health",code="500"} ${v.health ?? 0}`,
    `modelship_requests_total{model="other",version="1",api="predict",code="500"} 999`,
    '# TYPE modelship_request_duration_seconds histogram',
    `modelship_request_duration_seconds_bucket{le="0.01",model="m",version="1"} ${v.fast}`,
    `modelship_request_duration_seconds_bucket{le="0.1",model="m",version="1"} ${total}`,
    `modelship_request_duration_seconds_bucket{le="+Inf",model="m",version="1"} ${total}`,
    `modelship_request_duration_seconds_sum{model="m",version="1"} 1`,
    `modelship_request_duration_seconds_count{model="m",version="1"} ${total}`,
    '',
  ].join('\n');
}

function scripted(pages: Record<string, string[]>) {
  const calls: string[] = [];
  let clock = 1_000_000;
  const fetch = (url: string): Promise<Response> => {
    calls.push(url);
    const list = pages[url];
    if (!list) return Promise.reject(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } }));
    const body = list.length > 1 ? list.shift()! : list[0];
    return Promise.resolve(new Response(body, { status: body === '500' ? 500 : 200 }));
  };
  return {
    calls,
    fetch,
    now: () => new Date(clock),
    sleep: (ms: number) => {
      clock += ms;
      return Promise.resolve();
    },
    advance: (ms: number) => (clock += ms),
  };
}

const names = ['error_rate', 'requests_per_second', 'p95_latency_ms', 'availability'];
const value = (o: unknown): number => (o as { value: number }).value;

describe('scrapeSource', () => {
  it('measures the increase between two scrapes a window apart, one model version only', async () => {
    const s = scripted({
      'http://a:8501/metrics': [
        exposition({ ok: 100, err: 0, fast: 100, slow: 0 }),
        exposition({ ok: 190, err: 10, fast: 150, slow: 50, health: 70 }),
      ],
    });
    const src = scrapeSource({ endpoints: ['http://a:8501'], fetch: s.fetch, now: s.now, sleep: s.sleep });
    const m = await measure(src, names, { model: 'm', version: '1' }, 10);
    assert.equal(value(m.observations['error_rate']), 0.1, '10 of 100 new requests; health checks do not count');
    assert.equal(value(m.observations['requests_per_second']), 10);
    assert.equal(value(m.observations['availability']), 0.9);
    // 50 fast (≤ 10 ms) and 50 slow (10–100 ms) new requests: p95 = 10 + 90 × 0.9 = 91 ms.
    assert.ok(Math.abs(value(m.observations['p95_latency_ms']) - 91) < 1e-9);
    assert.equal(m.start, new Date(1_000_000).toISOString());
    assert.equal(m.end, new Date(1_010_000).toISOString());
    assert.equal(m.stats.requests, 2);
  });

  it('reads a counter that went down as a reset, and a new series from 0; sums servers', async () => {
    const s = scripted({
      'http://a/metrics': [exposition({ ok: 500, err: 5, fast: 505, slow: 0 }), exposition({ ok: 40, err: 0, fast: 40, slow: 0 })],
      'http://b/metrics': ['', exposition({ ok: 50, err: 10, fast: 60, slow: 0 })],
    });
    const src = scrapeSource({ endpoints: ['http://a', 'http://b/metrics'], fetch: s.fetch, now: s.now, sleep: s.sleep });
    assert.equal(src.where, 'http://a/metrics, http://b/metrics');
    const m = await measure(src, names, { model: 'm', version: '1' }, 10);
    // a restarted (500 → 40: 40 new), b appeared (60 new, 10 of them 503).
    assert.equal(value(m.observations['requests_per_second']), 10);
    assert.equal(value(m.observations['error_rate']), 0.1);
  });

  it('diffs against its last scrape on the next read, waiting only for the rest of the window', async () => {
    const s = scripted({
      'http://a/metrics': [
        exposition({ ok: 0, err: 0, fast: 0, slow: 0 }),
        exposition({ ok: 100, err: 0, fast: 100, slow: 0 }),
        exposition({ ok: 100, err: 0, fast: 100, slow: 0 }),
        exposition({ ok: 300, err: 0, fast: 300, slow: 0 }),
      ],
    });
    const src = scrapeSource({ endpoints: ['http://a'], fetch: s.fetch, now: s.now, sleep: s.sleep });
    const first = await measure(src, names, { model: 'm', version: '1' }, 10);
    assert.equal(value(first.observations['requests_per_second']), 10);
    s.advance(4000);
    const idle = await measure(src, names, { model: 'm', version: '1' }, 4);
    assert.equal(value(idle.observations['requests_per_second']), 0, 'nothing new: a rate of 0…');
    assert.equal(idle.observations['error_rate']?.kind, 'no-data', '…and no error rate, not 0');
    assert.equal(idle.observations['p95_latency_ms']?.kind, 'no-data');
    s.advance(10_000);
    const late = await measure(src, names, { model: 'm', version: '1' }, 5);
    assert.equal(value(late.observations['requests_per_second']), 20, '200 requests over the 10 s since the last scrape');
    assert.equal(s.calls.length, 4);
  });

  it('is no data for a version the servers do not serve, and an error naming the URL when one is down', async () => {
    const s = scripted({ 'http://a/metrics': [exposition({ ok: 1, err: 0, fast: 1, slow: 0 })] });
    const none = await measure(
      scrapeSource({ endpoints: ['http://a'], fetch: s.fetch, now: s.now, sleep: s.sleep }),
      names,
      { model: 'm', version: '7' },
      1,
    );
    for (const n of names) assert.equal(none.observations[n]?.kind, 'no-data');
    const down = await measure(
      scrapeSource({ endpoints: ['http://a', 'http://down:8501'], fetch: s.fetch, now: s.now, sleep: s.sleep }),
      names,
      { model: 'm' },
      1,
    );
    for (const n of names)
      assert.match(JSON.stringify(down.observations[n]), /the server at http:\/\/down:8501\/metrics refused the connection/);
    assert.equal(judge(parseSloRules(['error_rate <= 0.01']), down.observations, 'pass').status, 'error');
    const broken = scripted({ 'http://a/metrics': ['modelship_requests_total{model="m" 1'] });
    const b = await measure(
      scrapeSource({ endpoints: ['http://a'], fetch: broken.fetch, now: broken.now, sleep: broken.sleep }),
      names,
      { model: 'm' },
      1,
    );
    assert.match(JSON.stringify(b.observations['error_rate']), /not valid Prometheus exposition text \(line 1/);
  });

  it('adds /metrics to a bare server URL only', () => {
    assert.equal(metricsUrl('http://127.0.0.1:8501'), 'http://127.0.0.1:8501/metrics');
    assert.equal(metricsUrl('http://h/admin/metrics'), 'http://h/admin/metrics');
  });
});

describe('loadReference', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'modelship-ref-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  it('reads a manifest, its folder, or a model folder with reference statistics', async () => {
    await writeReferenceManifest(dir);
    const a = await loadReference('manifest.json', dir);
    const b = await loadReference('.', dir);
    assert.deepEqual(a, b);
    assert.equal(a.classes.length, 10);
    assert.equal(a.histogram.edges.length, 33);
    const model = path.join(dir, 'model');
    await rm(model, { recursive: true, force: true });
    await import('node:fs/promises').then((fs) => fs.mkdir(model));
    const meta = { kind: 'modelship.model', classes: ['a', 'b'], dataset: { digest: 'sha256:ab' } };
    await writeFile(path.join(model, 'modelship.json'), JSON.stringify(meta));
    await assert.rejects(loadReference('model', dir), /has no 'reference'/);
    await writeFile(
      path.join(model, 'modelship.json'),
      JSON.stringify({
        ...meta,
        reference: { classDistribution: [0.5, 0.5], histogram: { edges: [0, 1, 2], counts: [3, 4] }, channels: [] },
      }),
    );
    const r = await loadReference('model', dir);
    assert.deepEqual(r.classes, ['a', 'b']);
    assert.equal(r.digest, 'sha256:ab');
    await assert.rejects(loadReference('nope.json', dir), /does not exist/);
    await writeFile(path.join(dir, 'x.json'), '{"kind": "other"}');
    await assert.rejects(loadReference('x.json', dir), /neither a modelship data set manifest nor a model/);
  });
});

describe('monitorSummary', () => {
  const base = (over: Partial<MonitorReport>): MonitorReport => ({
    schemaVersion: 1,
    kind: 'modelship.monitor-report',
    target: { model: 'fa|shion', version: '3' },
    window: '1h',
    rules: { slo: ['p95_latency_ms <= 100'], drift: [] },
    history: {},
    dispatch: { state: 'not-needed' },
    onBreach: 'fail',
    noData: 'fail',
    measurement: {
      target: { model: 'fa|shion', version: '3' },
      windowSeconds: 3600,
      start: '2026-03-01T11:00:00.000Z',
      end: '2026-03-01T12:00:00.000Z',
      source: { kind: 'prometheus', where: 'http://p:9090' },
      observations: {},
      stats: { requests: 6, series: 6, seconds: 0.05 },
    },
    judgement: { status: 'healthy', healthy: true, failed: false, verdicts: [], breaches: [] },
    ...over,
  });
  it('says when Prometheus could not be reached, with the hint, and escapes the model name', () => {
    const observations = {
      p95_latency_ms: { kind: 'error', message: 'Prometheus at http://p:9090 refused the connection.', hint: 'Check it.' },
    } as const;
    const judgement = judge(parseSloRules(['p95_latency_ms <= 100']), observations, 'fail');
    const md = monitorSummary(base({ judgement, measurement: { ...base({}).measurement, observations } }));
    assert.match(md, /^### 🛑 fa\\\|shion v3 · could not be measured/);
    assert.match(md, /> 🛑 Prometheus at http:\/\/p:9090 refused the connection\.<br>Check it\./);
    assert.match(md, /\| `p95_latency_ms` \| error \| ≤ 100 ms \| 🛑 error \|/);
  });
  it('says no data and which policy applied', () => {
    const observations = { p95_latency_ms: { kind: 'no-data', reason: 'no series for fashion v3' } } as const;
    const warn = judge(parseSloRules(['p95_latency_ms <= 100']), observations, 'warn');
    const md = monitorSummary(base({ judgement: warn, measurement: { ...base({}).measurement, observations } }));
    assert.match(md, /### ⚠️ fa\\\|shion v3 · no data for 1 rule over the last 1h/);
    assert.match(md, /\| ⚠️ no data \|/);
  });
  it('says the same in a terminal: aligned tables, a sparkline per chart, no Markdown, no control characters', () => {
    const observations = {
      p95_latency_ms: { kind: 'value', value: 512.5, series: 1, warnings: [] },
      error_rate: { kind: 'value', value: 0, series: 1, warnings: [] },
    } as const;
    const judgement = judge(parseSloRules(['p95_latency_ms <= 100', 'error_rate <= 0.01']), observations, 'fail');
    const history = {
      p95_latency_ms: [10, 20, 400, 512.5].map((value, i) => ({ time: 1000 + i * 60, value })),
      // Values that differ below what the figures show draw a flat line, not ▁█.
      error_rate: [0.0425, 0.042500000001].map((value, i) => ({ time: 1000 + i * 60, value })),
    };
    const report = base({
      target: { model: 'fa|shion\u001b[31m', version: '3' },
      judgement,
      history,
      measurement: { ...base({}).measurement, observations },
      dispatch: { state: 'skipped', workflow: 'retrain.yml', reason: 'run #7 is in progress' },
    });
    const text = monitorText(report);
    assert.equal(
      text,
      [
        '❌ fa|shion [31m v3 · 1 rule breached over the last 1h',
        '',
        'Window 1h (2026-03-01T11:00:00Z → 2026-03-01T12:00:00Z) · Prometheus http://p:9090 · 6 queries, 6 series read in 0.05 s',
        '',
        'SLO                value  limit     verdict',
        'p95_latency_ms  512.5 ms  ≤ 100 ms  ❌ breach',
        'error_rate           0 %  ≤ 1 %     ✅ pass',
        '',
        'p95 latency over the last 1h (ms): ▁▁▇█  min 10 · max 512.5 · limit ≤ 100 ms',
        'error rate over the last 1h (%): ▁▁  min 4.25 · max 4.25 · limit ≤ 1 %',
        '',
        'Retraining: not dispatched: run #7 is in progress.',
        '',
      ].join('\n'),
    );
    const md = monitorSummary(report);
    assert.match(md, /^### ❌ fa\\\|shion/);
    assert.match(md, /\*\*Retraining:\*\* not dispatched: run \\#7 is in progress\./);
  });

  it('draws a chart with the palette and names its series under it', () => {
    const c = lineChart({ title: 't', yTitle: 'ms', yFrom: 'zero', xLabels: ['-2m', 'now'], series: [{ name: 'p95', values: [1, NaN] }] });
    assert.match(c, /%%\{init: \{"themeVariables":\{"xyChart":\{"plotColorPalette":"#1f6feb"/);
    assert.match(c, /line \[1, 0\]/);
    assert.match(c, /<sub>blue: p95<\/sub>$/);
  });
});

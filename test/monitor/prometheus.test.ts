/**
 * monitor-check against a real Prometheus (Debian's, on loopback, one for this file) that scrapes
 * a STAND-IN for the model server: test/monitor/exporter.ts serves the server's metric contract
 * (issue 10) with traffic the test controls. It is not `modelship serve`; when the server lands,
 * the server-integration phase points Prometheus at real server processes under load instead.
 *
 * Model versions of the stand-in, one per case, all scraped by the same Prometheus:
 *   1 healthy · 2 slow (latency breach) · 3 15% 5xx (error breach) · 4 one class only (prediction
 *   drift) · 5 inverted inputs (input drift) · 6 traffic stopped · 9 never served (no series).
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { main } from '../../shared/cli/main.ts';
import {
  DRIFT_NAMES,
  judge,
  loadReference,
  measure,
  parseCustomQueries,
  parseDriftRules,
  parseSloRules,
  prometheusSource,
  scrapeSource,
  SLO_NAMES,
  type DriftReference,
  type Measurement,
} from '../../shared/monitor/index.ts';
import { monitorCheckStep } from '../../shared/steps/index.ts';
import { memoryLogger } from '../../shared/util/log.ts';
import { runAsRunner } from '../helpers/runner.ts';
import { freePort } from '../registry/helpers.ts';
import { TestExporter } from './exporter.ts';
import { EDGES, HEALTHY_BINS, uniformPredictions, writeReferenceManifest } from './fixtures.ts';
import { startPrometheus, type RunningPrometheus } from './prometheus.ts';

const WINDOW = 5;
const healthy = {
  requests: 20,
  errors: 0,
  latencies: [0.004, 0.012, 0.02, 0.03, 0.045],
  predictions: uniformPredictions(10),
  inputBins: HEALTHY_BINS,
  examples: 30,
};

describe('monitor-check against a real Prometheus', () => {
  let root = '';
  let manifest = '';
  let reference: DriftReference;
  let exporter: TestExporter;
  let prom: RunningPrometheus;
  const all = [...SLO_NAMES, ...DRIFT_NAMES];
  const slos = parseSloRules(['p95_latency_ms <= 100', 'error_rate <= 0.01']);
  const drift = parseDriftRules(['prediction_psi <= 0.2', 'input_psi <= 0.2']);
  const rules = [...slos, ...drift];
  const measured = new Map<string, Measurement>();
  const at = (version: string): Promise<Measurement> => {
    const m = measured.get(version);
    if (m) return Promise.resolve(m);
    return measure(prometheusSource({ url: prom.url }), all, { model: 'fashion', version }, WINDOW, { reference, minCount: 100 }).then(
      (x) => {
        measured.set(version, x);
        return x;
      },
    );
  };
  const valueOf = (m: Measurement, name: string): number => {
    const o = m.observations[name];
    assert.equal(o?.kind, 'value', `${name}: ${JSON.stringify(o)}`);
    return (o as { value: number }).value;
  };

  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'modelship-monitor-'));
    manifest = await writeReferenceManifest(root);
    reference = await loadReference(manifest, root);
    exporter = new TestExporter(EDGES);
    await exporter.start();
    exporter.serve('fashion', '1', healthy);
    exporter.serve('fashion', '2', { ...healthy, latencies: [0.15, 0.2, 0.3, 0.4] });
    exporter.serve('fashion', '3', { ...healthy, errors: 3 });
    exporter.serve('fashion', '4', { ...healthy, predictions: { Sandal: 100 } });
    exporter.serve('fashion', '5', { ...healthy, inputBins: [...HEALTHY_BINS].reverse() });
    exporter.serve('fashion', '6', healthy);
    prom = await startPrometheus([exporter.url]);
    await prom.waitForScrapes(2);
    exporter.idle('fashion', '6');
    // Enough scrapes that the window holds only stopped traffic for version 6.
    await prom.waitForScrapes(WINDOW + 3);
  });
  after(async () => {
    await prom?.stop();
    await exporter?.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('is healthy under normal load', async (t) => {
    const m = await at('1');
    const j = judge(rules, m.observations, 'fail');
    assert.equal(j.status, 'healthy', JSON.stringify(j.verdicts));
    const p95 = valueOf(m, 'p95_latency_ms');
    assert.ok(p95 > 25 && p95 < 50, `p95 ${p95} ms: the latencies are 4–45 ms`);
    assert.equal(valueOf(m, 'error_rate'), 0);
    assert.equal(valueOf(m, 'availability'), 1);
    const rps = valueOf(m, 'requests_per_second');
    assert.ok(rps > 120 && rps < 280, `${rps}/s: 200/s of inference traffic (health checks are not traffic)`);
    assert.ok(valueOf(m, 'prediction_psi') < 0.01);
    assert.ok(valueOf(m, 'input_psi') < 0.01);
    assert.ok(valueOf(m, 'prediction_chi2_p') > 0.001);
    t.diagnostic(`one check: ${m.stats.requests} queries, ${m.stats.series} series, ${m.stats.seconds.toFixed(3)} s`);
  });

  it('breaches on latency', async () => {
    const m = await at('2');
    const j = judge(rules, m.observations, 'fail');
    assert.equal(j.status, 'breach');
    assert.deepEqual(
      j.breaches.map((b) => b.metric),
      ['p95_latency_ms'],
    );
    assert.ok(valueOf(m, 'p95_latency_ms') > 400);
  });

  it('breaches on errors', async () => {
    const m = await at('3');
    const j = judge(rules, m.observations, 'fail');
    assert.deepEqual(
      j.breaches.map((b) => b.metric),
      ['error_rate'],
    );
    assert.ok(Math.abs(valueOf(m, 'error_rate') - 0.15) < 0.01, String(valueOf(m, 'error_rate')));
    assert.ok(Math.abs(valueOf(m, 'availability') - 0.85) < 0.01);
  });

  it('sees prediction drift when only one class is predicted', async () => {
    const m = await at('4');
    const j = judge(rules, m.observations, 'fail');
    assert.deepEqual(
      j.breaches.map((b) => b.metric),
      ['prediction_psi'],
    );
    assert.ok(valueOf(m, 'prediction_psi') > 5);
    assert.ok(valueOf(m, 'prediction_js') > 0.8);
    assert.ok(valueOf(m, 'prediction_chi2_p') < 1e-10);
    assert.ok(valueOf(m, 'input_psi') < 0.01, 'the inputs did not move');
  });

  it('sees input drift when the inputs are inverted', async () => {
    const m = await at('5');
    const j = judge(rules, m.observations, 'fail');
    assert.deepEqual(
      j.breaches.map((b) => b.metric),
      ['input_psi'],
    );
    assert.ok(valueOf(m, 'input_psi') > 0.5);
    assert.ok(valueOf(m, 'input_js') > 0.25);
    assert.ok(m.drift?.input && m.drift.input.count > 100, 'examples counted');
  });

  it('has no data, not zero, after traffic stops and for a version never served', async () => {
    const stopped = await at('6');
    assert.equal(valueOf(stopped, 'requests_per_second'), 0, 'the series exist, nothing came in');
    for (const n of ['p95_latency_ms', 'error_rate', 'availability']) assert.equal(stopped.observations[n]?.kind, 'no-data', n);
    assert.equal(stopped.observations['prediction_psi']?.kind, 'no-data');
    assert.match(JSON.stringify(stopped.observations['prediction_psi']), /at least 100 are needed/);
    const never = await at('9');
    for (const n of all) assert.equal(never.observations[n]?.kind, 'no-data', n);
    assert.equal(judge(rules, never.observations, 'fail').status, 'no-data');
    assert.equal(judge(rules, never.observations, 'fail').failed, true);
    assert.equal(judge(rules, never.observations, 'warn').failed, false);
    assert.equal(judge(rules, never.observations, 'warn').healthy, false);
    assert.equal(judge(rules, never.observations, 'pass').healthy, true);
  });

  it('is an error naming the URL when Prometheus is down: not a breach, not healthy', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const m = await measure(prometheusSource({ url }), all, { model: 'fashion', version: '1' }, WINDOW, { reference });
    for (const n of all) {
      const o = m.observations[n];
      assert.equal(o?.kind, 'error', n);
      assert.match((o as { message: string }).message, new RegExp(`Prometheus at ${url} refused the connection`));
    }
    const j = judge(rules, m.observations, 'pass');
    assert.equal(j.status, 'error');
    assert.equal(j.healthy, false);
    assert.equal(j.breaches.length, 0);
  });

  it("reports Prometheus's own errors (400 bad_data, 422 execution) and never passes NaN or +Inf", async () => {
    const custom = parseCustomQueries([
      'broken: sum(rate(modelship_requests_total{$selector}[$window])',
      'clash: modelship_requests_total + on() modelship_requests_total',
      'nan: vector(0) / vector(0)',
      'inf: vector(1) / vector(0)',
      'queue: sum(rate(modelship_requests_total{$selector}[$window]))',
    ]);
    const m = await measure(
      prometheusSource({ url: prom.url }),
      custom.map((q) => q.name),
      { model: 'fashion', version: '1' },
      WINDOW,
      { custom },
    );
    assert.match(JSON.stringify(m.observations['broken']), /answered 400 bad_data/);
    assert.match(JSON.stringify(m.observations['clash']), /answered 422 execution/);
    assert.ok(Number.isNaN((m.observations['nan'] as { value: number }).value));
    assert.equal((m.observations['inf'] as { value: number }).value, Infinity);
    const j = judge(parseSloRules(['nan <= 1', 'inf <= 1', 'queue >= 1'], custom), m.observations, 'fail');
    assert.deepEqual(
      j.verdicts.map((v) => v.status),
      ['breach', 'breach', 'pass'],
    );
  });

  it('gives the same figures from two scrapes of the servers as from PromQL', async () => {
    const source = scrapeSource({ endpoints: [exporter.url] });
    for (const version of ['1', '3', '5']) {
      const s = await measure(source, all, { model: 'fashion', version }, 1, { reference, minCount: 100 });
      const p = await at(version);
      for (const name of ['error_rate', 'availability'])
        assert.ok(Math.abs(valueOf(s, name) - valueOf(p, name)) < 0.01, `${name} v${version}`);
      const ratio = valueOf(s, 'p95_latency_ms') / valueOf(p, 'p95_latency_ms');
      assert.ok(
        ratio > 0.85 && ratio < 1.15,
        `p95 v${version}: scrape ${valueOf(s, 'p95_latency_ms')} vs PromQL ${valueOf(p, 'p95_latency_ms')}`,
      );
      const rps = valueOf(s, 'requests_per_second') / valueOf(p, 'requests_per_second');
      assert.ok(rps > 0.7 && rps < 1.3, `requests_per_second v${version}`);
      assert.equal(valueOf(s, 'input_psi') > 0.2, valueOf(p, 'input_psi') > 0.2, `input drift v${version}`);
    }
  });

  it('runs as the action: outputs, report, and a summary with the table and the chart', async (t) => {
    const r = await runAsRunner(
      monitorCheckStep,
      { prometheus: prom.url, name: 'fashion', version: '1', window: `${WINDOW}s`, reference: manifest, 'drift-min-count': '100' },
      { cwd: root },
    );
    assert.equal(r.failed, false, r.commands + r.log);
    assert.equal(r.outputs['healthy'], 'true');
    assert.equal(r.outputs['breaches'], '[]');
    assert.equal(r.outputs['dispatched'], 'false');
    const scores = JSON.parse(r.outputs['drift']) as Record<string, number | null>;
    assert.deepEqual(Object.keys(scores), DRIFT_NAMES);
    assert.ok((scores['prediction_psi'] ?? 1) < 0.01);
    const report = JSON.parse(await readFile(r.outputs['report'], 'utf8')) as {
      kind: string;
      judgement: { status: string };
      history: Record<string, unknown[]>;
    };
    assert.equal(report.kind, 'modelship.monitor-report');
    assert.equal(report.judgement.status, 'healthy');
    assert.ok(report.history['p95_latency_ms'].length >= 3, 'a range query over the window');
    assert.match(r.summary, /### ✅ fashion v1 · healthy over the last 5s/);
    assert.match(r.summary, /\| `p95_latency_ms` \| [\d.]+ ms \| ≤ 100 ms \| ✅ pass \|/);
    assert.match(r.summary, /\| `error_rate` \| 0 % \| ≤ 1 % \| ✅ pass \|/);
    assert.match(r.summary, /\| `prediction_psi` \| [\d.e-]+ \| ≤ 0\.2 \| ✅ pass \|/);
    assert.match(r.summary, /xychart-beta/);
    assert.match(r.summary, /blue: p95 latency \(ms\) · orange: limit ≤ 100 ms/);
    await writeFile(path.join(root, 'summary.md'), r.summary);
    t.diagnostic(`summary (healthy):\n${r.summary}`);
  });

  it('fails the step on a breach with on-breach: fail, and only reports with on-breach: report', async (t) => {
    const inputs = {
      prometheus: prom.url,
      name: 'fashion',
      version: '2',
      window: `${WINDOW}s`,
      reference: manifest,
      'drift-min-count': '100',
    };
    const failing = await runAsRunner(monitorCheckStep, inputs, { cwd: root });
    assert.equal(failing.failed, true);
    assert.match(failing.commands, /::error::monitor-check failed: fashion v2 breaches p95_latency_ms <= 100 \([\d.]+ ms\)/);
    assert.equal(failing.outputs['healthy'], 'false');
    assert.equal((JSON.parse(failing.outputs['breaches']) as { metric: string }[])[0]?.metric, 'p95_latency_ms');
    assert.match(failing.summary, /### ❌ fashion v2 · 1 rule breached/);
    const reporting = await runAsRunner(monitorCheckStep, { ...inputs, 'on-breach': 'report' }, { cwd: root });
    assert.equal(reporting.failed, false);
    assert.equal(reporting.outputs['healthy'], 'false');
    t.diagnostic(`summary (latency breach):\n${failing.summary}`);
  });

  it('fails with the URL when Prometheus is down, and follows no-data for a version never served', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const down = await runAsRunner(monitorCheckStep, { prometheus: url, name: 'fashion', version: '1', window: '5s' }, { cwd: root });
    assert.equal(down.failed, true);
    assert.match(
      down.commands,
      new RegExp(`fashion v1 could not be measured: Prometheus at ${url.replace(/\./g, '\\.')} refused the connection`),
    );
    assert.equal(down.outputs['healthy'], 'false');
    assert.equal(down.outputs['breaches'], '[]');
    assert.match(down.summary, /### 🛑 fashion v1 · could not be measured/);
    const none = { prometheus: prom.url, name: 'fashion', version: '9', window: `${WINDOW}s` };
    const failed = await runAsRunner(monitorCheckStep, none, { cwd: root });
    assert.equal(failed.failed, true);
    assert.match(failed.commands, /no data for p95_latency_ms, error_rate: no series for fashion v9/);
    const warned = await runAsRunner(monitorCheckStep, { ...none, 'no-data': 'warn' }, { cwd: root });
    assert.equal(warned.failed, false);
    assert.equal(warned.outputs['healthy'], 'false');
    assert.match(warned.commands + warned.log, /warning.*no data/);
  });

  it('`modelship monitor` gives the same verdict from the terminal', async () => {
    const out = new PassThrough();
    const err = new PassThrough();
    let stdout = '';
    out.on('data', (c: Buffer) => (stdout += c.toString()));
    const code = await main(['monitor', '--prometheus', prom.url, '--name', 'fashion', '--version', '3', '--window', `${WINDOW}s`], {
      stdout: out,
      stderr: err,
      env: {},
      cwd: root,
      log: memoryLogger(),
    });
    assert.equal(code, 1);
    assert.match(stdout, /^healthy=false$/m);
    assert.match(stdout, /^breaches=\[\{"rule":"error_rate <= 0.01"/m);
    const summary = await readFile(path.join(root, '.modelship', 'summaries', 'monitor-check.md'), 'utf8');
    assert.match(summary, /### ❌ fashion v3 · 1 rule breached/);
  });
});

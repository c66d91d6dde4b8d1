/**
 * monitor-check against the real thing: real `modelship serve` processes (the CLI, child processes
 * on free loopback ports) serving a model trained here on the demo's Fashion-MNIST sample, under
 * load from test-split images, scraped every second by Debian's real Prometheus (one for this file)
 * and, without Prometheus, scraped directly (the `endpoint` source). Nothing is a stand-in: the
 * faults are the server's own test knobs (`PUT /admin/faults`), the drift comes from what the model
 * predicts for the images sent.
 *
 * Server A serves one trained model folder as five versions of `fashion`, one per case:
 *   1 test-split images (healthy) · 2 the same, with 600 ms of injected latency · 3 the same, with
 *   20% of inference requests answered 500 (and status calls beside them, which are not traffic) ·
 *   4 only Trouser images (prediction drift) · 5 inverted images (input drift) · 7 test-split images
 *   until the tests start (traffic that stops: its series stay). 9 is never served.
 * Server B serves it as version 6 and is stopped before the tests (no data after a server stops).
 *
 * Every case goes through the step as the Actions runner runs it and through `modelship monitor`.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DRIFT_NAMES,
  judge,
  loadReference,
  measure,
  parseCustomQueries,
  parseSloRules,
  prometheusSource,
  scrapeSource,
  SLO_NAMES,
  FEEDBACK_SLO_NAMES,
  type DriftReference,
  type Measurement,
  type MonitorReport,
} from '../../shared/monitor/index.ts';
import { monitorCheckStep } from '../../shared/steps/index.ts';
import { runCliLogged } from '../helpers/cli.ts';
import { runAsRunner, type RunnerResult } from '../helpers/runner.ts';
import { freePort } from '../registry/helpers.ts';
import {
  indicesOf,
  predictBodies,
  startLoad,
  startServeProcess,
  trainTinyModel,
  type Load,
  type ServeProcess,
  type TinyModel,
} from './live.ts';
import { startPrometheus, type RunningPrometheus } from './prometheus.ts';

/** The check's window with Prometheus (seconds); scrape-source checks use 3 s. */
const W = 5;
const SLOS = ['p95_latency_ms <= 250', 'error_rate <= 0.05'];
const LATENCY_MS = 600;
const ERROR_RATE = 0.2;
/** Per version: 10 :predict requests a second, 8 images each (~400 predictions in a 5 s window). */
const RATE = 10;
const PER_REQUEST = 8;
const MIN_COUNT = '150';
const TROUSER = 1;

interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly log: string;
  readonly summary: string;
}

describe('monitor-check on real modelship serve processes, scraped by a real Prometheus and directly', () => {
  let root = '';
  let model: TinyModel;
  let reference: DriftReference;
  let prom: RunningPrometheus | undefined;
  let serverA: ServeProcess | undefined;
  let serverB: ServeProcess | undefined;
  let load: Load | undefined;
  let v6Before: Measurement;
  let stoppedB = 0;
  let runs = 0;
  const setup: string[] = [];

  const inputs = (version: string, extra: Record<string, string> = {}): Record<string, string> => ({
    prometheus: prom!.url,
    name: 'fashion',
    version,
    window: `${W}s`,
    slos: SLOS.join('\n'),
    reference: model.modelDir,
    'drift-min-count': MIN_COUNT,
    ...extra,
  });
  const action = async (version: string, extra: Record<string, string> = {}): Promise<RunnerResult> =>
    runAsRunner(monitorCheckStep, inputs(version, extra), { cwd: await mkdtemp(path.join(root, `action-${++runs}-`)) });
  /** `modelship monitor` from the CLI door, in a folder of its own (so several can run at once). */
  const cli = async (argv: readonly string[]): Promise<CliRun> => {
    const cwd = await mkdtemp(path.join(root, `cli-${++runs}-`));
    const r = await runCliLogged(['monitor', ...argv], cwd);
    const summary = await readFile(path.join(cwd, '.modelship', 'summaries', 'monitor-check.md'), 'utf8').catch(() => '');
    return { code: r.code, stdout: r.stdout, stderr: r.stderr, log: r.log, summary };
  };
  const cliArgs = (version: string, extra: string[] = [], prometheus = prom!.url): string[] => [
    '--prometheus',
    prometheus,
    '--name',
    'fashion',
    '--version',
    version,
    '--window',
    `${W}s`,
    ...SLOS.flatMap((s) => ['--slos', s]),
    '--reference',
    model.modelDir,
    '--drift-min-count',
    MIN_COUNT,
    ...extra,
  ];
  const reportOf = async (r: RunnerResult): Promise<MonitorReport> =>
    JSON.parse(await readFile(r.outputs['report'], 'utf8')) as MonitorReport;
  const valueOf = (m: Measurement, name: string): number => {
    const o = m.observations[name];
    assert.equal(o?.kind, 'value', `${name}: ${JSON.stringify(o)}`);
    return (o as { value: number }).value;
  };
  const breached = (r: RunnerResult): string[] => (JSON.parse(r.outputs['breaches']) as { metric: string }[]).map((b) => b.metric);
  const serverLogs = (): string => `\nserver A's log:\n${serverA?.log().slice(-3000)}`;

  before(async () => {
    const t0 = performance.now();
    root = await mkdtemp(path.join(os.tmpdir(), 'modelship-monitor-live-'));
    const ports = [await freePort(), await freePort()];
    // The alerting rules a team would deploy, as `modelship monitor rules` writes them (short window and for:).
    const alerts = path.join(root, 'alerts.yml');
    const rules = await cli([
      'rules',
      ...SLOS.flatMap((s) => ['--slos', s]),
      '--name',
      'fashion',
      '--window',
      `${W}s`,
      '--for',
      '2s',
      '--out',
      alerts,
    ]);
    assert.equal(rules.code, 0, rules.stderr);
    // Prometheus waits ~5 s before its first scrape: start it while the model trains.
    const [p, m] = await Promise.allSettled([
      startPrometheus(
        ports.map((port) => `http://127.0.0.1:${port}`),
        { ruleFiles: [alerts] },
      ),
      trainTinyModel(root),
    ]);
    if (p.status === 'rejected') throw p.reason;
    const prometheus = (prom = p.value);
    if (m.status === 'rejected') throw m.reason;
    model = m.value;
    reference = await loadReference(model.modelDir, root);
    setup.push(`trained in ${model.seconds.toFixed(1)} s (val accuracy ${model.valAccuracy?.toFixed(3)})`);

    const config = path.join(root, 'serve.yml');
    const versions = [1, 2, 3, 4, 5, 7].map((v) => `{ source: ./model, version: ${v} }`).join(', ');
    await writeFile(config, `version: 1\nname: fashion\nserve:\n  models:\n    - name: fashion\n      versions: [${versions}]\n`);
    const common = ['--allow-fault-injection', '--shutdown-timeout-ms', '2000'];
    const [a, b] = await Promise.allSettled([
      startServeProcess(['--config', config, '--port', String(ports[0]), '--admin-port', '0', ...common], { cwd: root }),
      startServeProcess(['--model', './model', '--version', '6', '--port', String(ports[1]), ...common], { cwd: root }),
    ]);
    if (a.status === 'fulfilled') serverA = a.value;
    if (b.status === 'fulfilled') serverB = b.value;
    if (a.status === 'rejected') throw a.reason;
    if (b.status === 'rejected') throw b.reason;
    setup.push(`servers ready at ${((performance.now() - t0) / 1000).toFixed(1)} s: ${serverA!.line} · ${serverB!.line}`);

    for (const fault of [
      { model: 'fashion', version: '2', latencyMs: LATENCY_MS },
      { model: 'fashion', version: '3', errorRate: ERROR_RATE },
    ]) {
      const r = await fetch(`${serverA!.adminUrl}/admin/faults`, { method: 'PUT', body: JSON.stringify(fault) });
      assert.equal(r.status, 200, await r.text());
    }

    const all = indicesOf(model.test);
    const mixed = predictBodies(model.test, all, { perRequest: PER_REQUEST, bodies: 40 });
    const trousers = predictBodies(model.test, indicesOf(model.test, TROUSER), { perRequest: PER_REQUEST, bodies: 12 });
    const inverted = predictBodies(model.test, all, { perRequest: PER_REQUEST, bodies: 40, pixels: (v) => 255 - v });
    const predict = (s: ServeProcess, v: number): string => `${s.url}/v1/models/fashion/versions/${v}:predict`;
    load = startLoad([
      { name: 'v1', url: predict(serverA!, 1), bodies: mixed, perSecond: RATE },
      { name: 'v2', url: predict(serverA!, 2), bodies: mixed, perSecond: RATE },
      // Twice the rate, so that a window's error rate moves in steps of ~1%, not ~2.5%.
      { name: 'v3', url: predict(serverA!, 3), bodies: mixed, perSecond: 2 * RATE },
      { name: 'v3 status', url: `${serverA!.url}/v1/models/fashion/versions/3`, method: 'GET', perSecond: RATE },
      { name: 'v4', url: predict(serverA!, 4), bodies: trousers, perSecond: RATE },
      { name: 'v5', url: predict(serverA!, 5), bodies: inverted, perSecond: RATE },
      { name: 'v6', url: predict(serverB!, 6), bodies: mixed, perSecond: RATE },
      { name: 'v7', url: predict(serverA!, 7), bodies: mixed, perSecond: RATE },
    ]);
    const started = Date.now();
    // Every version's traffic is in Prometheus, and a whole window of it.
    await prometheus.waitFor(
      `count(sum by (version) (rate(modelship_examples_total{model="fashion"}[${W}s]) > 0))`,
      (r) => r[0]?.value[1] === '7',
    );
    await sleep(Math.max(0, started + (W + 2) * 1000 - Date.now()));
    setup.push(`a window of load in Prometheus at ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    v6Before = await measure(
      prometheusSource({ url: prometheus.url }),
      [...SLO_NAMES, ...DRIFT_NAMES],
      { model: 'fashion', version: '6' },
      W,
      {
        reference,
        minCount: Number(MIN_COUNT),
      },
    );
    await Promise.all([load.stop('v6'), load.stop('v7')]);
    await serverB!.stop();
    stoppedB = Date.now();
  });

  after(async () => {
    await load?.stop();
    await Promise.all([serverA?.stop(), serverB?.stop(), prom?.stop()]);
    await rm(root, { recursive: true, force: true });
  });

  it('is healthy under normal load: the action (summary with tables and charts) and `modelship monitor` (the same summary as text)', async (t) => {
    const t0 = performance.now();
    const r = await action('1');
    const seconds = (performance.now() - t0) / 1000;
    assert.equal(r.failed, false, r.commands + r.log + serverLogs());
    assert.equal(r.outputs['healthy'], 'true');
    assert.equal(r.outputs['breaches'], '[]');
    assert.equal(r.outputs['dispatched'], 'false');
    const drift = JSON.parse(r.outputs['drift']) as Record<string, number | null>;
    assert.deepEqual(Object.keys(drift), DRIFT_NAMES);
    const report = await reportOf(r);
    const m = report.measurement;
    const rps = valueOf(m, 'requests_per_second');
    assert.ok(rps > RATE / 2 && rps < RATE * 1.5, `${rps} requests/s: ${RATE}/s were sent`);
    assert.ok(valueOf(m, 'p95_latency_ms') < 250);
    assert.equal(valueOf(m, 'error_rate'), 0);
    assert.equal(valueOf(m, 'availability'), 1);
    assert.ok(valueOf(m, 'prediction_psi') < 0.2, `prediction_psi ${valueOf(m, 'prediction_psi')}`);
    assert.ok(valueOf(m, 'input_psi') < 0.02, `test-split pixels against the train split's histogram: ${valueOf(m, 'input_psi')}`);
    assert.equal(drift['input_psi'], valueOf(m, 'input_psi'));
    assert.ok(m.drift?.prediction && m.drift.prediction.count >= Number(MIN_COUNT));
    assert.equal(m.drift?.input?.served.length, 32, "the server's input buckets are the reference's 32 bins");
    // At least a line's two points: under load Prometheus may scrape less often than every second.
    assert.ok(report.history['p95_latency_ms'].length >= 2, 'a range query over the window');
    assert.match(r.summary, /^### ✅ fashion v1 · healthy over the last 5s$/m);
    assert.match(r.summary, /· \d+ queries, \d+ series read in [\d.]+ s$/m);
    assert.match(r.summary, /\| `p95_latency_ms` \| [\d.]+ ms \| ≤ 250 ms \| ✅ pass \|/);
    assert.match(r.summary, /\| `error_rate` \| 0 % \| ≤ 5 % \| ✅ pass \|/);
    assert.match(r.summary, /\| `prediction_psi` \| [\d.e-]+ \| ≤ 0\.2 \| ✅ pass \|/);
    assert.match(r.summary, /\| `input_psi` \| [\d.e-]+ \| ≤ 0\.2 \| ✅ pass \|/);
    assert.match(r.summary, /predictions in 10 classes · χ² = /);
    assert.match(r.summary, /xychart-beta\n {2}title "p95 latency over the last 5s"/);
    assert.match(r.summary, /xychart-beta\n {2}title "error rate over the last 5s"/);
    assert.match(r.summary, /blue: p95 latency \(ms\) · orange: limit ≤ 250 ms/);
    t.diagnostic(
      `one check (the step): ${seconds.toFixed(2)} s wall, of which measuring ${m.stats.seconds.toFixed(2)} s; ` +
        `${m.stats.requests} instant queries + 2 range queries, ${m.stats.series} series read`,
    );
    t.diagnostic(`setup: ${setup.join(' · ')}`);
    t.diagnostic(`summary (healthy, real servers):\n${r.summary}`);

    const c = await cli(cliArgs('1'));
    assert.equal(c.code, 0, c.stderr + c.log);
    assert.match(c.stdout, /^healthy=true$/m);
    assert.match(c.stdout, /^breaches=\[\]$/m);
    assert.match(c.log, /^✅ fashion v1 · healthy over the last 5s$/m, 'the summary, in the terminal');
    assert.match(c.log, /^p95_latency_ms +[\d.]+ ms +≤ 250 ms +✅ pass$/m);
    assert.match(c.log, /^prediction_psi +[\d.e-]+ +≤ 0\.2 +✅ pass$/m);
    assert.match(c.log, /^p95 latency over the last 5s \(ms\): [▁▂▃▄▅▆▇█]+ {2}min [\d.]+ · max [\d.]+ · limit ≤ 250 ms$/m);
    assert.match(c.summary, /^### ✅ fashion v1 · healthy/);
    t.diagnostic(`terminal (modelship monitor):\n${c.log.slice(c.log.indexOf('✅ fashion v1'))}`);
  });

  it(`breaches on latency injected through PUT /admin/faults (${LATENCY_MS} ms on v2): fails with on-breach: fail, reports with report`, async (t) => {
    const r = await action('2');
    assert.equal(r.failed, true);
    assert.match(r.commands, /::error::monitor-check failed: fashion v2 breaches p95_latency_ms <= 250 \([\d.]+ ms\)/);
    assert.equal(r.outputs['healthy'], 'false');
    assert.deepEqual(breached(r), ['p95_latency_ms']);
    const m = (await reportOf(r)).measurement;
    assert.ok(valueOf(m, 'p95_latency_ms') > LATENCY_MS, `p95 ${valueOf(m, 'p95_latency_ms')} ms`);
    assert.equal(valueOf(m, 'error_rate'), 0);
    assert.match(r.summary, /^### ❌ fashion v2 · 1 rule breached over the last 5s$/m);
    assert.match(r.summary, /\| `p95_latency_ms` \| [\d.]+ ms \| ≤ 250 ms \| ❌ breach \|/);
    const reported = await action('2', { 'on-breach': 'report' });
    assert.equal(reported.failed, false);
    assert.equal(reported.outputs['healthy'], 'false');
    assert.match(reported.summary, /\*\*Retraining:\*\* not dispatched \(on-breach is 'report'\)\./);
    const c = await cli(cliArgs('2'));
    assert.equal(c.code, 1);
    assert.match(c.stdout, /^healthy=false$/m);
    assert.match(c.stdout, /^breaches=\[\{"rule":"p95_latency_ms <= 250","metric":"p95_latency_ms"/m);
    assert.match(c.stderr, /monitor-check failed: fashion v2 breaches p95_latency_ms <= 250/);
    assert.match(c.log, /^p95_latency_ms +[\d.]+ ms +≤ 250 ms +❌ breach$/m);
    t.diagnostic(`summary (latency breach, real servers):\n${r.summary}`);
  });

  it(`breaches on errors injected through PUT /admin/faults (${ERROR_RATE * 100}% 500s on v3); status calls are not traffic`, async () => {
    const r = await action('3');
    assert.equal(r.failed, true);
    assert.deepEqual(breached(r), ['error_rate']);
    const m = (await reportOf(r)).measurement;
    const rate = valueOf(m, 'error_rate');
    // Counted with the status calls (10/s, all 200) beside the inference requests, it would be ~0.13.
    assert.ok(Math.abs(rate - ERROR_RATE) < 0.04, `error_rate ${rate}`);
    assert.ok(Math.abs(valueOf(m, 'availability') - (1 - ERROR_RATE)) < 0.04);
    assert.ok(load!.answers('v3')['500'] > 0 && load!.answers('v3 status')['200'] > 0, 'the server answered 500s and status calls');
    assert.match(r.commands, /::error::monitor-check failed: fashion v3 breaches error_rate <= 0\.05 \(0\.\d+\)/);
    const c = await cli(cliArgs('3'));
    assert.equal(c.code, 1);
    assert.match(c.stdout, /^breaches=\[\{"rule":"error_rate <= 0.05"/m);
  });

  it('sees prediction drift when only one class is sent (Trouser images of the test split, v4)', async (t) => {
    const r = await action('4');
    assert.equal(r.failed, true);
    assert.deepEqual(breached(r), ['prediction_psi']);
    const drift = JSON.parse(r.outputs['drift']) as Record<string, number | null>;
    assert.ok(drift['prediction_psi']! > 1, `prediction_psi ${drift['prediction_psi']}`);
    assert.ok(drift['prediction_js']! > 0.5, `prediction_js ${drift['prediction_js']}`);
    assert.ok(drift['prediction_chi2_p']! < 1e-6);
    assert.ok(drift['input_psi']! < 0.2, `trousers' pixels are still pixels: input_psi ${drift['input_psi']}`);
    const p = (await reportOf(r)).measurement.drift?.prediction;
    const top = p!.classes[p!.served.indexOf(Math.max(...p!.served))];
    assert.equal(top, model.classes[TROUSER], 'the model predicts what it is shown');
    assert.match(r.summary, /\| `prediction_psi` \| [\d.]+ \| ≤ 0\.2 \| ❌ breach \|/);
    const c = await cli(cliArgs('4'));
    assert.equal(c.code, 1);
    assert.match(c.stdout, /^drift=\{"prediction_psi":[\d.]+/m);
    t.diagnostic(`drift (one class): ${r.outputs['drift']}`);
  });

  it('sees input drift when the images are inverted (v5)', async (t) => {
    const r = await action('5');
    assert.equal(r.failed, true);
    assert.ok(breached(r).includes('input_psi'), r.outputs['breaches']);
    const drift = JSON.parse(r.outputs['drift']) as Record<string, number | null>;
    assert.ok(drift['input_psi']! > 1, `input_psi ${drift['input_psi']}`);
    assert.ok(drift['input_js']! > 0.5, `input_js ${drift['input_js']}`);
    assert.match(r.summary, /\| `input_psi` \| [\d.]+ \| ≤ 0\.2 \| ❌ breach \|/);
    assert.match(r.summary, /input values \([\d,]+ examples\) in 32 bins/);
    const c = await cli(cliArgs('5', ['--on-breach', 'report']));
    assert.equal(c.code, 0);
    assert.match(c.stdout, /^healthy=false$/m);
    assert.match(c.log, /^input_psi +[\d.]+ +≤ 0\.2 +❌ breach$/m);
    t.diagnostic(`drift (inverted): ${r.outputs['drift']}`);
  });

  it('gives the same figures from two scrapes of the real server as from PromQL', async () => {
    const names = [...SLO_NAMES, ...DRIFT_NAMES];
    const opts = { reference, minCount: 100 };
    const target = (v: string): { model: string; version: string } => ({ model: 'fashion', version: v });
    const [s2, s3, s5] = await Promise.all(
      ['2', '3', '5'].map((v) => measure(scrapeSource({ endpoints: [serverA!.url] }), names, target(v), 3, opts)),
    );
    const [p2, p3, p5] = await Promise.all(
      ['2', '3', '5'].map((v) => measure(prometheusSource({ url: prom!.url }), names, target(v), W, opts)),
    );
    const ratio = (a: number, b: number): number => a / b;
    const p95 = ratio(valueOf(s2, 'p95_latency_ms'), valueOf(p2, 'p95_latency_ms'));
    assert.ok(p95 > 0.8 && p95 < 1.25, `p95 v2: scrape ${valueOf(s2, 'p95_latency_ms')} vs PromQL ${valueOf(p2, 'p95_latency_ms')}`);
    assert.ok(Math.abs(valueOf(s3, 'error_rate') - valueOf(p3, 'error_rate')) < 0.05, 'error_rate v3');
    const rps = ratio(valueOf(s3, 'requests_per_second'), valueOf(p3, 'requests_per_second'));
    assert.ok(rps > 0.6 && rps < 1.4, `requests_per_second v3: ${rps}`);
    assert.ok(valueOf(s5, 'input_psi') > 1 && valueOf(p5, 'input_psi') > 1, 'input drift both ways');
  });

  it('without Prometheus, scrapes the real server (endpoint): healthy and a latency breach, as the action and from the CLI', async () => {
    const scraped = (version: string, extra: Record<string, string> = {}): Record<string, string> => ({
      endpoint: serverA!.url,
      name: 'fashion',
      version,
      window: '3s',
      slos: SLOS.join('\n'),
      reference: model.modelDir,
      'drift-min-count': '100',
      ...extra,
    });
    const flags = (v: string): string[] => [
      '--endpoint',
      serverA!.url,
      '--name',
      'fashion',
      '--version',
      v,
      '--window',
      '3s',
      ...SLOS.flatMap((s) => ['--slos', s]),
    ];
    // Each check waits its 3 s window between two scrapes: the CLI runs (which touch neither
    // process.env nor process.stdout) share those waits with the action runs.
    const cwd = await mkdtemp(path.join(root, 'endpoint-'));
    const [healthy, errors] = await Promise.all([runAsRunner(monitorCheckStep, scraped('1'), { cwd }), cli(flags('3'))]);
    const [slow, ok] = await Promise.all([runAsRunner(monitorCheckStep, scraped('2'), { cwd }), cli(flags('1'))]);
    assert.equal(healthy.failed, false, healthy.commands + healthy.log);
    assert.equal(healthy.outputs['healthy'], 'true');
    assert.match(healthy.summary, new RegExp(`^Window 3s \\(.*\\) · scrapes of \`${serverA!.url}/metrics\` · 2 scrapes, `, 'm'));
    assert.match(healthy.summary, /\| `input_psi` \| [\d.e-]+ \| ≤ 0\.2 \| ✅ pass \|/, 'drift from the scraped input buckets');
    assert.doesNotMatch(healthy.summary, /xychart-beta/, 'two scrapes make no chart');
    assert.equal(slow.failed, true);
    assert.deepEqual(breached(slow), ['p95_latency_ms']);
    assert.equal(ok.code, 0, ok.stderr + ok.log);
    assert.match(ok.stdout, /^healthy=true$/m);
    assert.equal(errors.code, 1);
    assert.match(errors.stdout, /^breaches=\[\{"rule":"error_rate <= 0.05"/m);
  });

  it('is an error naming the URL when Prometheus is down: not a breach, not healthy, whatever no-data says', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const r = await runAsRunner(
      monitorCheckStep,
      { ...inputs('1'), prometheus: url, 'no-data': 'pass' },
      { cwd: await mkdtemp(path.join(root, 'down-')) },
    );
    assert.equal(r.failed, true);
    assert.match(
      r.commands,
      new RegExp(`fashion v1 could not be measured: Prometheus at ${url.replace(/\./g, '\\.')} refused the connection`),
    );
    assert.equal(r.outputs['healthy'], 'false');
    assert.equal(r.outputs['breaches'], '[]');
    assert.match(r.summary, /^### 🛑 fashion v1 · could not be measured$/m);
    const c = await cli(cliArgs('1', [], url));
    assert.equal(c.code, 1);
    assert.match(c.stderr, /could not be measured: Prometheus at .* refused the connection/);
    assert.match(c.log, /^🛑 fashion v1 · could not be measured$/m);
  });

  it("reports the real Prometheus's own errors (400 bad_data, 422 execution) and never passes NaN or +Inf", async () => {
    const lines = [
      'broken: sum(rate(modelship_requests_total{$selector}[$window])',
      'clash: modelship_requests_total + on() modelship_requests_total',
      'nan: vector(0) / vector(0)',
      'inf: vector(1) / vector(0)',
      'batch_p95: histogram_quantile(0.95, sum by (le) (rate(modelship_batch_size_bucket{$selector}[$window])))',
    ];
    const custom = parseCustomQueries(lines);
    const m = await measure(
      prometheusSource({ url: prom!.url }),
      custom.map((q) => q.name),
      { model: 'fashion', version: '1' },
      W,
      { custom },
    );
    assert.match(JSON.stringify(m.observations['broken']), /answered 400 bad_data/);
    assert.match(JSON.stringify(m.observations['clash']), /answered 422 execution/);
    assert.ok(Number.isNaN((m.observations['nan'] as { value: number }).value));
    assert.equal((m.observations['inf'] as { value: number }).value, Infinity);
    const j = judge(parseSloRules(['nan <= 1', 'inf <= 1', 'batch_p95 >= 1'], custom), m.observations, 'fail');
    assert.deepEqual(
      j.verdicts.map((v) => v.status),
      ['breach', 'breach', 'pass'],
    );
    const r = await action('1', { queries: lines[0], slos: 'broken <= 1' });
    assert.equal(r.failed, true);
    assert.match(r.commands, /could not be measured: .*answered 400 bad_data/);
    assert.equal(r.outputs['breaches'], '[]');
  });

  it('fires the alerting rules `modelship monitor rules` wrote, in the real Prometheus, for the breaching versions only', async () => {
    const firing = async (): Promise<string[]> =>
      (await prom!.query('ALERTS{alertstate="firing",model="fashion"}'))
        .map((r) => `${r.metric['alertname']} v${r.metric['version']}`)
        .sort();
    await prom!.waitFor('count(ALERTS{alertstate="firing",model="fashion"})', (r) => Number(r[0]?.value[1] ?? 0) >= 2, 20_000);
    assert.deepEqual(await firing(), ['ModelshipErrorRateHigh v3', 'ModelshipP95LatencyMsHigh v2']);
    const [alert] = await prom!.query('ALERTS{alertstate="firing",alertname="ModelshipP95LatencyMsHigh"}');
    assert.equal(alert.metric['slo'], 'p95_latency_ms');
  });

  it('has no data, not zero, once the server has stopped (v6 on server B): no-data fail, warn and pass', async () => {
    assert.equal(judge(parseSloRules(SLOS), v6Before.observations, 'fail').status, 'healthy', 'v6 had traffic before its server stopped');
    assert.ok(valueOf(v6Before, 'requests_per_second') > 0);
    await sleep(Math.max(0, stoppedB + (W + 2) * 1000 - Date.now()));
    const failing = await action('6');
    assert.equal(failing.failed, true);
    assert.match(failing.commands, /no data for p95_latency_ms, error_rate, prediction_psi, input_psi: no series for fashion v6/);
    assert.equal(failing.outputs['healthy'], 'false');
    assert.equal(failing.outputs['breaches'], '[]');
    const m = (await reportOf(failing)).measurement;
    // (live_accuracy and live_error_rate are measured when a rule names them.)
    for (const n of [...SLO_NAMES.filter((x) => !FEEDBACK_SLO_NAMES.includes(x)), ...DRIFT_NAMES])
      assert.equal(m.observations[n]?.kind, 'no-data', n);
    assert.deepEqual(
      Object.values(JSON.parse(failing.outputs['drift']) as object),
      DRIFT_NAMES.map(() => null),
    );
    assert.match(failing.summary, /^### ❌ fashion v6 · no data for 4 rules over the last 5s$/m);
    const warned = await action('6', { 'no-data': 'warn' });
    assert.equal(warned.failed, false);
    assert.equal(warned.outputs['healthy'], 'false');
    assert.match(warned.commands + warned.log, /warning.*no data/);
    const passed = await cli(cliArgs('6', ['--no-data', 'pass']));
    assert.equal(passed.code, 0);
    assert.match(passed.stdout, /^healthy=true$/m);
    const failed = await cli(cliArgs('6'));
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /no data for p95_latency_ms, error_rate/);
  });

  it('has no data, not zero, when traffic stops on a running server (v7), and for a version never served (v9)', async () => {
    await sleep(Math.max(0, stoppedB + (W + 2) * 1000 - Date.now()));
    const idle = await action('7', { 'no-data': 'warn' });
    assert.equal(idle.failed, false);
    assert.equal(idle.outputs['healthy'], 'false');
    const m = (await reportOf(idle)).measurement;
    assert.equal(valueOf(m, 'requests_per_second'), 0, 'the series exist and nothing came in');
    for (const n of ['p50_latency_ms', 'p95_latency_ms', 'p99_latency_ms', 'error_rate', 'availability'])
      assert.equal(m.observations[n]?.kind, 'no-data', n);
    assert.match(JSON.stringify(m.observations['prediction_psi']), /at least 150 are needed/);
    assert.match(idle.summary, /^### ⚠️ fashion v7 · no data for 4 rules over the last 5s$/m);
    const never = await cli(cliArgs('9'));
    assert.equal(never.code, 1);
    assert.match(never.stderr, /no data for p95_latency_ms, error_rate, prediction_psi, input_psi: no series for fashion v9/);
  });
});

/**
 * Feedback against the real thing: a model trained here on the demo's Fashion-MNIST sample, served
 * by a real `modelship serve` process (the CLI) as two versions, predictions of test-split images,
 * and feedback sent to `:feedback` by request id: the true labels for version 1, and for version 2
 * injected wrong labels (always a class the version did not predict). Debian's real Prometheus
 * scrapes the server; the counters it stores are the server's, and monitor-check (run as the
 * Actions runner runs it) judges live_accuracy from them: version 1 healthy, version 2 a breach that
 * dispatches retraining to the GitHub stand-in, with the rule and the numbers; too little feedback
 * is no data that says how much there was.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readStore } from '../../shared/feedback/index.ts';
import type { MonitorReport } from '../../shared/monitor/index.ts';
import { monitorCheckStep } from '../../shared/steps/index.ts';
import { GitHubStandin } from '../github-standin/server.ts';
import { runAsRunner } from '../helpers/runner.ts';
import { freePort } from '../registry/helpers.ts';
import { startServeProcess, trainTinyModel, type ServeProcess, type TinyModel } from './live.ts';
import { startPrometheus, type RunningPrometheus } from './prometheus.ts';

const REPO = 'acme/shop';
const RETRAIN_INPUTS = { reason: {}, rule: {}, value: {}, limit: {}, window: {}, model: {}, version: {} };
/** Labelled predictions per version. */
const N = 120;

describe('feedback counters in a real Prometheus, and monitor-check on live accuracy', () => {
  let root = '';
  let model: TinyModel;
  let prom: RunningPrometheus | undefined;
  let server: ServeProcess | undefined;
  const gh = new GitHubStandin();
  /** Per version: [correct, wrong] as the feedback sent them. */
  const sent: Record<string, [number, number]> = { '1': [0, 0], '2': [0, 0] };

  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'modelship-feedback-live-'));
    await gh.start();
    gh.addWorkflow(REPO, 'retrain.yml', { inputs: RETRAIN_INPUTS, refs: ['main'] });
    const port = await freePort();
    const [p, m] = await Promise.allSettled([startPrometheus([`http://127.0.0.1:${port}`]), trainTinyModel(root)]);
    if (p.status === 'fulfilled') prom = p.value;
    if (p.status === 'rejected') throw p.reason;
    if (m.status === 'rejected') throw m.reason;
    const prometheus = p.value;
    model = m.value;
    const config = path.join(root, 'serve.yml');
    await writeFile(
      config,
      'version: 1\nname: fashion\nserve:\n  models:\n    - name: fashion\n      versions: [{ source: ./model, version: 1 }, { source: ./model, version: 2 }]\n',
    );
    server = await startServeProcess(['--config', config, '--port', String(port), '--feedback-dir', 'feedback'], { cwd: root });
    // The counters start at 0 when a version loads; Prometheus must have seen them at 0 first.
    await prometheus.waitForScrapes(2);

    const per = 28 * 28;
    const image = (i: number): number[][][] =>
      Array.from({ length: 28 }, (_, r) => Array.from({ length: 28 }, (_, c) => [Number(model.test.x[i * per + r * 28 + c])]));
    const one = async (version: '1' | '2', i: number): Promise<void> => {
      const url = `${server!.url}/v1/models/fashion/versions/${version}`;
      const res = await fetch(`${url}:predict`, { method: 'POST', body: JSON.stringify({ instances: [image(i)] }) });
      const body = (await res.json()) as { predictions: number[][] };
      assert.equal(res.status, 200);
      const id = res.headers.get('x-request-id')!;
      const row = body.predictions[0];
      const predicted = row.indexOf(Math.max(...row));
      const truth = Number(model.test.y[i]);
      // Version 2 gets injected wrong feedback: a class it did not predict.
      const label = version === '1' ? truth : (predicted + 1 + (i % 9)) % 10;
      const f = await fetch(`${url}:feedback`, { method: 'POST', body: JSON.stringify({ id, label: model.classes[label] }) });
      assert.equal(f.status, 200, await f.text());
      sent[version][label === predicted ? 0 : 1]++;
    };
    for (let i = 0; i < N; i += 8) {
      await Promise.all(Array.from({ length: Math.min(8, N - i) }, (_, k) => Promise.all([one('1', i + k), one('2', i + k)])));
    }
    await prometheus.waitFor(
      'sum by (version) (modelship_feedback_correct_total{model="fashion"} + modelship_feedback_wrong_total{model="fashion"})',
      (r) => r.length === 2 && r.every((x) => Number(x.value[1]) === N),
    );
  });

  after(async () => {
    await server?.stop();
    await prom?.stop();
    await gh.stop();
    if (root) await rm(root, { recursive: true, force: true });
  });

  const check = async (version: string, extra: Record<string, string> = {}) =>
    runAsRunner(
      monitorCheckStep,
      {
        prometheus: prom!.url,
        name: 'fashion',
        version,
        window: '2m',
        slos: 'live_accuracy >= 0.5',
        'on-breach': 'dispatch',
        'retrain-workflow': 'retrain.yml',
        'retrain-ref': 'main',
        'github-token': 'ghs_write',
        ...extra,
      },
      // A folder per check: each writes its own report.json.
      { cwd: await mkdtemp(path.join(root, 'check-')), env: { GITHUB_REPOSITORY: REPO, GITHUB_API_URL: gh.url } },
    );

  it("Prometheus stores the server's counters: correct, wrong and the confusion by class, per version", async () => {
    for (const v of ['1', '2']) {
      const [correct] = await prom!.query(`modelship_feedback_correct_total{model="fashion",version="${v}"}`);
      const [wrong] = await prom!.query(`modelship_feedback_wrong_total{model="fashion",version="${v}"}`);
      assert.deepEqual([Number(correct.value[1]), Number(wrong.value[1])], sent[v], `version ${v}`);
      const confusion = await prom!.query(`sum(modelship_feedback_total{model="fashion",version="${v}"})`);
      assert.equal(Number(confusion[0].value[1]), N);
    }
    assert.ok(sent['1'][0] / N > 0.5, `the model is right on ${sent['1'][0]} of ${N} test images`);
    assert.equal(sent['2'][0], 0);
    const store = await readStore(path.join(root, 'feedback'));
    assert.equal(store.records.length, 2 * N, 'and the store holds every labelled prediction');
  });

  it('judges live accuracy healthy on honest feedback, and dispatches retraining on injected wrong feedback, naming the rule and the numbers', async (t) => {
    const healthy = await check('1');
    assert.equal(healthy.failed, false, healthy.commands);
    assert.equal(healthy.outputs['healthy'], 'true');
    const before = gh.dispatches(REPO).length;
    const r = await check('2');
    assert.equal(r.failed, false, r.commands);
    assert.equal(r.outputs['healthy'], 'false');
    assert.equal(r.outputs['dispatched'], 'true');
    const report = JSON.parse(await readFile(r.outputs['report'], 'utf8')) as MonitorReport;
    const v = report.judgement.breaches[0];
    assert.equal(v.metric, 'live_accuracy');
    assert.equal(v.value, 0);
    const dispatched = gh.dispatches(REPO).slice(before);
    assert.equal(dispatched.length, 1);
    const inputs = dispatched[0].inputs;
    assert.equal(inputs['rule'], 'live_accuracy >= 0.5');
    assert.equal(inputs['limit'], '≥ 0.5');
    assert.equal(inputs['model'], 'fashion');
    assert.equal(inputs['version'], '2');
    // Prometheus's increase() extrapolates to the window's edges: about N, not exactly.
    const m = /^0 \(0 of (\d+) labelled predictions right\)$/.exec(inputs['value']);
    assert.ok(m, inputs['value']);
    assert.ok(Math.abs(Number(m[1]) - N) <= N * 0.25, inputs['value']);
    assert.equal(inputs['reason'], `monitor-check: live_accuracy >= 0.5 breached by fashion v2: ${inputs['value']} over the last 2m`);
    assert.match(r.log, /live_accuracy: 0 \(0 of \d+ labelled predictions right\)/);
    const v1 = JSON.parse(await readFile(healthy.outputs['report'], 'utf8')) as MonitorReport;
    const live = v1.measurement.observations['live_accuracy'] as { value: number };
    assert.ok(Math.abs(live.value - sent['1'][0] / N) < 0.02, `live accuracy ${live.value} against ${sent['1'][0]}/${N} sent`);
    t.diagnostic(`v1 ${JSON.stringify(v1.measurement.observations['live_accuracy'])}; v2 dispatched ${JSON.stringify(inputs)}`);
  });

  it('is no data below feedback-min-count, saying how much feedback there was', async () => {
    const r = await check('1', { 'feedback-min-count': '1000', 'no-data': 'warn' });
    assert.equal(r.failed, false, r.commands);
    const report = JSON.parse(await readFile(r.outputs['report'], 'utf8')) as MonitorReport;
    const o = report.measurement.observations['live_accuracy'];
    assert.equal(o.kind, 'no-data');
    assert.match(
      (o as { reason: string }).reason,
      /^\d+ labelled predictions for fashion v1 in the last 2m, fewer than feedback-min-count 1000$/,
    );
  });
});

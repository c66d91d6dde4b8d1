/**
 * Closing the loop against the GitHub stand-in, which checks the requests as GitHub would: one
 * dispatch on a breach, none while a run is queued or in progress, none within the cool-down (all
 * decided from the Actions API's list of runs), and GitHub's 403 and 422 answers as errors that
 * say what to change. Prometheus is a scripted HTTP server here (the real one is in
 * prometheus.test.ts): what matters is what reaches GitHub.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { githubClient, listWorkflowRuns } from '../../shared/github/index.ts';
import { monitorCheck, type MonitorCheckOptions } from '../../shared/monitor/index.ts';
import { monitorCheckStep } from '../../shared/steps/index.ts';
import { githubRetrainer } from '../../shared/steps/retrain.ts';
import { memoryLogger } from '../../shared/util/log.ts';
import { GitHubStandin } from '../github-standin/server.ts';
import { runAsRunner } from '../helpers/runner.ts';

const REPO = 'acme/shop';
const repository = { owner: 'acme', repo: 'shop' };
const RETRAIN_INPUTS = { reason: {}, rule: {}, value: {}, limit: {}, window: {}, model: {}, version: {} };

/** A Prometheus that answers every SLO query with a fixed value; p95 is what the test sets. */
async function scriptedPrometheus(state: { p95: number }): Promise<{ url: string; stop: () => Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const q = new URLSearchParams(Buffer.concat(chunks).toString()).get('query') ?? '';
      const v = q.includes('histogram_quantile(0.95')
        ? state.p95
        : q.includes('histogram_quantile')
          ? 10
          : q.includes('code!~')
            ? 1
            : q.includes('code=~')
              ? 0
              : 100;
      res.setHeader('content-type', 'application/json');
      const t = Date.now() / 1000;
      res.end(
        JSON.stringify(
          req.url?.endsWith('query_range')
            ? {
                status: 'success',
                data: {
                  resultType: 'matrix',
                  result: [
                    {
                      metric: {},
                      values: [
                        [t - 60, String(v)],
                        [t, String(v)],
                      ],
                    },
                  ],
                },
              }
            : { status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [t, String(v)] }] } },
        ),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('dispatching retraining against the GitHub stand-in', () => {
  const gh = new GitHubStandin();
  const state = { p95: 143 };
  let prom: { url: string; stop: () => Promise<void> };
  let root = '';
  let clock = new Date('2026-03-01T12:00:00Z');
  before(async () => {
    await gh.start();
    gh.runClock = () => clock;
    prom = await scriptedPrometheus(state);
    root = await mkdtemp(path.join(os.tmpdir(), 'modelship-dispatch-'));
  });
  after(async () => {
    await gh.stop();
    await prom.stop();
    await rm(root, { recursive: true, force: true });
  });
  beforeEach(() => {
    state.p95 = 143;
  });

  const options = (extra: Partial<MonitorCheckOptions> = {}): MonitorCheckOptions => ({
    prometheus: prom.url,
    endpoints: [],
    slos: ['p95_latency_ms <= 100'],
    driftLimits: [],
    windowMs: 3_600_000,
    name: 'fashion',
    version: '3',
    noData: 'fail',
    onBreach: 'dispatch',
    retrainWorkflow: 'retrain.yml',
    retrainRef: 'main',
    cooldownMs: 6 * 3_600_000,
    queries: [],
    reportDir: 'report',
    ...extra,
  });
  const check = (extra: Partial<MonitorCheckOptions> = {}, token = 'ghs_write') =>
    monitorCheck(options(extra), {
      retrain: githubRetrainer(githubClient(token, gh.url), repository),
      now: () => clock,
      log: memoryLogger(),
      cwd: root,
    });

  it('dispatches once on a breach, with inputs that say why', async () => {
    gh.addWorkflow(REPO, 'retrain.yml', { inputs: RETRAIN_INPUTS, refs: ['main'] });
    const before = gh.requests.length;
    const r = await check();
    assert.equal(r.failure, undefined, 'a dispatched breach does not fail the step');
    assert.equal(r.report.dispatch.state, 'dispatched');
    assert.deepEqual(gh.dispatches(REPO), [
      {
        workflow: 'retrain.yml',
        ref: 'main',
        inputs: {
          reason: 'monitor-check: p95_latency_ms <= 100 breached by fashion v3: 143 ms over the last 1h',
          rule: 'p95_latency_ms <= 100',
          value: '143 ms',
          limit: '≤ 100',
          window: '1h',
          model: 'fashion',
          version: '3',
        },
      },
    ]);
    const calls = gh.requests.slice(before);
    const lists = calls.filter((c) => c.method === 'GET');
    assert.deepEqual(lists.map((c) => c.query['status'] ?? c.query['created']).sort(), [
      '>=2026-03-01T06:00:00Z',
      'in_progress',
      'pending',
      'queued',
      'requested',
      'waiting',
    ]);
    for (const c of lists) {
      assert.equal(c.path, '/repos/acme/shop/actions/workflows/retrain.yml/runs');
      assert.equal(c.status, 200);
      assert.match(String(c.headers['authorization']), /^token ghs_write$/);
    }
    const post = calls.filter((c) => c.method === 'POST');
    assert.equal(post.length, 1);
    assert.equal(post[0].status, 204);
    assert.deepEqual(
      gh.runs(REPO).map((x) => [x.status, x.event]),
      [['queued', 'workflow_dispatch']],
    );
  });

  it('does not dispatch while that run is queued, or in progress', async () => {
    const r = await check();
    assert.equal(r.report.dispatch.state, 'skipped');
    assert.match(JSON.stringify(r.report.dispatch), /run #1 of the workflow is queued/);
    gh.setRunStatus(REPO, gh.runs(REPO)[0].id, 'in_progress');
    const r2 = await check();
    assert.match(JSON.stringify(r2.report.dispatch), /is in progress/);
    assert.equal(gh.dispatches(REPO).length, 1);
  });

  it('does not dispatch within the cool-down of the last run, and does after it', async () => {
    gh.setRunStatus(REPO, gh.runs(REPO)[0].id, 'completed', 'success');
    clock = new Date('2026-03-01T14:30:00Z');
    const r = await check();
    assert.equal(r.report.dispatch.state, 'skipped');
    assert.match(JSON.stringify(r.report.dispatch), /run #1 started 2h 30m ago, within the cool-down of 6h/);
    assert.equal(gh.dispatches(REPO).length, 1);
    clock = new Date('2026-03-01T18:00:01Z');
    const r2 = await check();
    assert.equal(r2.report.dispatch.state, 'dispatched');
    assert.equal(gh.dispatches(REPO).length, 2);
    gh.setRunStatus(REPO, gh.runs(REPO)[1].id, 'completed', 'failure');
  });

  it('counts runs of that workflow only, whatever started them', async () => {
    clock = new Date('2026-03-02T12:00:00Z');
    gh.addWorkflow(REPO, 'other.yml');
    gh.addRun(REPO, 'other.yml', { status: 'queued' });
    gh.addRun(REPO, 'retrain.yml', { status: 'completed', event: 'schedule', createdAt: '2026-03-02T11:00:00Z' });
    const r = await check();
    assert.match(JSON.stringify(r.report.dispatch), /run #3 started 1h ago/);
  });

  it('makes no GitHub request when the model is healthy', async () => {
    state.p95 = 40;
    const before = gh.requests.length;
    const r = await check();
    assert.equal(r.report.judgement.status, 'healthy');
    assert.equal(r.report.dispatch.state, 'not-needed');
    assert.equal(gh.requests.length, before);
  });

  it('explains a token without actions: write (403)', async () => {
    clock = new Date('2026-03-05T12:00:00Z');
    const r = await check({}, 'ghs_read');
    assert.equal(r.report.dispatch.state, 'failed');
    assert.match(
      r.failure ?? '',
      /retraining could not be dispatched: the token may not start acme\/shop workflow retrain\.yml\. \(Give the job 'permissions: actions: write'\.\)/,
    );
  });

  it('explains a workflow without a workflow_dispatch trigger (422)', async () => {
    gh.addWorkflow(REPO, 'nightly.yml', { dispatch: false });
    const r = await check({ retrainWorkflow: 'nightly.yml' });
    assert.match(
      r.failure ?? '',
      /nightly\.yml has no workflow_dispatch trigger on main\. \(Add 'on: workflow_dispatch:' to nightly\.yml on main\.\)/,
    );
    const last = gh.requests.at(-1)!;
    assert.equal(last.status, 422);
  });

  it('explains inputs the workflow does not declare (422), and retrain-inputs can drop them', async () => {
    gh.addWorkflow(REPO, 'lean.yml', { inputs: { rule: {}, reason: { required: true } } });
    const r = await check({ retrainWorkflow: 'lean.yml' });
    assert.match(
      r.failure ?? '',
      /lean\.yml does not declare the inputs value, limit, window, model, version\. \(Declare them under on\.workflow_dispatch\.inputs in lean\.yml/,
    );
    const missing = await check({
      retrainWorkflow: 'lean.yml',
      retrainInputs: '{"value": null, "limit": null, "window": null, "model": null, "version": null, "reason": null}',
    });
    assert.match(missing.failure ?? '', /requires the input 'reason'/);
    const ok = await check({
      retrainWorkflow: 'lean.yml',
      retrainInputs: '{"value": null, "limit": null, "window": null, "model": null, "version": null, "reason": "latency"}',
    });
    assert.equal(ok.failure, undefined);
    assert.deepEqual(gh.dispatches(REPO).at(-1), {
      workflow: 'lean.yml',
      ref: 'main',
      inputs: { rule: 'p95_latency_ms <= 100', reason: 'latency' },
    });
  });

  it('explains an unknown workflow, and refuses dispatch without a workflow or a token up front', async () => {
    const r = await check({ retrainWorkflow: 'missing.yml' });
    assert.match(r.failure ?? '', /missing\.yml was not found/);
    await assert.rejects(check({ retrainWorkflow: undefined }), /on-breach is 'dispatch' but retrain-workflow is not set/);
    await assert.rejects(
      monitorCheck(options(), { retrain: null, now: () => clock, log: memoryLogger(), cwd: root }),
      /no GitHub token and repository/,
    );
  });

  it('lists runs across pages, newest first, with GitHub date filters', async () => {
    gh.addWorkflow(REPO, 'busy.yml');
    for (let i = 0; i < 130; i++)
      gh.addRun(REPO, 'busy.yml', { createdAt: new Date(Date.parse('2026-01-01T00:00:00Z') + i * 60_000).toISOString() });
    const client = githubClient('ghs_write', gh.url);
    const all = await listWorkflowRuns({ client, repository, workflow: 'busy.yml', status: 'success' });
    assert.equal(all.total, 130);
    assert.equal(all.runs.length, 130);
    assert.equal(all.runs[0].createdAt, '2026-01-01T02:09:00Z');
    const recent = await listWorkflowRuns({ client, repository, workflow: 'busy.yml', created: '>=2026-01-01T02:00:00Z' });
    assert.equal(recent.total, 10);
    const pages = gh.requests.filter((r) => r.path.endsWith('/busy.yml/runs')).map((r) => r.query['page']);
    assert.deepEqual(pages, ['1', '2', '1']);
    const bad = await fetch(`${gh.url}/repos/acme/shop/actions/workflows/busy.yml/runs?status=running`, {
      headers: { 'user-agent': 't', accept: 'application/vnd.github+json', authorization: 'token ghs_write' },
    });
    assert.equal(bad.status, 422);
  });

  it('runs as the action: dispatched=true and the summary says so', async () => {
    const runAction = () =>
      runAsRunner(
        monitorCheckStep,
        {
          prometheus: prom.url,
          name: 'fashion',
          version: '3',
          'on-breach': 'dispatch',
          'retrain-workflow': 'action.yml',
          'retrain-ref': 'main',
          'github-token': 'ghs_write',
        },
        { cwd: root, env: { GITHUB_REPOSITORY: REPO, GITHUB_API_URL: gh.url } },
      );
    clock = new Date();
    gh.runClock = () => new Date();
    gh.addWorkflow(REPO, 'action.yml', { inputs: RETRAIN_INPUTS });
    const r = await runAction();
    assert.equal(r.failed, false, r.commands);
    assert.equal(r.outputs['dispatched'], 'true');
    assert.equal(r.outputs['healthy'], 'false');
    assert.match(r.summary, /\*\*Retraining:\*\* dispatched `action\.yml` on `main` with rule `p95_latency_ms <= 100`, value `143 ms`/);
    const again = await runAction();
    assert.equal(again.outputs['dispatched'], 'false');
    assert.match(again.summary, /not dispatched: run \\#1 of the workflow is queued/);
  });
});

/**
 * The hand-offs between steps and jobs, in workflow order: the example workflows
 * (examples/workflows/*.yml) run as the runner runs them (emulator.ts), on the demo sample, in a
 * repository whose modelship.yml is examples/modelship.yml with its services pointed at stand-ins:
 *
 *  real:        every modelship step (through the Actions door, with INPUT_* and GITHUB_OUTPUT),
 *               the expressions that wire them (`with:`, `needs.*.outputs`, `steps.*.outputs`),
 *               train's composite, the artifacts' digest checks (verify), bash `run:` steps,
 *               the OCI registry (Debian's docker-registry on loopback, for GHCR), the model
 *               server and the traffic-splitting proxy (real processes), `modelship comment`;
 *  stand-ins:   GitHub's REST API (test/github-standin: comments, dispatch, runs), the cluster
 *               (deploy target local, whose state folder `.modelship/deploy` is shared between the
 *               jobs' workspaces as the cluster outlives jobs), Prometheus (monitor-check scrapes
 *               the served version's /metrics through a relay that finds it in that state, as
 *               service discovery would), production traffic (a loop of test-split images
 *               through the proxy), upload/download-artifact (folders copied), checkout, setup-node
 *               and the Actions cache (see emulator.ts);
 *  for time:    an mlp for 1 epoch, 1 s analysis intervals, a 2 s watch window, low thresholds.
 *
 * A broken hand-off (an output renamed, a digest not passed on, an input a step does not declare,
 * an artifact path that differs between upload and download) fails here.
 */
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse, stringify } from 'yaml';
import { openRegistry } from '../../shared/registry/index.ts';
import { stopLocal } from '../../shared/rollout/index.ts';
import { readState } from '../../shared/rollout/local.ts';
import { memoryLogger } from '../../shared/util/index.ts';
import { GitHubStandin } from '../github-standin/server.ts';
import { freePort, startRegistry, type RunningRegistry } from '../registry/helpers.ts';
import { Emulator, type WorkflowRun } from './emulator.ts';

const root = path.resolve(import.meta.dirname, '../..');
const examples = path.join(root, 'examples', 'workflows');
const REPO = 'acme/shop';
const SAME_SHA = '1'.repeat(40);
const FORK_SHA = '2'.repeat(40);

/** Every failed step of a run, with its error and log: the assertion message when a run fails. */
function why(run: WorkflowRun): string {
  return Object.entries(run.jobs)
    .flatMap(([job, j]) =>
      j.steps.filter((s) => s.outcome === 'failure').map((s) => `${job} › ${s.label}: ${s.error ?? ''}\n${s.log.slice(-3000)}`),
    )
    .join('\n\n');
}

function step(run: WorkflowRun, job: string, id: string): { outputs: Record<string, string>; outcome: string; log: string; note?: string } {
  const s = run.jobs[job]?.steps.find((x) => x.id === id);
  assert.ok(s, `no step ${job}.${id}`);
  return s;
}

describe('the example workflows, in workflow order', () => {
  let work = '';
  let repoFiles = '';
  let registry: RunningRegistry;
  let registryUrl = '';
  const gh = new GitHubStandin();
  let emu: Emulator;
  let relay: Server;
  let proxyPort = 0;
  let deployState = '';
  let traffic: Awaited<ReturnType<typeof startTraffic>> | undefined;
  let config: Record<string, unknown> = {};
  const runs: Record<string, WorkflowRun> = {};

  const writeConfig = async (over: (c: Record<string, Record<string, unknown>>) => void = () => undefined): Promise<void> => {
    const c = structuredClone(config) as Record<string, Record<string, unknown>>;
    over(c);
    await writeFile(path.join(repoFiles, 'modelship.yml'), stringify(c));
  };

  before(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'modelship-handoff-'));
    repoFiles = path.join(work, 'repo');
    deployState = path.join(work, 'cluster');
    await cp(path.join(root, 'demo', 'fashion-sample'), path.join(repoFiles, 'data'), { recursive: true });
    registry = await startRegistry();
    registryUrl = `oci://${registry.host}/models`;
    await gh.start();
    gh.addPull(REPO, {
      number: 7,
      state: 'open',
      title: 'more data',
      head: { sha: SAME_SHA, ref: 'more-data', repo: { full_name: REPO } },
      base: { ref: 'main', repo: { full_name: REPO } },
    });
    gh.addPull(REPO, {
      number: 8,
      state: 'open',
      title: 'from a fork',
      head: { sha: FORK_SHA, ref: 'main', repo: { full_name: 'mallory/shop' } },
      base: { ref: 'main', repo: { full_name: REPO } },
    });
    // retrain.yml as GitHub knows it: its workflow_dispatch inputs, so a dispatch it does not declare is a 422.
    const retrain = parse(await readFile(path.join(examples, 'retrain.yml'), 'utf8')) as {
      on: { workflow_dispatch: { inputs: Record<string, unknown> } };
    };
    gh.addWorkflow(REPO, 'retrain.yml', {
      inputs: Object.fromEntries(Object.keys(retrain.on.workflow_dispatch.inputs).map((k) => [k, {}])),
      refs: ['main'],
    });

    // Prometheus's stand-in: /metrics of whatever the local deployment serves as stable now.
    relay = createServer((req, res) => {
      void (async () => {
        const state = await readState(path.join(deployState, 'fashion'));
        const url = state?.stable?.url;
        if (!url || req.url !== '/metrics') {
          res.statusCode = 503;
          res.end('nothing serves');
          return;
        }
        const r = await fetch(`${url}/metrics`);
        res.statusCode = r.status;
        res.setHeader('content-type', r.headers.get('content-type') ?? 'text/plain');
        res.end(await r.text());
      })().catch((err: unknown) => {
        res.statusCode = 502;
        res.end(String(err));
      });
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const relayUrl = `http://127.0.0.1:${(relay.address() as AddressInfo).port}`;
    proxyPort = await freePort();

    // examples/modelship.yml, with its services pointed at the stand-ins and small numbers for time.
    config = parse(await readFile(path.join(root, 'examples', 'modelship.yml'), 'utf8')) as Record<string, unknown>;
    const c = config as Record<string, Record<string, unknown>>;
    // The demo sample is IDX (28×28 already), so image-size, for image folders, goes.
    c['data'] = { source: 'data', split: c['data']['split'] };
    c['train'] = { ...c['train'], architecture: 'mlp', epochs: 1 };
    c['gate'] = { ...c['gate'], registry: registryUrl, thresholds: ['accuracy >= 0.5'], 'max-regression': ['accuracy: 5pp'] };
    c['registry'] = { url: registryUrl };
    const { kubernetes: _k, prometheus: _p, ...deploy } = c['deploy'];
    c['deploy'] = {
      ...deploy,
      registry: registryUrl,
      target: 'local',
      local: { port: proxyPort },
      'analysis-interval': '1s',
      analysis: ['error_rate <= 0.05', 'p95_latency_ms <= 2000'],
      'no-data': 'warn',
    };
    const { prometheus: _m, ...monitor } = c['monitor'];
    c['monitor'] = {
      ...monitor,
      endpoint: [relayUrl],
      window: '2s',
      slos: ['error_rate <= 0.05'],
      'drift-limits': ['input_psi <= 1'],
      'drift-min-count': 5,
      'no-data': 'warn',
    };
    await writeConfig();

    emu = new Emulator({
      root,
      modelshipRepo: 'acme/modelship',
      repository: REPO,
      repoFiles,
      work,
      apiUrl: gh.url,
      token: 'ghs_write',
      shared: { '.modelship/deploy': deployState },
    });
  });

  after(async () => {
    await traffic?.stop();
    // The servers the local target started: `modelship deploy stop`, from any job's workspace.
    const ws = Object.values(runs)
      .flatMap((r) => Object.values(r.jobs).map((j) => j.workspace))
      .find((w) => w !== undefined);
    if (ws) await stopLocal(ws, 'fashion', memoryLogger());
    await new Promise<void>((resolve) => relay.close(() => resolve()));
    await gh.stop();
    await registry.stop();
    await rm(work, { recursive: true, force: true });
  });

  const pr = (number: number, sha: string, fork: boolean) => ({
    name: 'pull_request',
    ref: `refs/pull/${number}/merge`,
    sha,
    payload: {
      number,
      pull_request: {
        number,
        head: { sha, ref: fork ? 'main' : 'more-data', repo: { full_name: fork ? 'mallory/shop' : REPO } },
        base: { ref: 'main', repo: { full_name: REPO } },
      },
    },
  });

  it('PR gate: data → train → gate hand the data set and model on as verified artifacts; the comment is upserted', async () => {
    const run = await emu.runWorkflow(path.join(examples, 'pr-gate.yml'), pr(7, SAME_SHA, false));
    runs['pr'] = run;
    assert.equal(run.conclusion, 'success', why(run));
    assert.deepEqual([...run.artifacts.keys()].sort(), ['dataset', 'model', 'modelship-report']);
    // The digests travel as job outputs and are checked after each download.
    const manifestDigest = run.jobs['data'].outputs['manifest-digest'];
    assert.match(manifestDigest, /^sha256:[0-9a-f]{64}$/);
    assert.equal(step(run, 'train', 'dataset').outputs['digest'], manifestDigest);
    assert.equal(step(run, 'gate', 'model').outputs['digest'], run.jobs['train'].outputs['model-digest']);
    // train's composite mapped the inner step's outputs; the gate scored the very model train wrote.
    assert.match(step(run, 'train', 'train').note ?? '', /composite/);
    const report = JSON.parse(await readFile(path.join(run.artifacts.get('modelship-report')!, 'report.json'), 'utf8')) as {
      candidate: { digest: string };
      passed: boolean;
    };
    assert.equal(report.candidate.digest, run.jobs['train'].outputs['model-digest']);
    assert.equal(run.jobs['gate'].outputs['passed'], 'true');
    // Hidden files (setup-data's state) stayed behind.
    assert.equal((await readFile(path.join(run.artifacts.get('dataset')!, 'manifest.json'), 'utf8')).length > 0, true);
    await assert.rejects(readFile(path.join(run.artifacts.get('dataset')!, '.modelship-state.json')));
    const comments = gh.comments(REPO, 7);
    assert.equal(comments.length, 1);
    assert.match(comments[0].body, /^<!-- modelship:evaluate-gate:fashion:pr-gate\.yml -->\n### ✅ fashion/);
  });

  it('the one-line PR loop: the root action.yml composite chains setup-data → train → evaluate-gate', async () => {
    const file = path.join(work, 'one-line.yml');
    await writeFile(
      file,
      stringify({
        name: 'model',
        on: 'pull_request',
        permissions: { contents: 'read', 'pull-requests': 'write' },
        jobs: {
          gate: {
            'runs-on': 'ubuntu-latest',
            steps: [
              { uses: 'actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683' },
              {
                id: 'loop',
                uses: 'acme/modelship@0000000000000000000000000000000000000000',
                with: { thresholds: 'accuracy >= 0.5', comment: 'false', baseline: 'none' },
              },
            ],
            outputs: { passed: '${{ steps.loop.outputs.passed }}', model: '${{ steps.loop.outputs.model-dir }}' },
          },
        },
      }),
    );
    const run = await emu.runWorkflow(file, pr(7, SAME_SHA, false));
    assert.equal(run.conclusion, 'success', why(run));
    assert.equal(run.jobs['gate'].outputs['passed'], 'true');
    assert.equal(run.jobs['gate'].outputs['model'], path.join(run.jobs['gate'].workspace!, '.modelship', 'model'));
    assert.match(step(run, 'gate', 'loop').note ?? '', /composite/);
  });

  it('a changed or partial artifact fails the job that downloads it, naming the artifact', async () => {
    const earlier = runs['pr'];
    const tampered = await emu.runWorkflow(path.join(examples, 'pr-gate.yml'), pr(7, SAME_SHA, false), {
      only: ['gate'],
      reuse: earlier,
      beforeJobs: async (artifacts) => {
        const weights = path.join(artifacts.get('model')!, 'weights.bin');
        const bytes = await readFile(weights);
        bytes[0] ^= 0xff;
        await writeFile(weights, bytes);
      },
    });
    assert.equal(tampered.jobs['gate'].result, 'failure');
    const failed = tampered.jobs['gate'].steps.find((s) => s.outcome === 'failure')!;
    assert.equal(failed.id, 'model');
    assert.match(
      failed.error ?? '',
      /verify failed: artifact 'model' \(\.modelship\/model\) does not match its digest: its files \(model\.json, modelship\.json, weights\.bin\) hash to sha256:[0-9a-f]{64}, expected sha256:/,
    );
    assert.equal(step(tampered, 'gate', 'gate').outcome, 'skipped', 'nothing read the changed model');

    const partial = await emu.runWorkflow(path.join(examples, 'pr-gate.yml'), pr(7, SAME_SHA, false), {
      only: ['gate'],
      reuse: earlier,
      beforeJobs: async (artifacts) => rm(path.join(artifacts.get('dataset')!, 'test.y.bin')),
    });
    const first = partial.jobs['gate'].steps.find((s) => s.outcome === 'failure')!;
    assert.equal(first.id, 'dataset');
    assert.match(first.error ?? '', /verify failed: artifact 'dataset' \(\.modelship\/data\) is damaged or incomplete: .*test\.y\.bin/);
  });

  it('fork PR: the gate cannot comment with a read-only token; pr-comment.yml posts the report from the artifact', async () => {
    const fork = await emu.runWorkflow(path.join(examples, 'pr-gate.yml'), pr(8, FORK_SHA, true), { token: 'ghs_read' });
    runs['fork'] = fork;
    assert.equal(fork.conclusion, 'success', why(fork));
    assert.equal(gh.comments(REPO, 8).length, 0);
    assert.match(step(fork, 'gate', 'gate').log, /fork/i);
    const comment = await emu.runWorkflow(path.join(examples, 'pr-comment.yml'), {
      name: 'workflow_run',
      payload: {
        action: 'completed',
        workflow_run: {
          id: fork.id,
          event: 'pull_request',
          conclusion: 'success',
          path: '.github/workflows/pr-gate.yml',
          head_sha: FORK_SHA,
          head_repository: { full_name: 'mallory/shop' },
          pull_requests: [],
        },
      },
    });
    assert.equal(comment.conclusion, 'success', why(comment));
    const posted = gh.comments(REPO, 8);
    assert.equal(posted.length, 1);
    assert.match(posted[0].body, /^<!-- modelship:evaluate-gate:fashion:pr-gate\.yml -->\n### ✅ fashion/);
  });

  it('deploy: … register → canary → watch → promote; production moves to the new version', async () => {
    traffic = await startTraffic(proxyPort, path.join(runs['pr'].artifacts.get('dataset')!, 'test.x.bin'));
    const run = await emu.runWorkflow(
      path.join(examples, 'deploy.yml'),
      { name: 'push', ref: 'refs/heads/main', sha: SAME_SHA },
      { env: { WATCH_WINDOW: '2s' } },
    );
    runs['deploy'] = run;
    assert.equal(run.conclusion, 'success', why(run));
    assert.equal(run.jobs['register'].outputs['version'], '1');
    assert.match(run.jobs['register'].outputs['ref'], /fashion:1@sha256:[0-9a-f]{64}$/);
    assert.equal(step(run, 'deploy', 'canary').outputs['status'], 'promoted');
    assert.equal(step(run, 'deploy', 'watch').outputs['healthy'], 'true');
    assert.equal(step(run, 'deploy', 'promote').outputs['status'], 'unchanged');
    const reg = await openRegistry(registryUrl, { log: memoryLogger(), cwd: work });
    assert.equal((await reg.resolve('fashion@production')).version, 1);
    assert.equal((await reg.resolve('fashion@staging')).version, 1);
  });

  it('monitor: a breach dispatches retrain.yml with inputs it declares, a reason among them', async () => {
    // A commit that tightens the SLO beyond what the served version can meet.
    await writeConfig((c) => {
      c['monitor'] = { ...c['monitor'], slos: ['requests_per_second >= 100000'] };
    });
    const run = await emu.runWorkflow(path.join(examples, 'monitor.yml'), {
      name: 'schedule',
      ref: 'refs/heads/main',
      payload: { schedule: '17 * * * *' },
    });
    await writeConfig();
    assert.equal(run.conclusion, 'success', why(run));
    assert.equal(step(run, 'check', 'monitor').outputs['dispatched'], 'true');
    const d = gh.dispatches(REPO);
    assert.equal(d.length, 1);
    assert.equal(d[0].workflow, 'retrain.yml');
    assert.equal(d[0].ref, 'main');
    assert.match(
      d[0].inputs['reason'],
      /^monitor-check: requests_per_second >= 100000 breached by fashion \(all versions\): .* over the last 2s$/,
    );
  });

  it('retrain: the dispatched inputs reach the run summary; data → … → canary 10/50/100 → promote to a new version', async (t) => {
    const inputs = gh.dispatches(REPO)[0].inputs;
    const before = traffic!.counts();
    const run = await emu.runWorkflow(
      path.join(examples, 'retrain.yml'),
      { name: 'workflow_dispatch', ref: 'refs/heads/main', inputs },
      { env: { WATCH_WINDOW: '2s' } },
    );
    runs['retrain'] = run;
    assert.equal(run.conclusion, 'success', why(run));
    assert.ok(run.jobs['data'].summary.startsWith(`### Retraining\n\n${inputs['reason']}\n`), run.jobs['data'].summary);
    assert.equal(run.jobs['register'].outputs['version'], '2');
    // init-from defaults to production: the new version is fine-tuned from v1.
    assert.match(step(run, 'train', 'train').log, /fine-tuning from fashion:1 /);
    const canary = step(run, 'deploy', 'canary');
    assert.equal(canary.outputs['status'], 'promoted');
    assert.match(canary.outputs['previous'], /fashion:1@sha256:/);
    assert.match(run.jobs['deploy'].summary, /10 ?%[\s\S]*50 ?%[\s\S]*100 ?%/);
    const reg = await openRegistry(registryUrl, { log: memoryLogger(), cwd: work });
    assert.equal((await reg.resolve('fashion@production')).version, 2);
    const served = await traffic!.stop();
    traffic = undefined;
    assert.ok(served.ok > before.ok, 'the traffic reached the served versions');
    t.diagnostic(
      `traffic through the proxy during retrain.yml (canary 10/50/100, promotion): ${served.ok - before.ok} answered, ${served.failed - before.failed} failed`,
    );
  });
});

/** Production traffic's stand-in: test-split images through the proxy, one request at a time, ~20/s. */
async function startTraffic(
  port: number,
  images: string,
): Promise<{ counts: () => { ok: number; failed: number }; stop: () => Promise<{ ok: number; failed: number }> }> {
  const x = await readFile(images);
  const n = Math.floor(x.length / 784);
  let stopped = false;
  let ok = 0;
  let failed = 0;
  let i = 0;
  const loop = (async () => {
    while (!stopped) {
      const img = Array.from(x.subarray((i % n) * 784, (i % n) * 784 + 784));
      i++;
      try {
        const r = await fetch(`http://127.0.0.1:${port}/v2/models/fashion/infer`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ inputs: [{ name: 'input', shape: [1, 28, 28, 1], datatype: 'UINT8', data: img }] }),
          signal: AbortSignal.timeout(5000),
        });
        await r.arrayBuffer();
        if (r.ok) ok++;
        else failed++;
      } catch {
        // Nothing listens before the first deploy.
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  return {
    counts: () => ({ ok, failed }),
    async stop() {
      stopped = true;
      await loop;
      return { ok, failed };
    },
  };
}

/**
 * `modelship pipeline` end to end on the shipped Fashion-MNIST sample, with real processes (the
 * local servers and proxy): the whole loop, the run cache on an unchanged re-run, a changed
 * parameter re-running training and what follows it (a canary against production), and part of
 * the loop with --until and --from.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { main } from '../../shared/cli/main.ts';
import { stopLocal } from '../../shared/rollout/index.ts';
import { silentLogger } from '../../shared/util/index.ts';
import { pipelineTable } from '../helpers/cli.ts';

const repo = path.resolve(import.meta.dirname, '../..');
let cwd: string;

async function pipeline(...argv: string[]): Promise<{ code: number; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let e = '';
  stderr.on('data', (c: Buffer) => (e += c.toString()));
  stdout.resume();
  const code = await main(['pipeline', '--config', 'modelship.yml', ...argv], {
    stdout,
    stderr,
    env: process.env,
    cwd,
    services: { interrupt: () => new AbortController().signal },
  });
  return { code, err: e };
}

const table = pipelineTable;

before(async () => {
  cwd = await mkdtemp(path.join(os.tmpdir(), 'modelship-pipeline-'));
  const demo = await readFile(path.join(repo, 'demo', 'modelship.yml'), 'utf8');
  await writeFile(
    path.join(cwd, 'modelship.yml'),
    demo
      .replace('source: demo/fashion-sample', `source: ${path.join(repo, 'demo', 'fashion-sample')}`)
      .replace('epochs: 3', 'epochs: 1')
      .replace('analysis-interval: 2s', 'analysis-interval: 1s')
      .replace('window: 3s', 'window: 2s')
      // One epoch: the gate is about the hand-offs here, not the model's quality.
      .replace('accuracy >= 0.70', 'accuracy >= 0.4')
      .replace('"accuracy: 2pp"', '"accuracy: 30pp"')
      .replace('drift-min-count: 50', 'drift-min-count: 50\n  drift-limits: [prediction_psi <= 5, input_psi <= 5]'),
  );
});

after(async () => {
  await stopLocal(cwd, 'fashion', silentLogger);
  await rm(cwd, { recursive: true, force: true });
});

describe('modelship pipeline (the whole loop on the demo sample, real local servers)', () => {
  it('runs every step, registers staging, deploys it, moves production, monitors, and stops the servers', async () => {
    const r = await pipeline();
    assert.equal(r.code, 0, r.err.slice(-3000));
    const t = table(r.err);
    assert.deepEqual(Object.keys(t), ['setup-data', 'train', 'evaluate-gate', 'register', 'deploy-rollout', 'monitor-check']);
    assert.match(t['evaluate-gate'], /passed vs thresholds only \(first model\)/);
    assert.match(t['register'], /fashion:1 \(staging\)/);
    assert.match(t['deploy-rollout'], /^promoted/);
    assert.equal(t['monitor-check'], 'healthy');
    assert.match(r.err, /fashion@production: \(new\) → v1/);
    assert.match(r.err, /^ {2}endpoint {2}http:\/\/127\.0\.0\.1:\d+$/m);
    assert.match(r.err, /replayed \d+ requests of the test split through the proxy: \d+ answered, 0 failed/);
    assert.equal(
      await stat(path.join(cwd, '.modelship', 'deploy', 'fashion', 'state.json')).catch(() => undefined),
      undefined,
      'servers stopped',
    );
  });

  it('modelship serve --model fashion@production serves the version the loop promoted', async (t) => {
    const child = spawn(
      process.execPath,
      [path.join(repo, 'shared', 'cli', 'main.ts'), 'serve', '--model', 'fashion@production', '--port', '0'],
      {
        cwd,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    t.after(() => {
      child.kill('SIGKILL');
    });
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not ready in 60 s:\n${err}`)), 60_000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /modelship serve ready url=(\S+) models=(\S+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          assert.equal(m[2], 'fashion:1(production)');
          resolve(m[1]);
        }
      });
      child.once('exit', (code) => reject(new Error(`serve exited (${code}):\n${err}`)));
    });
    const status = (await (await fetch(`${url}/v1/models/fashion`)).json()) as {
      model_version_status: { version: string; state: string }[];
    };
    assert.deepEqual(
      status.model_version_status.map((v) => [v.version, v.state]),
      [['1', 'AVAILABLE']],
    );
    const image = gunzipSync(await readFile(path.join(repo, 'demo', 'fashion-sample', 't10k-images-idx3-ubyte.gz'))).subarray(16, 16 + 784);
    const instance = Array.from({ length: 28 }, (_, r) => Array.from({ length: 28 }, (_, c) => [image[r * 28 + c]]));
    const res = await fetch(`${url}/v1/models/fashion/labels/production:predict`, {
      method: 'POST',
      body: JSON.stringify({ instances: [instance] }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    const { predictions } = (await res.json()) as { predictions: number[][] };
    assert.equal(predictions[0].length, 10);
    assert.ok(Math.abs(predictions[0].reduce((a, b) => a + b, 0) - 1) < 1e-4);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  });

  it('an unchanged re-run reuses training, skips the gate and the registration, and serves the same version', async () => {
    const r = await pipeline();
    assert.equal(r.code, 0, r.err.slice(-3000));
    const t = table(r.err);
    assert.match(t['setup-data'], /unchanged source/);
    assert.match(t['train'], /\(reused\)$/);
    assert.match(r.err, /modelship train: reused the run of .* \(same data, parameters, code and configuration\)/);
    assert.match(t['evaluate-gate'], /skipped: the candidate is production \(v1\)/);
    assert.match(t['register'], /fashion:1 \(staging\), already registered/);
    assert.equal(t['monitor-check'], 'healthy');
  });

  it('a changed parameter re-runs training and what follows: a canary of the new version against production', async () => {
    const r = await pipeline('--learning-rate', '0.002');
    assert.equal(r.code, 0, r.err.slice(-3000));
    const t = table(r.err);
    assert.match(t['setup-data'], /unchanged source/, 'nothing before training runs again');
    assert.doesNotMatch(t['train'], /reused/);
    assert.match(t['evaluate-gate'], /vs production v1/);
    assert.match(t['register'], /fashion:2 \(staging\)$/);
    assert.match(r.err, /canary of .*fashion:2@sha256:[0-9a-f]+ .*steps 50, 100%/);
    assert.match(r.err, /fashion@production: v1 → v2/);
    assert.match(t['deploy-rollout'], /^promoted; \d+ replayed requests answered, 0 failed$/);
  });

  it('--until and --from run part of the loop, with the earlier outputs of the last run', async () => {
    const until = await pipeline('--until', 'train');
    assert.equal(until.code, 0, until.err.slice(-2000));
    assert.deepEqual(Object.keys(table(until.err)), ['setup-data', 'train']);
    const from = await pipeline('--from', 'evaluate-gate', '--until', 'register');
    assert.equal(from.code, 0, from.err.slice(-2000));
    assert.deepEqual(Object.keys(table(from.err)), ['evaluate-gate', 'register']);
    const bad = await pipeline('--from', 'deploy', '--until', 'train');
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--until train comes before --from deploy/);
  });
});

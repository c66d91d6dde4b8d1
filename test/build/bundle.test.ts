/**
 * The built bundle, run as the Actions runner runs it: `node actions/<name>/index.js` with INPUT_*
 * variables, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files. Builds into a temporary folder so the
 * test always checks the current source. Proves the ESM bundle trains on wasm (not a silent CPU
 * fallback: __dirname, setWasmPaths and the .wasm files beside the bundle).
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

const root = path.resolve(import.meta.dirname, '../..');
const work = mkdtempSync(path.join(tmpdir(), 'modelship-bundle-'));

function runAction(
  name: string,
  inputs: Record<string, string>,
): { status: number | null; outputs: Record<string, string>; summary: string; stdout: string } {
  const outFile = path.join(work, `${name}.out`);
  const summaryFile = path.join(work, `${name}.md`);
  writeFileSync(outFile, '');
  writeFileSync(summaryFile, '');
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '',
    HOME: process.env['HOME'] ?? work,
    GITHUB_OUTPUT: outFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    RUNNER_TEMP: work,
  };
  for (const [k, v] of Object.entries(inputs)) env[`INPUT_${k.toUpperCase()}`] = v;
  const r = spawnSync(process.execPath, [path.join(work, 'actions', name, 'index.js')], {
    cwd: work,
    env,
    encoding: 'utf8',
    timeout: 600_000,
  });
  return {
    status: r.status,
    outputs: parseOutputs(readFileSync(outFile, 'utf8')),
    summary: readFileSync(summaryFile, 'utf8'),
    stdout: `${r.stdout}${r.stderr}`,
  };
}

/** Reads the runner's heredoc format: name<<delimiter / value / delimiter. */
function parseOutputs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<]+)<<(.+)$/.exec(lines[i]);
    if (!m) continue;
    const value: string[] = [];
    for (i++; i < lines.length && lines[i] !== m[2]; i++) value.push(lines[i]);
    out[m[1]] = value.join('\n');
  }
  return out;
}

describe('the built bundle', () => {
  before(() => {
    execFileSync(process.execPath, [path.join(root, 'scripts', 'build.ts'), '--out', path.join(work, 'dist')], {
      cwd: root,
      stdio: 'pipe',
    });
    cpSync(path.join(root, 'actions'), path.join(work, 'actions'), { recursive: true });
    cpSync(path.join(root, 'demo', 'fashion-sample'), path.join(work, 'sample'), { recursive: true });
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it('carries the wasm binaries next to the bundle', () => {
    const wasm = readdirSync(path.join(work, 'dist')).filter((f) => f.endsWith('.wasm'));
    assert.deepEqual(wasm.sort(), ['tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm', 'tfjs-backend-wasm.wasm']);
    assert.ok(existsSync(path.join(work, 'dist', 'modelship.js')));
  });

  it('runs setup-data and train on wasm, as the runner runs actions', () => {
    const data = runAction('setup-data', { source: 'sample', 'output-dir': 'data', cache: 'false' });
    assert.equal(data.status, 0, data.stdout);
    assert.match(data.outputs['digest'] ?? '', /^sha256:[0-9a-f]{64}$/);
    const train = runAction('train', { dataset: data.outputs['dataset-dir'], backend: 'wasm', epochs: '1', 'output-dir': 'model' });
    assert.equal(train.status, 0, train.stdout);
    assert.equal(train.outputs['backend'], 'wasm');
    assert.match(train.stdout, /backend wasm/);
    assert.ok(existsSync(path.join(work, 'model', 'model.json')));
  });

  it('is the CLI when run directly, and a step it runs starts its servers from it (deploy-rollout, local target)', async () => {
    const cli = (...args: string[]): ReturnType<typeof spawnSync> =>
      spawnSync(process.execPath, [path.join(work, 'dist', 'modelship.js'), ...args], { cwd: work, encoding: 'utf8', timeout: 60_000 });
    const help = cli('--help');
    assert.equal(help.status, 0, String(help.stderr));
    assert.match(String(help.stdout), /^Usage: modelship <command>/m);
    const reg = runAction('register', { model: 'model', name: 'fashion', registry: 'reg' });
    assert.equal(reg.status, 0, reg.stdout);
    // The bundle's stubs and its servers live outside any checkout: the servers run `node dist/modelship.js serve`.
    const deploy = runAction('deploy-rollout', {
      ref: 'fashion:1',
      registry: 'reg',
      target: 'local',
      strategy: 'rolling',
      name: 'bundled',
      'analysis-interval': '1s',
      timeout: '2m',
    });
    try {
      assert.equal(deploy.status, 0, deploy.stdout);
      assert.equal(deploy.outputs['status'], 'promoted', deploy.stdout);
      const url = deploy.outputs['url'] ?? '';
      const res = await fetch(`${url.replace(/\/$/, '')}/v1/models/fashion`);
      assert.equal(res.status, 200, await res.text());
      const status = cli('deploy', 'status', '--name', 'bundled');
      assert.equal(status.status, 0, String(status.stderr));
      assert.match(String(status.stdout), /fashion:1/);
    } finally {
      const stop = cli('deploy', 'stop', '--name', 'bundled');
      assert.equal(stop.status, 0, String(stop.stderr));
    }
  });

  it('fails a step with "<step> failed: <message>" and a non-zero exit', () => {
    const r = runAction('train', { dataset: 'does-not-exist' });
    assert.notEqual(r.status, 0);
    assert.match(
      r.stdout,
      /::error::train failed: dataset '[^']*does-not-exist' does not exist.%0A {2}Pass the dataset-dir or manifest output of setup-data as dataset./,
    );
  });
});

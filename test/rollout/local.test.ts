/**
 * deploy-rollout with target local, end to end with real processes: `modelship serve` servers
 * pulled from a local registry, the traffic-splitting proxy in front, the analysis from the
 * servers' own /metrics, a load generator sending steady traffic through the proxy. Every
 * process started is stopped in `after`.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { registerModel } from '../../shared/registry/index.ts';
import { readState, stopLocal, type LocalState } from '../../shared/rollout/local.ts';
import { memoryLogger, silentLogger } from '../../shared/util/index.ts';
import { makeModelDir, variantOf } from '../registry/helpers.ts';
import { noInterrupt, runCli } from '../helpers/cli.ts';

const repo = path.resolve(import.meta.dirname, '../..');
const NODE = process.execPath;
let cwd: string;
const dir = (): string => path.join(cwd, '.modelship', 'deploy', 'fashion');
const refs: Record<number, string> = {};

async function cli(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; out: Record<string, string>; err: string }> {
  const r = await runCli(argv, { env: { ...process.env, ...env }, cwd, services: noInterrupt });
  return { code: r.code, out: r.outputs, err: r.err };
}

const deploy = (ref: string, ...extra: string[]): Promise<{ code: number; out: Record<string, string>; err: string }> =>
  cli(['deploy-rollout', '--target', 'local', '--ref', ref, '--registry', '.modelship/registry', ...extra], {
    MODELSHIP_ALLOW_FAULT_INJECTION: '1',
  });

/** Steady traffic through the proxy until stopped: counts answers by status and by version. */
function load(url: string): {
  counts: () => Readonly<Record<string, number>>;
  stop: () => Promise<{ ok: number; failed: number; byVersion: Record<string, number>; errors: string[] }>;
} {
  const body = JSON.stringify({ instances: [Array.from({ length: 4 }, () => Array.from({ length: 4 }, () => [128]))] });
  let running = true;
  let ok = 0;
  let failed = 0;
  const byVersion: Record<string, number> = {};
  const errors: string[] = [];
  const worker = async (): Promise<void> => {
    while (running) {
      try {
        const r = await fetch(`${url}/v1/models/fashion:predict`, {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json' },
        });
        await r.text();
        const v = r.headers.get('x-modelship-version') ?? '?';
        byVersion[v] = (byVersion[v] ?? 0) + 1;
        if (r.ok) ok++;
        else {
          failed++;
          errors.push(`HTTP ${r.status}`);
        }
      } catch (err) {
        failed++;
        errors.push(String((err as Error).cause ?? err));
      }
      await new Promise((r) => setTimeout(r, 15));
    }
  };
  const workers = [worker(), worker()];
  return {
    counts: () => byVersion,
    stop: async () => {
      running = false;
      await Promise.all(workers);
      return { ok, failed, byVersion, errors };
    },
  };
}

async function waitFor<T>(what: string, check: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`${what}: not within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const state = async (): Promise<LocalState> => {
  const s = await readState(dir());
  assert.ok(s, 'state.json');
  return s;
};

before(async () => {
  cwd = await mkdtemp(path.join(os.tmpdir(), 'modelship-deploy-local-'));
  const first = await makeModelDir(path.join(cwd, 'm1'), 1);
  const models = [first, await variantOf(first, path.join(cwd, 'm2'), 2), await variantOf(first, path.join(cwd, 'm3'), 3)];
  // A version whose weights are cut short: it registers, but no server can load it.
  const broken = await variantOf(first, path.join(cwd, 'm4'), 4);
  const w = await readFile(path.join(broken, 'weights.bin'));
  await writeFile(path.join(broken, 'weights.bin'), w.subarray(0, 100));
  // Version 5: one of its blobs is made to hang (a test below), so its server starts but is never ready.
  const hanging = await variantOf(first, path.join(cwd, 'm5'), 5);
  for (const m of [...models, broken, hanging]) {
    const r = await registerModel(
      { model: m, name: 'fashion', registry: '.modelship/registry', aliases: [] },
      { log: silentLogger, cwd, now: () => new Date() },
    );
    refs[r.version.version] = r.version.ref;
  }
});

after(async () => {
  await stopLocal(cwd, 'fashion', silentLogger);
  await rm(cwd, { recursive: true, force: true });
});

describe('deploy-rollout --target local (real servers behind the proxy)', () => {
  it('the first version goes out at once; the proxy serves it; promote-alias moves', async () => {
    const r = await deploy('fashion:1', '--promote-alias', 'production');
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out['status'], 'promoted');
    assert.match(r.out['url'] ?? '', /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(r.out['previous'], '');
    const s = await state();
    assert.equal(s.stable?.version.version, 1);
    assert.equal(s.canary, undefined);
    const res = await fetch(`${r.out['url']}/v1/models/fashion`);
    assert.equal(res.status, 200);
    assert.match(r.err, /fashion@production: \(new\) → v1/);
  });

  it('a canary steps through 10, 50, 100 under steady load and promotes, with no request lost', async () => {
    const proxy = (await state()).proxy!.url;
    const traffic = load(proxy);
    const r = await deploy(
      'fashion:2',
      '--steps',
      '10, 50, 100',
      '--analysis',
      'error_rate <= 0.01',
      '--analysis-interval',
      '1s',
      '--promote-alias',
      'production',
    );
    const seen = await traffic.stop();
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out['status'], 'promoted');
    assert.equal(r.out['previous'], refs[1]);
    assert.equal(r.out['url'], proxy, 'the proxy stays where it was');
    assert.deepEqual(seen.errors, [], 'no request failed while weights moved and stable was replaced');
    assert.ok((seen.byVersion['1'] ?? 0) > 0 && (seen.byVersion['2'] ?? 0) > 0, JSON.stringify(seen.byVersion));
    for (const w of ['10%', '50%', '100%']) assert.match(r.err, new RegExp(`healthy at ${w}`));
    assert.match(r.err, /fashion@production: v1 → v2/);
    const s = await state();
    assert.equal(s.stable?.version.version, 2);
    assert.equal(s.canary, undefined);
    const summary = await readFile(path.join(cwd, '.modelship', 'summaries', 'deploy-rollout.md'), 'utf8');
    assert.match(summary, /### ✅ fashion v2 · promoted/);
    assert.match(summary, /\| set-weight \| 50% \|/);
  });

  it('re-deploying the version that serves is unchanged, and says so', async () => {
    const r = await deploy('fashion:2');
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out['status'], 'unchanged');
    assert.match(r.err, /fashion:2 \(sha256:[0-9a-f]{12}…\) already serves/);
  });

  it('a canary made slow through the server’s fault knob breaches the analysis and rolls back; stable holds all traffic', async () => {
    const proxy = (await state()).proxy!.url;
    const traffic = load(proxy);
    const slow = waitFor('the canary', async () => {
      const c = (await readState(dir()))?.canary;
      if (!c?.admin) return undefined;
      const res = await fetch(`${c.admin}/admin/faults`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'fashion', version: '3', latencyMs: 250 }),
      });
      return res.ok ? true : undefined;
    });
    const r = await deploy('fashion:3', '--analysis', 'p95_latency_ms <= 100', '--analysis-interval', '1s');
    await slow;
    const seen = await traffic.stop();
    assert.equal(r.code, 1, 'a rolled-back rollout fails the step');
    assert.equal(r.out['status'], 'rolled-back');
    assert.match(r.err, /the analysis failed 1 time \(failure-limit 0\): p95_latency_ms <= 100: /);
    const s = await state();
    assert.equal(s.stable?.version.version, 2, 'stable is still v2');
    assert.equal(s.canary, undefined, 'the canary is gone');
    assert.deepEqual(seen.errors, [], 'slow answers are answers: none failed');
    const after = await fetch(`${proxy}/v1/models/fashion/versions/2`);
    assert.equal(after.status, 200);
  });

  it('a version whose server cannot load rolls back, with the server’s own reason', async () => {
    const r = await deploy('fashion:4', '--analysis', 'error_rate <= 0.01', '--analysis-interval', '1s');
    assert.equal(r.out['status'], 'rolled-back');
    assert.match(
      r.err,
      /the canary is not ready: the server of fashion:4 is not ready: it exited .* weight file weights\.bin holds 100 bytes/,
    );
    assert.equal((await state()).stable?.version.version, 2);
  });

  it('no data follows no-data: fail rolls back, warn moves on', async () => {
    const failed = await deploy('fashion:3', '--analysis', 'error_rate <= 0.01', '--analysis-interval', '1s', '--no-data', 'fail');
    assert.equal(failed.out['status'], 'rolled-back');
    assert.match(failed.err, /no data/);
    assert.equal((await state()).stable?.version.version, 2);
    const warned = await deploy(
      'fashion:3',
      '--analysis',
      'error_rate <= 0.01',
      '--analysis-interval',
      '1s',
      '--no-data',
      'warn',
      '--steps',
      '50, 100',
    );
    assert.equal(warned.out['status'], 'promoted', warned.err);
    assert.match(warned.err, /no data at 50% \(no-data: warn\)/);
    assert.equal((await state()).stable?.version.version, 3);
  });

  it('metrics that cannot be reached are errors, not failures, until a run of them rolls back', async () => {
    const stable = (await state()).stable?.version.version;
    const closed = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const r = await deploy(
      `fashion:${stable === 2 ? 1 : 2}`,
      '--analysis',
      'error_rate <= 0.01',
      '--analysis-interval',
      '1s',
      '--prometheus',
      `http://127.0.0.1:${closed}`,
    );
    assert.equal(r.out['status'], 'rolled-back', r.err);
    assert.match(r.err, /measurement error 1 of at most 4 in a row/);
    assert.match(r.err, /could not measure 5 times in a row .*127\.0\.0\.1:\d+/);
    assert.equal((await state()).stable?.version.version, stable);
  });

  it('strategy rolling replaces the version that serves in one step under steady load, with no request lost', async () => {
    const before = await state();
    const old = before.stable!.version.version;
    const next = old === 2 ? 1 : 2;
    const traffic = load(before.proxy!.url);
    const r = await deploy(`fashion:${next}`, '--strategy', 'rolling', '--analysis', 'error_rate <= 0.01');
    // Answers from the new version too, before the load stops.
    await waitFor(`answers from v${next}`, () => Promise.resolve(traffic.counts()[String(next)] ? true : undefined));
    const seen = await traffic.stop();
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out['status'], 'promoted');
    assert.equal(r.out['previous'], refs[old]);
    assert.equal(r.out['url'], before.proxy!.url, 'the proxy stays where it was');
    assert.match(r.err, new RegExp(`rolling update of ${refs[next].replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.match(r.err, /fashion:\d+ → 100% of the traffic/);
    assert.doesNotMatch(r.err, /→ (10|50)% of the traffic|analysing/, 'a rolling update has no canary steps or analysis');
    assert.deepEqual(seen.errors, [], 'no request failed while stable was replaced');
    assert.ok((seen.byVersion[String(old)] ?? 0) > 0, JSON.stringify(seen.byVersion));
    const s = await state();
    assert.equal(s.stable?.version.version, next);
    assert.equal(s.canary, undefined);
    assert.notEqual(s.stable?.pid, before.stable!.pid);
    assert.throws(() => process.kill(before.stable!.pid, 0), 'the old stable process has ended');
  });

  it('metrics that go away in the middle of the analysis, after a healthy step, are errors until a run of them rolls back', async () => {
    const stable = (await state()).stable!.version.version;
    const next = stable === 1 ? 3 : 1;
    // A stand-in Prometheus: every query answers 0 (an error rate of zero) while the canary is at
    // 10%; the first query at a higher weight finds it gone (its connection cut, then refused).
    let answered = 0;
    const prom = http.createServer((req, res) => {
      void readState(dir()).then((s) => {
        if ((s?.canary?.weight ?? 0) > 10) {
          req.socket.destroy();
          prom.close();
          prom.closeAllConnections();
          return;
        }
        answered++;
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [Date.now() / 1000, '0'] }] } }),
        );
      });
    });
    await new Promise<void>((r) => prom.listen(0, '127.0.0.1', r));
    const traffic = load((await state()).proxy!.url);
    try {
      const r = await deploy(
        `fashion:${next}`,
        '--steps',
        '10, 50, 100',
        '--analysis',
        'error_rate <= 0.01',
        '--analysis-interval',
        '1s',
        '--prometheus',
        `http://127.0.0.1:${(prom.address() as AddressInfo).port}`,
      );
      const seen = await traffic.stop();
      assert.equal(r.out['status'], 'rolled-back', r.err);
      assert.ok(answered > 0, 'the stand-in answered the measurement at 10%');
      const healthy = r.err.indexOf('healthy at 10%');
      const firstError = r.err.indexOf('measurement error 1 of at most 4 in a row');
      assert.ok(healthy >= 0 && firstError > healthy, `a healthy step, then errors:\n${r.err}`);
      assert.doesNotMatch(r.err, /failed measurement|healthy at 50%/, 'errors are not failures, and do not pass a step');
      assert.match(r.err, /could not measure 5 times in a row .*127\.0\.0\.1:\d+/);
      const s = await state();
      assert.equal(s.stable?.version.version, stable, 'stable is unchanged');
      assert.equal(s.canary, undefined, 'the canary is gone');
      assert.deepEqual(seen.errors, [], 'no request failed while the canary was rolled back');
    } finally {
      await traffic.stop();
      prom.close();
      prom.closeAllConnections();
    }
  });

  it('a canary that starts but is never ready is rolled back when deploy.local.ready-timeout-seconds passes; stable keeps all traffic', async () => {
    const before = await state();
    const stable = before.stable!.version.version;
    // Version 5's own blob (its modelship.json layer) becomes a named pipe with no writer: the
    // server starts and pulls, and its read of that blob waits for ever (as on a hung disk).
    const registry = path.join(cwd, '.modelship', 'registry');
    const index = JSON.parse(await readFile(path.join(registry, 'index.json'), 'utf8')) as {
      manifests: { digest: string; annotations?: Record<string, string> }[];
    };
    const blob = (digest: string): string => path.join(registry, 'blobs', 'sha256', digest.slice('sha256:'.length));
    const layersOf = async (digest: string): Promise<{ digest: string; annotations?: Record<string, string> }[]> =>
      (JSON.parse(await readFile(blob(digest), 'utf8')) as { layers: { digest: string; annotations?: Record<string, string> }[] }).layers;
    const v5 = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'fashion:5');
    assert.ok(v5, 'fashion:5 is registered');
    const own = (await layersOf(v5.digest)).find((l) => l.annotations?.['org.opencontainers.image.title'] === 'modelship.json');
    assert.ok(own, 'fashion:5 has a modelship.json layer');
    for (const m of index.manifests.filter((x) => x.digest !== v5.digest))
      assert.ok(!(await layersOf(m.digest)).some((l) => l.digest === own.digest), 'no other version shares the blob');
    await rm(blob(own.digest));
    execFileSync('mkfifo', [blob(own.digest)]);
    await writeFile(path.join(cwd, 'modelship.yml'), 'name: fashion\ndeploy:\n  local:\n    ready-timeout-seconds: 4\n');
    const traffic = load(before.proxy!.url);
    try {
      const r = await deploy('fashion:5', '--analysis', 'error_rate <= 0.01', '--analysis-interval', '1s');
      const seen = await traffic.stop();
      assert.equal(r.code, 1, r.err);
      assert.equal(r.out['status'], 'rolled-back');
      assert.match(r.err, /the canary is not ready: the server of fashion:5 is not ready: it was not ready after 4 s/);
      assert.doesNotMatch(r.err, /analysing/, 'a canary that is not ready is not analysed');
      const s = await state();
      assert.equal(s.stable?.version.version, stable, 'stable is unchanged');
      assert.equal(s.stable?.pid, before.stable!.pid, 'the same stable process');
      assert.equal(s.canary, undefined);
      assert.deepEqual(seen.errors, []);
      assert.deepEqual(Object.keys(seen.byVersion), [String(stable)], 'stable answered every request');
      assert.deepEqual(await processesServing('fashion:5@'), [], 'the canary server was stopped');
    } finally {
      await traffic.stop();
      await rm(path.join(cwd, 'modelship.yml'), { force: true });
    }
  });

  it('action: rollback moves the alias back and deploys the version it pointed at, in one step', async () => {
    const r = await cli([
      'deploy-rollout',
      '--target',
      'local',
      '--ref',
      'fashion',
      '--registry',
      '.modelship/registry',
      '--action',
      'rollback',
      '--promote-alias',
      'production',
    ]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out['status'], 'rolled-back');
    assert.match(r.err, /fashion@production: v2 → v1 \(rolled back\)/);
    assert.equal((await state()).stable?.version.version, 1);
  });

  it('a second deploy during a canary stops the first, which puts traffic back on stable, then goes on', async () => {
    const stable = (await state()).stable?.version.version;
    const [a, b] = [1, 2, 3].filter((v) => v !== stable);
    const first = spawn(
      NODE,
      [
        path.join(repo, 'bin/modelship.js'),
        'deploy-rollout',
        '--target',
        'local',
        '--ref',
        `fashion:${a}`,
        '--registry',
        '.modelship/registry',
        '--analysis',
        'error_rate <= 0.01',
        '--analysis-interval',
        '30s',
      ],
      { cwd, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let firstErr = '';
    first.stderr.on('data', (c: Buffer) => (firstErr += c.toString()));
    const exited = new Promise<number | null>((resolve) => first.on('exit', (code) => resolve(code)));
    await waitFor('the first canary', async () => ((await readState(dir()))?.canary?.version.version === a ? true : undefined));
    const second = await deploy(
      `fashion:${b}`,
      '--analysis',
      'error_rate <= 0.01',
      '--analysis-interval',
      '1s',
      '--no-data',
      'warn',
      '--steps',
      '100',
    );
    assert.equal(await exited, 1, firstErr);
    assert.match(firstErr, /status=rolled-back|rolling back: aborted: interrupted by SIGTERM/);
    assert.match(second.err, /a deploy of fashion is in progress \(pid \d+\): asking it to stop first/);
    assert.equal(second.out['status'], 'promoted', second.err);
    assert.equal((await state()).stable?.version.version, b);
  });

  it('processes that are gone are detected and said; deploy status shows them; the next deploy starts them again', async () => {
    const s = await state();
    process.kill(s.proxy!.pid, 'SIGKILL');
    process.kill(s.stable!.pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 200));
    const statusText = await statusOut();
    assert.match(statusText, /proxy .*NOT RUNNING/);
    assert.match(statusText, new RegExp(`stable {2}fashion:${s.stable!.version.version} 100% .*NOT RUNNING`));
    const r = await deploy(`fashion:${s.stable!.version.version}`);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /the proxy process \(pid \d+, .*\) recorded in .*state\.json is not running any more/);
    assert.equal(r.out['status'], 'promoted', 'a stable that is gone is deployed again');
    assert.equal((await fetch(`${r.out['url']}/v2/health/ready`)).status, 200);
  });

  it('a proxy port already taken is explained', async () => {
    await stopLocal(cwd, 'fashion', silentLogger);
    const blocker = createServer();
    const port = await new Promise<number>((resolve) =>
      blocker.listen(0, '127.0.0.1', () => resolve((blocker.address() as { port: number }).port)),
    );
    try {
      await writeFile(path.join(cwd, 'modelship.yml'), `name: fashion\ndeploy:\n  local:\n    port: ${port}\n`);
      const r = await deploy('fashion:1');
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, new RegExp(`the proxy cannot listen on 127\\.0\\.0\\.1:${port}: the port is already taken`));
      assert.match(r.err, /set deploy\.local\.port in modelship\.yml/);
    } finally {
      blocker.close();
      await rm(path.join(cwd, 'modelship.yml'), { force: true });
    }
  });
});

async function statusOut(): Promise<string> {
  return (await runCli(['deploy', 'status', '--name', 'fashion'], { env: process.env, cwd, log: memoryLogger() })).out;
}

/** Pids of running processes whose command line holds `text` (Linux /proc). */
async function processesServing(text: string): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmd = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmd.replace(/\0/g, ' ').includes(text)) pids.push(Number(entry));
  }
  return pids;
}

/**
 * `npm run k8s-sim -- --kubeconfig <file>`: the simulator as its own process, reached by the
 * real client through the kubeconfig it writes; faults through its control paths; SIGTERM ends it.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { AppsV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';

let child: ChildProcess;
let dir: string;
let url = '';
let kubeconfig = '';
let output = '';
let exited: Promise<number | null>;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'k8s-sim-standalone-'));
  const file = path.join(dir, 'config');
  // Its own process group, so the test can end npm, its shell and the simulator together.
  child = spawn('npm', ['run', '-s', 'k8s-sim', '--', '--kubeconfig', file, '--namespace', 'apps', '--time-scale', '0.01'], {
    cwd: path.resolve(import.meta.dirname, '../..'),
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  });
  exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`k8s-sim did not start: ${output}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      output += d.toString();
      const listening = /^listening (\S+)$/m.exec(output);
      const written = /^kubeconfig (\S+)$/m.exec(output);
      if (listening && written) {
        url = listening[1];
        kubeconfig = written[1];
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', () => reject(new Error(`k8s-sim exited: ${output}`)));
  });
});

after(async () => {
  if (child.exitCode === null && child.pid) process.kill(-child.pid, 'SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

test('prints its URL, writes a kubeconfig the real client loads, and runs Deployments to availability', async () => {
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  assert.equal(kc.getCurrentCluster()?.server, url);
  assert.equal(kc.getContextObject(kc.getCurrentContext())?.namespace, 'apps');
  const apps = kc.makeApiClient(AppsV1Api);
  await apps.createNamespacedDeployment({
    namespace: 'apps',
    body: {
      metadata: { name: 'web' },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: {
            containers: [
              { name: 'main', image: 'nginx:1.27', readinessProbe: { httpGet: { path: '/', port: 80 }, initialDelaySeconds: 5 } },
            ],
          },
        },
      },
    },
  });
  const deadline = Date.now() + 20_000;
  let available = 0;
  while (available < 2 && Date.now() < deadline) {
    available = (await apps.readNamespacedDeploymentStatus({ name: 'web', namespace: 'apps' })).status?.availableReplicas ?? 0;
    if (available < 2) await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(available, 2);
  const pods = await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: 'apps', labelSelector: 'app=web' });
  assert.equal(pods.items.length, 2);
});

test('faults switched through /k8s-sim/ reach the real client', async () => {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const core = kc.makeApiClient(CoreV1Api);
  const created = await fetch(`${url}/k8s-sim/faults`, {
    method: 'POST',
    body: JSON.stringify({ kind: 'fail', path: '/pods', code: 503, count: 5 }),
  });
  assert.equal(created.status, 201);
  const { id } = (await created.json()) as { id: number };
  await assert.rejects(core.listNamespacedPod({ namespace: 'apps' }), (err: { code?: number }) => err.code === 503);
  const off = await fetch(`${url}/k8s-sim/faults/${id}`, { method: 'DELETE' });
  assert.deepEqual(await off.json(), { hits: 1 });
  await core.listNamespacedPod({ namespace: 'apps' });
  const bad = await fetch(`${url}/k8s-sim/faults`, { method: 'POST', body: JSON.stringify({ kind: 'meteor' }) });
  assert.equal(bad.status, 400);
});

test('SIGTERM stops it', async () => {
  process.kill(-child.pid!, 'SIGTERM');
  const code = await exited;
  assert.ok(code === 0 || code === null, `exit ${code}`);
  assert.match(output, /^stopped$/m);
  await assert.rejects(fetch(`${url}/version`));
});

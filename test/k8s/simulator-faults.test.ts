/**
 * The simulator's fault injection, as the real client meets it: 5xx and 429 with the API
 * server's Status bodies, 409 Conflict on the next writes, 410 Gone on the next watch (ERROR
 * event or HTTP), a client-node informer recovering from it, cut connections and watches, and
 * container faults switched on and off under a Deployment.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  AppsV1Api,
  CoreV1Api,
  KubernetesObjectApi,
  PatchStrategy,
  Watch,
  makeInformer,
  type KubernetesObject,
  type V1Deployment,
  type V1Pod,
} from '@kubernetes/client-node';
import { deploymentType, podType, startSimulator, type Deployment, type Pod, type Simulator } from '../k8s-sim/index.ts';

let sim: Simulator;
let core: CoreV1Api;
let apps: AppsV1Api;
const NS = 'faults';
let n = 0;

before(async () => {
  sim = await startSimulator({ timing: { timeScale: 0.01, restartBackoffMs: 10 } });
  core = sim.kubeConfig(NS).makeApiClient(CoreV1Api);
  apps = sim.kubeConfig(NS).makeApiClient(AppsV1Api);
});
after(async () => {
  sim.faults.clear();
  await sim.close();
});

interface Failure {
  code: number;
  status: { kind: string; status: string; reason: string; message: string; code: number; details?: { retryAfterSeconds?: number } };
  headers: Record<string, string>;
}

async function failure(p: Promise<unknown>): Promise<Failure> {
  try {
    await p;
  } catch (err) {
    const e = err as { code?: number; body?: unknown; headers?: Record<string, string> };
    return {
      code: e.code ?? 0,
      status: JSON.parse(typeof e.body === 'string' ? e.body : '{}') as Failure['status'],
      headers: e.headers ?? {},
    };
  }
  throw new Error('expected the call to fail');
}

const listPods = () => core.listNamespacedPod({ namespace: NS });

test('5xx on the next N matching requests, with the Status bodies the API server sends', async () => {
  const f = sim.faults.fail({ path: '/pods', method: 'GET', code: 503, count: 2 });
  for (let i = 0; i < 2; i++) {
    const { code, status } = await failure(listPods());
    assert.equal(code, 503);
    assert.deepEqual([status.kind, status.status, status.reason, status.code], ['Status', 'Failure', 'ServiceUnavailable', 503]);
    assert.equal(status.message, 'the server is currently unable to handle the request');
  }
  assert.equal(f.hits, 2);
  assert.equal(f.remaining, 0);
  await listPods();

  sim.faults.fail({ path: '/pods', code: 500 });
  const internal = await failure(listPods());
  assert.deepEqual(
    [internal.code, internal.status.reason, internal.status.message],
    [500, 'InternalError', 'Internal error occurred: etcdserver: request timed out'],
  );
  sim.faults.fail({ path: /\/pods$/, code: 504 });
  const timeout = await failure(listPods());
  assert.deepEqual(
    [timeout.code, timeout.status.reason, timeout.status.message],
    [504, 'Timeout', 'Timeout: request did not complete within requested timeout - context deadline exceeded'],
  );
  sim.faults.fail({ path: '/pods', code: 429, retryAfterSeconds: 2 });
  const throttled = await failure(listPods());
  assert.deepEqual(
    [throttled.code, throttled.status.reason, throttled.status.details?.retryAfterSeconds, throttled.headers['retry-after']],
    [429, 'TooManyRequests', 2, '2'],
  );
  // A fault for POSTs does not touch GETs, and off() ends one that has no count left to run out.
  const posts = sim.faults.fail({ path: '/pods', method: 'POST', code: 500, count: Infinity });
  await listPods();
  posts.off();
  await core.createNamespacedPod({
    namespace: NS,
    body: { metadata: { name: `after-${++n}` }, spec: { containers: [{ name: 'c', image: 'x:1' }] } },
  });
  assert.deepEqual(
    sim.faults.injected.map((i) => i.kind),
    ['http 503', 'http 503', 'http 500', 'http 504', 'http 429'],
  );
});

test('409 Conflict on the next N writes to an object, then the writes go through', async () => {
  const name = `web-${++n}`;
  const deployment: V1Deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NS },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'main', image: 'server:1' }] } },
    },
  };
  const objects = KubernetesObjectApi.makeApiClient(sim.kubeConfig(NS));
  const apply = (o: KubernetesObject) => objects.patch(o, undefined, undefined, 'modelship', false, PatchStrategy.ServerSideApply);
  await apply(deployment);
  sim.faults.conflict({ resource: 'deployments', name, count: 2 });
  for (let i = 0; i < 2; i++) {
    const { code, status } = await failure(apply(deployment));
    assert.equal(code, 409);
    assert.equal(status.reason, 'Conflict');
    assert.equal(
      status.message,
      `Operation cannot be fulfilled on deployments.apps "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    );
  }
  const other = await apps.readNamespacedDeployment({ name, namespace: NS });
  assert.ok(other, 'reads are not writes');
  await apply(deployment);
});

test('410 Gone on the next watch: an ERROR event with an Expired Status (or an HTTP 410), then the stream ends', async () => {
  sim.faults.goneOnWatch({ path: '/pods' });
  const events: [string, { code?: number; reason?: string; message?: string }][] = [];
  const ended = new Promise<unknown>((resolve) => {
    void new Watch(sim.kubeConfig(NS)).watch(
      `/api/v1/namespaces/${NS}/pods`,
      { resourceVersion: '1' },
      (type: string, o: { code?: number; reason?: string; message?: string }) => events.push([type, o]),
      resolve,
    );
  });
  assert.equal(await ended, null, 'a clean end after the ERROR event');
  assert.equal(events.length, 1);
  assert.equal(events[0][0], 'ERROR');
  assert.equal(events[0][1].code, 410);
  assert.equal(events[0][1].reason, 'Expired');
  assert.match(events[0][1].message ?? '', /^too old resource version: 1 \(\d+\)$/);

  sim.faults.goneOnWatch({ path: '/pods', mode: 'http' });
  const err = await new Promise<unknown>((resolve) => {
    void new Watch(sim.kubeConfig(NS)).watch(`/api/v1/namespaces/${NS}/pods`, {}, () => undefined, resolve);
  });
  assert.equal((err as { statusCode?: number }).statusCode, 410);
});

test("client-node's informer re-lists after a 410 and keeps delivering", async () => {
  const kc = sim.kubeConfig(NS);
  const label = `informed-${++n}`;
  const informer = makeInformer(
    kc,
    `/api/v1/namespaces/${NS}/pods`,
    () => core.listNamespacedPod({ namespace: NS, labelSelector: `app=${label}` }),
    `app=${label}`,
  );
  const added: string[] = [];
  informer.on('add', (p: V1Pod) => added.push(p.metadata!.name!));
  await informer.start();
  try {
    const mk = (name: string) =>
      core.createNamespacedPod({
        namespace: NS,
        body: { metadata: { name, labels: { app: label } }, spec: { containers: [{ name: 'c', image: 'x:1' }] } },
      });
    await mk(`${label}-a`);
    await sim.waitFor(() => added.includes(`${label}-a`));
    const lists = () =>
      sim.requests.filter((r) => r.method === 'GET' && r.path === `/api/v1/namespaces/${NS}/pods` && r.query.watch === undefined).length;
    const before = lists();
    sim.faults.goneOnWatch({ path: '/pods' });
    // The watch ends as an API server ends it (timeoutSeconds); the informer reconnects and meets the 410.
    assert.equal(sim.closeWatches(`/namespaces/${NS}/pods`), 1);
    await sim.waitFor(() => lists() > before, 10_000, 'a re-list');
    await mk(`${label}-b`);
    await sim.waitFor(() => added.includes(`${label}-b`), 10_000, 'the next pod through the new watch');
  } finally {
    await informer.stop();
  }
});

test('cut connections: a dropped request fails on the client, a cut watch ends with an error', async () => {
  sim.faults.drop({ path: '/pods', method: 'GET' });
  await assert.rejects(
    listPods(),
    (err: Error) => !('code' in err && typeof (err as { code: unknown }).code === 'number' && (err as { code: number }).code >= 100),
  );
  await listPods();
  const done = new Promise<unknown>((resolve) => {
    void new Watch(sim.kubeConfig(NS)).watch('/api/v1/namespaces/cut/pods', {}, () => undefined, resolve);
  });
  await sim.waitFor(() => sim.openWatches('/namespaces/cut/pods') === 1);
  assert.equal(sim.faults.cutWatches('/namespaces/cut/pods'), 1);
  assert.ok((await done) instanceof Error, 'the stream broke rather than ended');
  const slow = sim.faults.delay({ path: '/pods', method: 'GET', ms: 30 });
  await listPods();
  assert.equal(slow.hits, 1);
});

test('container faults switched on and off under a Deployment: crash loop, then recovery; readiness withheld, then given', async () => {
  const name = `flaky-${++n}`;
  // Later rules win: the crash first, the readiness fault under it.
  const noReady = sim.faults.neverReady({ image: 'server:slow-ready' });
  const crash = sim.faults.crash({ labels: { app: name } }, { lines: ['panic: boom'], exitCode: 2 });
  await apps.createNamespacedDeployment({
    namespace: NS,
    body: {
      metadata: { name },
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: name } },
        template: {
          metadata: { labels: { app: name } },
          spec: {
            containers: [
              { name: 'main', image: 'server:slow-ready', readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 1 } },
            ],
          },
        },
      },
    },
  });
  const pods = (): Pod[] => (sim.store.list(podType, NS) as Pod[]).filter((p) => p.metadata.labels?.app === name);
  await sim.waitFor(() => pods().length === 2 && pods().every((p) => (p.status?.containerStatuses?.[0].restartCount ?? 0) >= 2));
  assert.ok(
    sim.store.history.some(
      (e) =>
        e.resource === podType &&
        e.object.metadata.labels?.app === name &&
        (e.object as Pod).status?.containerStatuses?.[0].state.waiting?.reason === 'CrashLoopBackOff',
    ),
  );
  crash.off();
  await sim.waitFor(() => pods().every((p) => p.status?.containerStatuses?.[0].state.running), 10_000, 'the containers to run again');
  const d = () => sim.store.get(deploymentType, NS, name) as Deployment;
  assert.equal(d().status?.availableReplicas, undefined, 'running, but readiness is withheld');
  noReady.off();
  await sim.waitFor(() => d().status?.availableReplicas === 2, 10_000, 'availability');
});

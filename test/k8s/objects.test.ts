/**
 * KubeClient's object operations through the real @kubernetes/client-node against the simulator:
 * server-side apply (and its retries), read, delete, discovery, log tails and the pod proxy.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import type { V1Deployment } from '@kubernetes/client-node';
import { FIELD_MANAGER, KubeClient } from '../../shared/k8s/index.ts';
import { ModelshipError } from '../../shared/util/errors.ts';
import { behaviours, startSimulator, type Simulator } from '../k8s-sim/index.ts';

let sim: Simulator;
let client: KubeClient;

before(async () => {
  sim = await startSimulator({ timing: { timeScale: 0.01 } });
});
after(async () => {
  await sim.close();
});
beforeEach(() => {
  sim.kubelet.reset();
  sim.faults.clear();
  client = new KubeClient(sim.kubeConfig('ml'), 'ml');
  client.retry = { attempts: 4, delayMs: 5 };
});

const deployment = (name: string, image: string, replicas = 1): V1Deployment => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, labels: { app: name } },
  spec: {
    replicas,
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'main', image, ports: [{ containerPort: 8501 }] }] } },
  },
});

test('apply creates, then updates what modelship owns, as field manager modelship', async () => {
  const created = await client.apply(deployment('web', 'server:1'));
  assert.equal(created.metadata?.generation, 1);
  assert.ok(created.metadata?.managedFields?.some((f) => f.manager === FIELD_MANAGER && f.operation === 'Apply'));
  const updated = await client.apply(deployment('web', 'server:2', 2));
  assert.equal(updated.spec?.replicas, 2);
  assert.equal(updated.metadata?.generation, 2);
  const read = await client.read<V1Deployment>('apps/v1', 'Deployment', 'web');
  assert.equal(read?.spec?.template.spec?.containers[0]?.image, 'server:2');
});

test('apply is repeated after a conflict or a transient 5xx, and gives up with the answer named', async () => {
  sim.faults.conflict({ resource: 'deployments', name: 'web', count: 2 });
  await client.apply(deployment('web', 'server:3'));
  sim.faults.fail({ path: '/deployments', method: 'PATCH', code: 503, count: 1 });
  await client.apply(deployment('web', 'server:4'));
  sim.faults.fail({ path: '/deployments', method: 'PATCH', code: 500, count: 10 });
  await assert.rejects(
    client.apply(deployment('web', 'server:5')),
    (e: unknown) => e instanceof ModelshipError && /apply Deployment web in namespace ml/.test(e.message),
  );
});

test('read is undefined and remove false for what is not there', async () => {
  assert.equal(await client.read('apps/v1', 'Deployment', 'nothing'), undefined);
  assert.equal(await client.remove('apps/v1', 'Deployment', 'nothing'), false);
  await client.apply(deployment('gone', 'server:1'));
  assert.equal(await client.remove('apps/v1', 'Deployment', 'gone'), true);
});

test('discovery tells whether the Gateway API is served', async () => {
  assert.equal(await client.servesGroup('gateway.networking.k8s.io'), false);
  sim.setGatewayApi(true);
  try {
    assert.equal(await client.servesGroup('gateway.networking.k8s.io'), true);
  } finally {
    sim.setGatewayApi(false);
  }
  assert.equal(await client.servesGroup('apps'), true);
});

test("the pod proxy reaches a container's port, and a crashed container's last lines are read", async () => {
  sim.kubelet.when(
    { image: 'metrics:1' },
    behaviours.serve(8501, (_req, res) => {
      res.setHeader('content-type', 'text/plain');
      res.end('modelship_requests_total{model="m",version="1",api="predict",code="200"} 3\n');
    }),
  );
  await client.apply(deployment('metrics', 'metrics:1'));
  const pod = await client.watch(
    'pods',
    (_t, p) => (p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? p : undefined),
    {
      labelSelector: 'app=metrics',
      timeoutMs: 5000,
    },
  );
  const res = await client.get(`${client.podProxyPath(pod.metadata!.name!, 8501)}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.body, /modelship_requests_total\{model="m"/);

  sim.kubelet.when({ image: 'crash:1' }, behaviours.crash(['loading model', 'Error: weights.bin is truncated'], 1));
  await client.apply(deployment('crasher', 'crash:1'));
  const crashed = await client.watch(
    'pods',
    (_t, p) => (p.status?.containerStatuses?.[0]?.state?.waiting?.reason === 'CrashLoopBackOff' ? p : undefined),
    { labelSelector: 'app=crasher', timeoutMs: 5000 },
  );
  const lines = await client.logTail(crashed.metadata!.name!, 'main', { previous: true, lines: 5 });
  assert.deepEqual(lines.slice(-1), ['Error: weights.bin is truncated']);
});

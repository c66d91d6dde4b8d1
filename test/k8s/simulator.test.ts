/**
 * The simulator's own behaviour, as the real client sees it: what Kubernetes would report for
 * retries, restarts, deadlines, TTLs, watches with selectors, auth and unsupported requests.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  BatchV1Api,
  CoreV1Api,
  KubernetesObjectApi,
  Log,
  PatchStrategy,
  Watch,
  setHeaderOptions,
  type V1Job,
} from '@kubernetes/client-node';
import { PassThrough } from 'node:stream';
import { KubeClient, jobState } from '../../shared/k8s/index.ts';
import { behaviours, podType, startSimulator, type Pod, type ResourceType, type Simulator } from '../k8s-sim/index.ts';

let sim: Simulator;
let client: KubeClient;
let n = 0;

before(async () => {
  sim = await startSimulator({ timing: { timeScale: 0.05, jobBackoffMs: 5, restartBackoffMs: 10 } });
  client = new KubeClient(sim.kubeConfig('sim'), 'sim');
});
after(async () => {
  await sim.close();
});

/** The pod as it was after each change, oldest first. */
const podHistory = (name: string): Pod[] =>
  sim.store.history.filter((e) => e.resource === podType && e.object.metadata.name === name).map((e) => e.object as Pod);

const spec = (image: string, extra: Partial<NonNullable<V1Job['spec']>> = {}, restartPolicy = 'Never'): V1Job => ({
  metadata: { name: `s-${++n}` },
  spec: { backoffLimit: 0, template: { spec: { restartPolicy, containers: [{ name: 'main', image }] } }, ...extra },
});

test('a pod goes Pending (ContainerCreating) → Running → Succeeded, as watched', async () => {
  sim.kubelet.when({ image: 'phases:1' }, behaviours.logs(['hi'], 0, 20));
  const j = await client.createJob(spec('phases:1'));
  await client.waitForJob(j.metadata!.name!, { timeoutMs: 5000 });
  const [pod] = await client.findJobPods(j);
  // Every state the pod went through, from the store's history (a late watch may start mid-way).
  const seen: string[] = [];
  for (const p of podHistory(pod.metadata!.name!)) {
    const s = p.status?.containerStatuses?.[0]?.state;
    const label = `${p.status?.phase}/${s?.waiting?.reason ?? (s?.running ? 'running' : s?.terminated ? `exit ${s.terminated.exitCode}` : '-')}`;
    if (seen.at(-1) !== label) seen.push(label);
  }
  assert.deepEqual(seen.slice(-3), ['Pending/ContainerCreating', 'Running/running', 'Succeeded/exit 0']);
});

test('backoffLimit: failed pods are replaced until the limit, then the Job fails', async () => {
  sim.kubelet.when({ image: 'flaky:1' }, behaviours.logs(['no'], 2));
  const j = await client.createJob(spec('flaky:1', { backoffLimit: 2 }));
  const done = await client.waitForJob(j.metadata!.name!, { timeoutMs: 5000 });
  assert.equal(jobState(done).state, 'failed');
  assert.equal(done.status?.failed, 3);
  const pods = await client.findJobPods(j);
  assert.equal(pods.length, 3);
  assert.ok(pods.every((p) => p.status?.phase === 'Failed'));
});

test('restartPolicy OnFailure restarts the container (Error, then CrashLoopBackOff) and counts restarts against backoffLimit', async () => {
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  sim.kubelet.when(
    { image: 'crash:1' },
    behaviours.fn(async (c) => {
      c.log(`run ${c.attempt + 1}`);
      if (c.attempt === 2) await gate;
      return 1;
    }),
  );
  const j = await client.createJob(spec('crash:1', { backoffLimit: 2 }, 'OnFailure'));
  const pod = await client.watch(
    'pods',
    (_t, p) => {
      const s = p.status?.containerStatuses?.[0];
      return (s?.restartCount ?? 0) >= 2 && s?.state?.running ? p : undefined;
    },
    { labelSelector: `job-name=${j.metadata!.name!}` },
  );
  const states = podHistory(pod.metadata!.name!).map((p) => p.status?.containerStatuses?.[0]);
  // The kubelet restarts at once the first time, then backs off.
  assert.ok(states.some((c) => c?.state.terminated?.exitCode === 1 && c.restartCount === 0));
  assert.ok(!states.some((c) => c?.state.waiting?.reason === 'CrashLoopBackOff' && c.restartCount === 0));
  assert.ok(
    states.some((c) => c?.state.waiting?.reason === 'CrashLoopBackOff' && c.lastState.terminated?.exitCode === 1 && c.restartCount === 1),
  );
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => (text += d.toString()));
  await new Log(sim.kubeConfig('sim')).log('sim', pod.metadata!.name!, 'main', out, { previous: true });
  await new Promise((r) => out.on('end', r));
  assert.equal(text, 'run 2\n', 'previous=true returns the log of the run before the restart');
  open();
  const done = await client.waitForJob(j.metadata!.name!, { timeoutMs: 5000 });
  assert.deepEqual(jobState(done), {
    state: 'failed',
    reason: 'BackoffLimitExceeded',
    message: 'Job has reached the specified backoff limit',
  });
});

test('activeDeadlineSeconds fails the Job with DeadlineExceeded and removes its running pod', async () => {
  sim.kubelet.when({ image: 'long:1' }, behaviours.forever());
  const j = await client.createJob(spec('long:1', { activeDeadlineSeconds: 1 }));
  const done = await client.waitForJob(j.metadata!.name!, { timeoutMs: 5000 });
  assert.deepEqual(jobState(done), {
    state: 'failed',
    reason: 'DeadlineExceeded',
    message: 'Job was active longer than specified deadline',
  });
  assert.equal((await client.findJobPods(j)).length, 0);
});

test('ttlSecondsAfterFinished deletes a finished Job and its pods', async () => {
  sim.kubelet.when({ image: 'ttl:1' }, behaviours.logs([], 0));
  const j = await client.createJob(spec('ttl:1', { ttlSecondsAfterFinished: 0 }));
  const name = j.metadata!.name!;
  // Poll: a watch started now could begin after the deletion and see nothing.
  const deadline = Date.now() + 5000;
  while ((await client.getJob(name)) !== undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.equal(await client.getJob(name), undefined);
  assert.ok(sim.store.history.some((e) => e.type === 'DELETED' && e.object.metadata.name === name && e.object.kind === 'Job'));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal((await client.findJobPods(j)).length, 0);
});

test('a label-selector watch sees an object leave (DELETED) and come back (ADDED) as labels change', async () => {
  const core = sim.kubeConfig('sim').makeApiClient(CoreV1Api);
  await core.createNamespacedPod({
    namespace: 'sim',
    body: { metadata: { name: 'labelled', labels: { tier: 'a' } }, spec: { containers: [{ name: 'c', image: 'idle:1' }] } },
  });
  sim.kubelet.when({ image: 'idle:1' }, behaviours.forever());
  const events: string[] = [];
  const ctrl = await new Watch(sim.kubeConfig('sim')).watch(
    '/api/v1/namespaces/sim/pods',
    { labelSelector: 'tier=a' },
    (type: string, o: { metadata: { name: string } }) => events.push(`${type} ${o.metadata.name}`),
    () => undefined,
  );
  const patch = (tier: string) =>
    core.patchNamespacedPod(
      { name: 'labelled', namespace: 'sim', body: { metadata: { labels: { tier } } } },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
  await new Promise((r) => setTimeout(r, 30));
  await patch('b');
  await patch('a');
  await core.deleteNamespacedPod({ name: 'labelled', namespace: 'sim' });
  await new Promise((r) => setTimeout(r, 30));
  ctrl.abort();
  const distinct = events.filter((e, i) => e !== events[i - 1]);
  assert.equal(distinct[0], 'ADDED labelled');
  assert.ok(distinct.includes('DELETED labelled'));
  assert.equal(distinct.at(-1), 'DELETED labelled');
  assert.ok(distinct.indexOf('DELETED labelled') < distinct.lastIndexOf('ADDED labelled'), distinct.join(', '));
});

test("exec runs a local command as the container: its output is the log, its exit code the container's", async () => {
  sim.kubelet.when(
    { image: 'sh:1' },
    behaviours.exec(() => ({ command: process.execPath, args: ['-e', 'console.log("from a process"); process.exitCode = 4'] })),
  );
  const j = await client.createJob(spec('sh:1'));
  const done = await client.waitForJob(j.metadata!.name!, { timeoutMs: 5000 });
  assert.equal(jobState(done).state, 'failed');
  const [pod] = await client.findJobPods(j);
  assert.equal(pod.status?.containerStatuses?.[0]?.state?.terminated?.exitCode, 4);
  const lines: string[] = [];
  await client.followLogs(pod.metadata!.name!, 'main', (l) => lines.push(l));
  assert.deepEqual(lines, ['from a process']);
});

test('a token-protected simulator answers 401 without it', async () => {
  const secured = await startSimulator({ token: 's3cret' });
  try {
    const ok = new KubeClient(secured.kubeConfig(), 'default');
    assert.deepEqual(await ok.listPods(), []);
    const anonymous = new KubeClient(sim.kubeConfig(), 'default');
    Object.assign(anonymous.kc.getCurrentCluster()!, { server: secured.url });
    await assert.rejects(new KubeClient(anonymous.kc, 'default').listPods(), /HTTP 401/);
  } finally {
    await secured.close();
  }
});

test('unknown paths and unsupported patch types get Status errors', async () => {
  const res = await fetch(`${sim.url}/apis/apps/v1/namespaces/sim/statefulsets`);
  assert.equal(res.status, 404);
  assert.deepEqual(((await res.json()) as { reason: string }).reason, 'NotFound');
  const group = await fetch(`${sim.url}/apis/example.com/v1/namespaces/sim/widgets`);
  assert.equal(group.status, 404, 'a group the server does not serve');
  assert.equal(await group.text(), '404 page not found\n');
  const j = await client.createJob(spec('any:1'));
  const patched = await fetch(`${sim.url}/apis/batch/v1/namespaces/sim/jobs/${j.metadata!.name!}`, {
    method: 'PATCH',
    headers: { 'Content-Type': 'text/plain' },
    body: 'x',
  });
  assert.equal(patched.status, 415);
  assert.equal(((await patched.json()) as { reason: string }).reason, 'UnsupportedMediaType');
});

test('a new kind and its controller plug in (how the built-in controllers are wired too)', async () => {
  const widgets: ResourceType = {
    group: 'example.com',
    version: 'v1',
    plural: 'widgets',
    kind: 'Widget',
    namespaced: true,
    selectableFields: [],
    statusSubresource: false,
    returnDeletedObject: false,
    defaultPropagation: 'Background',
  };
  sim.addResource(widgets);
  // A toy controller: every Widget labelled run=pod gets a pod it owns.
  sim.addController((store) => {
    let off: () => void = () => undefined;
    return {
      start: () => {
        off = store.subscribe((e) => {
          if (e.resource !== widgets || e.type !== 'ADDED' || e.object.metadata.labels?.['run'] !== 'pod') return;
          const w = e.object;
          setImmediate(() =>
            store.create(podType, w.metadata.namespace, {
              metadata: {
                generateName: `${w.metadata.name}-`,
                ownerReferences: [
                  { apiVersion: 'example.com/v1', kind: 'Widget', name: w.metadata.name!, uid: w.metadata.uid!, controller: true },
                ],
                labels: { from: w.metadata.name! },
              },
              spec: { containers: [{ name: 'c', image: 'cm:1' }] },
            }),
          );
        });
      },
      stop: () => off(),
    };
  });
  sim.kubelet.when({ image: 'cm:1' }, behaviours.forever());
  // The generic client finds the new kind through discovery.
  const objects = KubernetesObjectApi.makeApiClient(sim.kubeConfig('ext'));
  const widget = {
    apiVersion: 'example.com/v1',
    kind: 'Widget',
    metadata: { name: 'settings', namespace: 'ext', labels: { run: 'pod' } },
    data: { a: '1' },
  };
  await objects.create(widget);
  const read = (await objects.read({
    apiVersion: 'example.com/v1',
    kind: 'Widget',
    metadata: { name: 'settings', namespace: 'ext' },
  })) as unknown as {
    data: Record<string, string>;
  };
  assert.deepEqual(read.data, { a: '1' });
  const pod = await client.watch('pods', (_t, p) => (p.status?.phase === 'Running' ? p : undefined), {
    labelSelector: 'from=settings',
    namespace: 'ext',
    timeoutMs: 5000,
  });
  assert.ok(pod.metadata?.name?.startsWith('settings-'));
  let connected!: () => void;
  const watching = new Promise<void>((r) => (connected = r));
  const gone = client.watch(
    'pods',
    (type) => {
      connected(); // the watch has listed the pod: its deletion cannot be missed now
      return type === 'DELETED' ? true : undefined;
    },
    { labelSelector: 'from=settings', namespace: 'ext', timeoutMs: 5000 },
  );
  await watching;
  await objects.delete(widget);
  await gone;
  assert.deepEqual(await client.listPods('ext'), []);
  assert.throws(() => sim.addResource(widgets), /already served/);
});

test('metadata and the status subresource: generation follows spec, status changes only through /status', async () => {
  const batch = sim.kubeConfig('sim').makeApiClient(BatchV1Api);
  sim.kubelet.when({ image: 'meta:1' }, behaviours.forever());
  const created = await client.createJob(spec('meta:1', { suspend: true }));
  const name = created.metadata!.name!;
  assert.match(created.metadata!.uid!, /^[0-9a-f-]{36}$/);
  assert.ok(created.metadata!.creationTimestamp instanceof Date);
  assert.equal(created.metadata!.generation, 1);
  const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  const viaObject = await batch.patchNamespacedJob({ name, namespace: 'sim', body: { status: { active: 7 } } }, merge);
  assert.notEqual(viaObject.status?.active, 7, 'status is ignored on the object');
  const viaStatus = await batch.patchNamespacedJobStatus({ name, namespace: 'sim', body: { status: { active: 7 } } }, merge);
  assert.equal(viaStatus.status?.active, 7);
  assert.equal(viaStatus.metadata?.generation, 1, 'a status change leaves generation alone');
  assert.ok(Number(viaStatus.metadata?.resourceVersion) > Number(created.metadata?.resourceVersion));
  const resumed = await batch.patchNamespacedJob({ name, namespace: 'sim', body: { spec: { suspend: false } } }, merge);
  assert.equal(resumed.metadata?.generation, 2);
  assert.equal((await batch.readNamespacedJobStatus({ name, namespace: 'sim' })).metadata?.name, name);
  await client.deleteJob(name, 'sim');
});

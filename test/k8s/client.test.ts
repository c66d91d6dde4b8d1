/**
 * The core's Kubernetes layer driven through the real @kubernetes/client-node against the
 * simulator: Jobs, pods, watches (and their reconnection), logs, errors, selectors.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import { BatchV1Api, CoreV1Api, PatchStrategy, setHeaderOptions, type V1Job } from '@kubernetes/client-node';
import { KubeClient, apiStatus, containerStarted, explainPodFailure, jobState, type PodJson } from '../../shared/k8s/index.ts';
import { ModelshipError } from '../../shared/util/errors.ts';
import { behaviours, startSimulator, type Simulator } from '../k8s-sim/index.ts';

let sim: Simulator;
let client: KubeClient;
let n = 0;

before(async () => {
  sim = await startSimulator();
});
after(async () => {
  await sim.close();
});
beforeEach(() => {
  sim.kubelet.reset();
  client = new KubeClient(sim.kubeConfig('ml'), 'ml');
});

const jobName = (): string => `job-${++n}`;

function job(name: string, image: string, extra: Partial<NonNullable<V1Job['spec']>> = {}): V1Job {
  return {
    metadata: { name, labels: { team: 'ml' } },
    spec: { backoffLimit: 0, template: { spec: { restartPolicy: 'Never', containers: [{ name: 'main', image }] } }, ...extra },
  };
}

/** A gate a container waits on, so tests decide when it ends. */
function gate(): { open: () => void; wait: Promise<void> } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { open, wait };
}

/** Polls a condition of the simulator (not of the code under test) every few milliseconds. */
async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Waits (through the watch API) for the Job's pod to satisfy `pred`. */
function podWhere(j: V1Job, pred: (p: PodJson) => boolean): Promise<PodJson> {
  const sel = `job-name=${j.metadata!.name!}`;
  return client.watch('pods', (type, p) => (type !== 'DELETED' && pred(p) ? p : undefined), { labelSelector: sel, timeoutMs: 5000 });
}

test('a Job runs to Complete and its log streams in order while it runs', async () => {
  const g = gate();
  sim.kubelet.when(
    { image: 'ok:1' },
    behaviours.fn(async (c) => {
      c.log('epoch 1/3 loss 0.9');
      await g.wait;
      c.log('epoch 2/3 loss 0.5\nepoch 3/3 loss 0.3');
      return 0;
    }),
  );
  const name = jobName();
  const created = await client.createJob(job(name, 'ok:1'));
  assert.equal(created.metadata?.name, name);
  assert.equal(created.spec?.template.metadata?.labels?.['job-name'], name, 'the server adds job-name to the template');
  const pod = await podWhere(created, (p) => containerStarted(p, 'main'));
  const lines: string[] = [];
  const following = client.followLogs(pod.metadata!.name!, 'main', (l) => {
    lines.push(l);
    if (lines.length === 1) g.open();
  });
  const done = await client.waitForJob(name, { timeoutMs: 5000 });
  await following;
  assert.deepEqual(lines, ['epoch 1/3 loss 0.9', 'epoch 2/3 loss 0.5', 'epoch 3/3 loss 0.3']);
  assert.deepEqual(jobState(done), { state: 'complete' });
  const read = await client.getJob(name);
  assert.equal(read?.status?.succeeded, 1);
  assert.deepEqual(
    read?.status?.conditions?.map((c) => c.type),
    ['SuccessCriteriaMet', 'Complete'],
  );
  const pods = await client.findJobPods(created);
  assert.equal(pods.length, 1);
  assert.equal(pods[0].status?.phase, 'Succeeded');
  assert.equal(pods[0].metadata?.ownerReferences?.[0]?.uid, created.metadata?.uid);
});

const failures: [string, ReturnType<typeof behaviours.fn>, { kind: string; summary: string }, boolean][] = [
  ['OOMKilled', behaviours.oomKilled(['allocating']), { kind: 'OOMKilled', summary: 'container main OOMKilled (exit 137)' }, true],
  ['non-zero exit', behaviours.logs(['boom'], 3), { kind: 'ExitCode', summary: 'container main exited with code 3' }, true],
  [
    'ImagePullBackOff',
    behaviours.imagePullBackOff(),
    { kind: 'ImagePull', summary: 'container main cannot pull image "bad:1" (ImagePullBackOff)' },
    false,
  ],
  ['Unschedulable', behaviours.unschedulable(), { kind: 'Unschedulable', summary: 'pod cannot be scheduled' }, false],
];

for (const [label, behaviour, want, jobFails] of failures) {
  test(`a failing pod is explained: ${label}`, async () => {
    sim.kubelet.when({ image: 'bad:1' }, behaviour);
    const name = jobName();
    const created = await client.createJob(job(name, 'bad:1'));
    const pod = await podWhere(created, (p) => {
      const problem = explainPodFailure(p);
      return problem !== undefined && (problem.terminal || problem.kind === 'Unschedulable');
    });
    const problem = explainPodFailure(pod)!;
    assert.deepEqual({ kind: problem.kind, summary: problem.summary }, want);
    if (jobFails) {
      const finished = await client.waitForJob(name, { timeoutMs: 5000 });
      assert.deepEqual(jobState(finished), {
        state: 'failed',
        reason: 'BackoffLimitExceeded',
        message: 'Job has reached the specified backoff limit',
      });
    } else {
      // Kubernetes keeps such a Job active: only a deadline or a person ends it.
      assert.equal(jobState((await client.getJob(name))!).state, 'active');
      assert.equal(await client.deleteJob(name), true);
    }
  });
}

test('waiting gives up after its timeout with a ModelshipError', async () => {
  sim.kubelet.when({ image: 'slow:1' }, behaviours.forever());
  const name = jobName();
  await client.createJob(job(name, 'slow:1'));
  await assert.rejects(
    client.waitForJob(name, { timeoutMs: 300 }),
    (err: unknown) => err instanceof ModelshipError && /gave up after/.test(err.message),
  );
  await client.deleteJob(name);
});

test('a watch closed by the server resumes from the last resourceVersion', async () => {
  const g = gate();
  sim.kubelet.when(
    { image: 'gate:1' },
    behaviours.fn(async () => (await g.wait, 0)),
  );
  const name = jobName();
  const created = await client.createJob(job(name, 'gate:1'));
  await podWhere(created, (p) => p.status?.phase === 'Running');
  const before = sim.requests.length;
  const reconnects: string[] = [];
  const stop = new AbortController();
  const waiting = client.waitForJob(name, { timeoutMs: 10_000, signal: stop.signal, onReconnect: (r) => reconnects.push(r) });
  try {
    for (let cut = 0; cut < 2; cut++) {
      await until(() => sim.openWatches('/jobs') > 0);
      assert.equal(sim.closeWatches('/jobs'), 1);
    }
    await until(() => sim.openWatches('/jobs') > 0);
    g.open();
    const done = await waiting;
    assert.equal(jobState(done).state, 'complete');
  } finally {
    stop.abort();
    g.open();
    await waiting.catch(() => undefined);
  }
  const watches = sim.requests.slice(before).filter((r) => r.path.endsWith('/jobs') && r.query.watch === 'true');
  assert.equal(watches.length, 3, 'one watch and two reconnections');
  assert.equal(watches[0].query.resourceVersion, undefined);
  for (const w of watches.slice(1)) assert.match(w.query.resourceVersion ?? '', /^\d+$/, 'reconnections resume from a resourceVersion');
  assert.deepEqual(reconnects, ['watch closed by the server', 'watch closed by the server']);
});

test('a watch the client cuts for silence (its inactivity timer) reconnects instead of failing', async () => {
  sim.kubelet.when(
    { image: 'quiet:1' },
    behaviours.fn(async (c) => (await new Promise((r) => setTimeout(r, 400)), c.attempt)),
  );
  const name = jobName();
  await client.createJob(job(name, 'quiet:1'));
  const reconnects: string[] = [];
  const done = await client.waitForJob(name, { timeoutMs: 10_000, idleTimeoutMs: 100, onReconnect: (r) => reconnects.push(r) });
  assert.equal(jobState(done).state, 'complete');
  assert.ok(
    reconnects.some((r) => /watch failed \(.*aborted due to timeout/.test(r)),
    reconnects.join('; '),
  );
});

test('an expired resourceVersion (410 Gone) makes the watch list again', async () => {
  const g = gate();
  sim.kubelet.when(
    { image: 'gate:2' },
    behaviours.fn(async () => (await g.wait, 0)),
  );
  const name = jobName();
  const created = await client.createJob(job(name, 'gate:2'));
  await podWhere(created, (p) => p.status?.phase === 'Running');
  const reconnects: string[] = [];
  let seen!: () => void;
  const firstEvent = new Promise<void>((r) => (seen = r));
  const waiting = client.watch(
    'jobs',
    (_type, j) => {
      seen();
      return jobState(j).state === 'active' ? undefined : j;
    },
    { name, timeoutMs: 10_000, onReconnect: (r) => reconnects.push(r) },
  );
  try {
    await firstEvent;
    // Other writes move the store past the watch's resourceVersion; compaction then forgets it.
    await client.createJob(job(jobName(), 'other:1'));
    sim.compact();
    assert.equal(sim.closeWatches('/jobs'), 1);
    await until(() => reconnects.length >= 2 && sim.openWatches('/jobs') > 0);
  } finally {
    g.open();
  }
  assert.equal(jobState(await waiting).state, 'complete');
  assert.deepEqual(reconnects.slice(0, 2), ['watch closed by the server', 'resourceVersion expired (410 Gone): listing again']);
});

test('a log stream cut mid-way is resumed without repeating lines', async () => {
  const g = gate();
  sim.kubelet.when(
    { image: 'log:1' },
    behaviours.fn(async (c) => {
      c.log('one');
      c.log('two');
      await g.wait;
      c.log('three');
      return 0;
    }),
  );
  const name = jobName();
  const created = await client.createJob(job(name, 'log:1'));
  const pod = await podWhere(created, (p) => containerStarted(p, 'main'));
  const lines: string[] = [];
  const following = client.followLogs(pod.metadata!.name!, 'main', (l) => lines.push(l));
  while (lines.length < 2) await new Promise((r) => setTimeout(r, 10));
  assert.equal(sim.closeLogStreams(), 1);
  await new Promise((r) => setTimeout(r, 150));
  g.open();
  const result = await following;
  assert.deepEqual(lines, ['one', 'two', 'three']);
  assert.equal(result.reconnects, 1);
});

test('404 and 409 come back as the API server sends them', async () => {
  assert.equal(await client.getJob('missing'), undefined);
  assert.equal(await client.deleteJob('missing'), false);
  const batch = sim.kubeConfig('ml').makeApiClient(BatchV1Api);
  await assert.rejects(batch.readNamespacedJob({ name: 'missing', namespace: 'ml' }), (err: unknown) => {
    assert.deepEqual(apiStatus(err), { code: 404, reason: 'NotFound', message: 'jobs.batch "missing" not found' });
    return true;
  });
  const name = jobName();
  await client.createJob(job(name, 'any:1'));
  await assert.rejects(client.createJob(job(name, 'any:1')), (err: unknown) => {
    assert.ok(err instanceof ModelshipError);
    assert.equal(err.message, `cannot create Job ${name} in namespace ml (HTTP 409 AlreadyExists): jobs.batch "${name}" already exists`);
    assert.match(err.hint ?? '', /delete it/);
    return true;
  });
  await assert.rejects(
    client.createJob({ metadata: { name: jobName() }, spec: { template: { spec: { containers: [{ name: 'main', image: 'x' }] } } } }),
    /HTTP 422 Invalid.*spec\.template\.spec\.restartPolicy: Unsupported value: "Always"/,
  );
});

test('label and field selectors filter pods as the API server does', async () => {
  const core = sim.kubeConfig('sel').makeApiClient(CoreV1Api);
  const mk = (name: string, labels: Record<string, string>) =>
    core.createNamespacedPod({
      namespace: 'sel',
      body: { metadata: { name, labels }, spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'x:1' }] } },
    });
  await mk('a', { app: 'web', tier: 'front' });
  await mk('b', { app: 'web', tier: 'back' });
  await mk('c', { app: 'batch' });
  const names = async (labelSelector?: string, fieldSelector?: string) =>
    (await client.listPods('sel', { ...(labelSelector ? { labelSelector } : {}), ...(fieldSelector ? { fieldSelector } : {}) }))
      .map((p) => p.metadata?.name)
      .sort();
  const table: [string, string[]][] = [
    ['app=web', ['a', 'b']],
    ['app==web,tier=back', ['b']],
    ['app!=web', ['c']],
    ['tier in (front, back)', ['a', 'b']],
    ['tier notin (front)', ['b', 'c']],
    ['tier', ['a', 'b']],
    ['!tier', ['c']],
  ];
  for (const [sel, want] of table) assert.deepEqual(await names(sel), want, sel);
  assert.deepEqual(await names(undefined, 'metadata.name=b'), ['b']);
  assert.deepEqual(await names('app=web', 'metadata.name!=b'), ['a']);
  await assert.rejects(names(undefined, 'spec.containers=x'), /HTTP 400 BadRequest\): field label not supported: spec.containers/);
});

test('deleting a Job: Background removes its pods, Orphan keeps them without the owner', async () => {
  sim.kubelet.when({ image: 'srv:1' }, behaviours.forever());
  const a = jobName();
  const ja = await client.createJob(job(a, 'srv:1'));
  await podWhere(ja, (p) => p.status?.phase === 'Running');
  assert.equal(await client.deleteJob(a), true);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal((await client.findJobPods(ja)).length, 0);

  const b = jobName();
  const jb = await client.createJob(job(b, 'srv:1'));
  await podWhere(jb, (p) => p.status?.phase === 'Running');
  assert.equal(await client.deleteJob(b, 'ml', 'Orphan'), true);
  const left = await client.findJobPods(jb);
  assert.equal(left.length, 1);
  assert.equal(left[0].metadata?.ownerReferences, undefined);
  await sim.kubeConfig('ml').makeApiClient(CoreV1Api).deleteNamespacedPod({ name: left[0].metadata!.name!, namespace: 'ml' });
});

test('patches: JSON patch (the client default), merge patch, and a stale resourceVersion conflicts', async () => {
  const batch = sim.kubeConfig('ml').makeApiClient(BatchV1Api);
  const name = jobName();
  const created = await client.createJob(job(name, 'any:2'));
  const patched = await batch.patchNamespacedJob({
    name,
    namespace: 'ml',
    body: [{ op: 'add', path: '/metadata/labels/stage', value: 'one' }],
  });
  assert.equal(patched.metadata?.labels?.stage, 'one');
  const merged = await batch.patchNamespacedJob(
    { name, namespace: 'ml', body: { metadata: { labels: { stage: null, owner: 'me' } } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
  assert.deepEqual(merged.metadata?.labels, { team: 'ml', owner: 'me' });
  assert.ok(Number(merged.metadata?.resourceVersion) > Number(created.metadata?.resourceVersion));
  await assert.rejects(
    batch.replaceNamespacedJob({ name, namespace: 'ml', body: { ...created } }),
    (err: unknown) => apiStatus(err)?.reason === 'Conflict',
  );
  await client.deleteJob(name);
});

/**
 * The simulator's kubelet as the client sees it: readiness, liveness and startup probes on their
 * schedule; init containers and the status fields kubectl turns into Init:Error and
 * Init:CrashLoopBackOff; CrashLoopBackOff with the previous run's log; image pull errors and
 * OOMKilled; Events; and a real local process as the container, probed over HTTP.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { PassThrough } from 'node:stream';
import { CoreV1Api, Log, type V1Container, type V1Pod } from '@kubernetes/client-node';
import { behaviours, eventType, podType, startSimulator, type Pod, type Simulator } from '../k8s-sim/index.ts';

let sim: Simulator;
let core: CoreV1Api;
const NS = 'kubelet';
let n = 0;

before(async () => {
  sim = await startSimulator({ timing: { timeScale: 0.01, restartBackoffMs: 10 } });
  core = sim.kubeConfig(NS).makeApiClient(CoreV1Api);
});
after(async () => {
  await sim.close();
});

async function run(containers: V1Container[], extra: Partial<NonNullable<V1Pod['spec']>> = {}): Promise<string> {
  const name = `p-${++n}`;
  await core.createNamespacedPod({ namespace: NS, body: { metadata: { name }, spec: { containers, ...extra } } });
  return name;
}

const pod = (name: string): Pod | undefined => sim.store.find(podType, NS, name) as Pod | undefined;
const history = (name: string): Pod[] =>
  sim.store.history
    .filter((e) => e.resource === podType && e.object.metadata.name === name && e.object.metadata.namespace === NS)
    .map((e) => e.object as Pod);
const ready = (p: Pod | undefined): boolean => p?.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
const eventsOf = (name: string): { reason: string; message: string; type: string; count: number }[] =>
  sim.store
    .list(eventType, NS)
    .filter((e) => (e['involvedObject'] as { name: string }).name === name)
    .map((e) => ({
      reason: e['reason'] as string,
      message: e['message'] as string,
      type: e['type'] as string,
      count: e['count'] as number,
    }));

/** The STATUS column of `kubectl get pods`, as kubectl's printer derives it from the pod status. */
function kubectlStatus(p: Pod): string {
  const s = p.status ?? {};
  let reason = s.reason ?? s.phase ?? '';
  const inits = s.initContainerStatuses ?? [];
  let initializing = false;
  for (const [i, c] of inits.entries()) {
    const t = c.state.terminated;
    if (t && t.exitCode === 0) continue;
    initializing = true;
    if (t) reason = t.reason ? `Init:${t.reason}` : `Init:ExitCode:${t.exitCode}`;
    else if (c.state.waiting?.reason && c.state.waiting.reason !== 'PodInitializing') reason = `Init:${c.state.waiting.reason}`;
    else reason = `Init:${i}/${inits.length}`;
    break;
  }
  if (!initializing) {
    let running = false;
    for (const c of [...(s.containerStatuses ?? [])].reverse()) {
      if (c.state.waiting?.reason) reason = c.state.waiting.reason;
      else if (c.state.terminated?.reason) reason = c.state.terminated.reason;
      else if (c.state.running && c.ready) running = true;
    }
    if (reason === 'Completed' && running) reason = 'Running';
  }
  return p.metadata.deletionTimestamp ? 'Terminating' : reason;
}

const probe = (extra: Record<string, unknown> = {}) => ({
  httpGet: { path: '/healthz', port: 8080 },
  periodSeconds: 1,
  failureThreshold: 1,
  ...extra,
});

test('readiness: a plain image with a readinessProbe turns ready after initialDelaySeconds; without one, as soon as it runs', async () => {
  const probed = await run([{ name: 'main', image: 'plain:1', readinessProbe: probe({ initialDelaySeconds: 20 }) }]);
  const unprobed = await run([{ name: 'main', image: 'plain:1' }]);
  await sim.waitFor(() => ready(pod(probed)) && ready(pod(unprobed)));
  const states = (name: string): string[] => {
    const out: string[] = [];
    for (const p of history(name)) {
      const c = p.status?.containerStatuses?.[0];
      const label = `${c?.state.running ? 'running' : 'waiting'}/${c?.ready ? 'ready' : 'not ready'}`;
      if (c && out.at(-1) !== label) out.push(label);
    }
    return out;
  };
  assert.deepEqual(states(probed), ['waiting/not ready', 'running/not ready', 'running/ready']);
  assert.deepEqual(states(unprobed), ['waiting/not ready', 'running/ready']);
  const p = pod(probed)!;
  assert.equal(p.status?.phase, 'Running');
  assert.deepEqual(
    p.status?.conditions?.map((c) => [c.type, c.status]),
    [
      ['PodReadyToStartContainers', 'True'],
      ['Initialized', 'True'],
      ['Ready', 'True'],
      ['ContainersReady', 'True'],
      ['PodScheduled', 'True'],
    ],
  );
  assert.deepEqual(
    eventsOf(probed).map((e) => e.reason),
    ['Scheduled', 'Pulled', 'Created', 'Started'],
  );
});

test('readiness that never comes: Ready False with ContainersNotReady, Unhealthy events counted', async () => {
  sim.kubelet.when({ image: 'never:1' }, behaviours.neverReady());
  const name = await run([{ name: 'main', image: 'never:1', readinessProbe: probe() }]);
  const unhealthy = await sim.waitFor(() => eventsOf(name).find((e) => e.reason === 'Unhealthy' && e.count >= 3));
  assert.equal(unhealthy.message, 'Readiness probe failed: HTTP probe failed with statuscode: 503');
  assert.equal(unhealthy.type, 'Warning');
  const p = pod(name)!;
  assert.equal(p.status?.phase, 'Running');
  const c = p.status?.conditions?.find((x) => x.type === 'Ready');
  assert.deepEqual([c?.status, c?.reason, c?.message], ['False', 'ContainersNotReady', 'containers with unready status: [main]']);
  await core.deleteNamespacedPod({ name, namespace: NS, gracePeriodSeconds: 0 });
});

test('flapping readiness: Ready goes True, False, True as the probe passes and fails', async () => {
  sim.kubelet.when({ image: 'flap:1' }, behaviours.flapping(60));
  const name = await run([{ name: 'main', image: 'flap:1', readinessProbe: probe() }]);
  const transitions = (): string[] => {
    const out: string[] = [];
    for (const p of history(name)) {
      const r = ready(p) ? 'T' : 'F';
      if (out.at(-1) !== r) out.push(r);
    }
    return out;
  };
  await sim.waitFor(() => transitions().join('').includes('TFT'));
  await core.deleteNamespacedPod({ name, namespace: NS, gracePeriodSeconds: 0 });
});

test('a failing liveness probe kills and restarts the container', async () => {
  sim.kubelet.when({ image: 'sick:1' }, behaviours.livenessFails(0));
  const name = await run([{ name: 'main', image: 'sick:1', livenessProbe: probe({ failureThreshold: 2 }) }]);
  const p = await sim.waitFor(() => {
    const x = pod(name);
    return (x?.status?.containerStatuses?.[0].restartCount ?? 0) >= 1 ? x : undefined;
  });
  const c = p.status!.containerStatuses![0];
  assert.equal(c.lastState.terminated?.reason, 'Error');
  const events = eventsOf(name);
  assert.ok(events.some((e) => e.reason === 'Unhealthy' && e.message === 'Liveness probe failed: HTTP probe failed with statuscode: 503'));
  assert.ok(events.some((e) => e.reason === 'Killing' && e.message === 'Container main failed liveness probe, will be restarted'));
  await core.deleteNamespacedPod({ name, namespace: NS, gracePeriodSeconds: 0 });
});

test('a startup probe holds readiness and liveness back until it passes; started turns true then', async () => {
  sim.kubelet.when(
    { image: 'slowstart:1' },
    behaviours.withProbes(behaviours.forever(), { startup: (p) => p.count >= 3, readiness: () => true }),
  );
  const name = await run([{ name: 'main', image: 'slowstart:1', startupProbe: probe({ failureThreshold: 10 }), readinessProbe: probe() }]);
  await sim.waitFor(() => ready(pod(name)));
  const seen = history(name)
    .map((p) => p.status?.containerStatuses?.[0])
    .filter((c) => c?.state.running);
  assert.ok(
    seen.some((c) => c?.started === false && !c.ready),
    'running, not started, not ready first',
  );
  assert.ok(seen.at(-1)?.started === true && seen.at(-1)?.ready === true);
  assert.equal(
    eventsOf(name).filter((e) => e.reason === 'Unhealthy' && e.message.startsWith('Startup probe failed')).length,
    1,
    'one event, counted',
  );
});

test('init containers run one by one before the main containers', async () => {
  const order: string[] = [];
  sim.kubelet.when(
    { image: 'step:1' },
    behaviours.fn((c) => (order.push(c.container.name), 0)),
  );
  sim.kubelet.when(
    { image: 'app:1' },
    behaviours.fn(
      async (c) => (order.push(c.container.name), await new Promise<number>((r) => c.signal.addEventListener('abort', () => r(0)))),
    ),
  );
  const name = await run([{ name: 'main', image: 'app:1' }], {
    initContainers: [
      { name: 'pull', image: 'step:1' },
      { name: 'verify', image: 'step:1' },
    ],
  });
  const p = await sim.waitFor(() => (ready(pod(name)) ? pod(name) : undefined));
  assert.deepEqual(order, ['pull', 'verify', 'main']);
  assert.deepEqual(
    p.status?.initContainerStatuses?.map((c) => [c.name, c.state.terminated?.reason, c.ready]),
    [
      ['pull', 'Completed', true],
      ['verify', 'Completed', true],
    ],
  );
  const states = history(name).map(kubectlStatus);
  assert.ok(states.includes('Init:0/2') && states.includes('Init:1/2'), states.join(' '));
  assert.equal(kubectlStatus(p), 'Running');
  await core.deleteNamespacedPod({ name, namespace: NS, gracePeriodSeconds: 0 });
});

test('a failing init container: Init:Error then Init:CrashLoopBackOff (restartPolicy Always), Init:Error and Failed (Never)', async () => {
  sim.kubelet.when({ image: 'pull:bad' }, behaviours.crash(['pulling fashion@sha256:abc', 'error: unauthorized'], 1));
  const always = await run([{ name: 'main', image: 'app:2' }], { initContainers: [{ name: 'pull', image: 'pull:bad' }] });
  const looping = await sim.waitFor(() => {
    const p = pod(always);
    return p?.status?.initContainerStatuses?.[0].state.waiting?.reason === 'CrashLoopBackOff' ? p : undefined;
  });
  assert.ok(history(always).map(kubectlStatus).includes('Init:Error'));
  assert.equal(kubectlStatus(looping), 'Init:CrashLoopBackOff');
  assert.equal(looping.status?.phase, 'Pending');
  const init = looping.status?.initContainerStatuses?.[0];
  assert.equal(init?.lastState.terminated?.exitCode, 1);
  assert.equal(looping.status?.containerStatuses?.[0].state.waiting?.reason, 'PodInitializing');
  const c = looping.status?.conditions?.find((x) => x.type === 'Initialized');
  assert.deepEqual([c?.status, c?.reason, c?.message], ['False', 'ContainersNotInitialized', 'containers with incomplete status: [pull]']);
  const lines = await readLog(always, 'pull', true);
  assert.equal(lines, 'pulling fashion@sha256:abc\nerror: unauthorized\n');

  const never = await run([{ name: 'main', image: 'app:2' }], {
    restartPolicy: 'Never',
    initContainers: [{ name: 'pull', image: 'pull:bad' }],
  });
  const failed = await sim.waitFor(() => (pod(never)?.status?.phase === 'Failed' ? pod(never) : undefined));
  assert.equal(kubectlStatus(failed), 'Init:Error');
  await core.deleteNamespacedPod({ name: always, namespace: NS, gracePeriodSeconds: 0 });
});

async function readLog(name: string, container: string, previous: boolean): Promise<string> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d: Buffer) => (text += d.toString()));
  const done = new Promise((r) => out.on('end', r));
  await new Log(sim.kubeConfig(NS)).log(NS, name, container, out, { previous });
  await done;
  return text;
}

test('CrashLoopBackOff: restarts with a growing back-off, the last run in /log?previous=true', async () => {
  sim.kubelet.when(
    { image: 'crash:1' },
    behaviours.fn((c) => {
      c.log(`run ${c.attempt + 1}: loading model`);
      c.log('Error: model.json is corrupt');
      return 1;
    }),
  );
  const name = await run([{ name: 'main', image: 'crash:1' }]);
  const p = await sim.waitFor(() => {
    const x = pod(name);
    const c = x?.status?.containerStatuses?.[0];
    return (c?.restartCount ?? 0) >= 2 && c?.state.waiting?.reason === 'CrashLoopBackOff' ? x : undefined;
  });
  const c = p.status!.containerStatuses![0];
  assert.equal(p.status?.phase, 'Running');
  assert.equal(kubectlStatus(p), 'CrashLoopBackOff');
  assert.equal(c.lastState.terminated?.exitCode, 1);
  assert.equal(c.lastState.terminated?.reason, 'Error');
  assert.match(c.state.waiting?.message ?? '', /^back-off (20|40)s restarting failed container=main pod=/);
  const previous = await readLog(name, 'main', true);
  assert.match(previous, /^run \d: loading model\nError: model\.json is corrupt\n$/);
  assert.ok(eventsOf(name).some((e) => e.reason === 'BackOff' && e.message.startsWith('Back-off restarting failed container main in pod')));
  await core.deleteNamespacedPod({ name, namespace: NS, gracePeriodSeconds: 0 });
});

test('image pull errors: ErrImagePull, then ImagePullBackOff, until the image can be pulled', async () => {
  const rule = sim.kubelet.rule({ image: 'ghcr.io/acme/missing:1' }, behaviours.imagePullBackOff());
  const name = await run([{ name: 'main', image: 'ghcr.io/acme/missing:1' }]);
  const backoff = await sim.waitFor(() => pod(name)?.status?.containerStatuses?.[0].state.waiting?.reason === 'ImagePullBackOff');
  assert.ok(backoff);
  const reasons = history(name).map((p) => p.status?.containerStatuses?.[0].state.waiting?.reason);
  assert.ok(reasons.indexOf('ErrImagePull') < reasons.indexOf('ImagePullBackOff'));
  const events = eventsOf(name).map((e) => `${e.reason}: ${e.message}`);
  assert.ok(events.some((e) => /^Failed: Failed to pull image "ghcr\.io\/acme\/missing:1": .*pull access denied/.test(e)));
  assert.ok(events.includes('BackOff: Back-off pulling image "ghcr.io/acme/missing:1"'));
  rule.remove();
  await sim.waitFor(() => ready(pod(name)));
  await core.deleteNamespacedPod({ name, namespace: NS, gracePeriodSeconds: 0 });
});

test('OOMKilled: exit 137 with reason OOMKilled, kept in lastState across the restart', async () => {
  sim.kubelet.when({ image: 'hungry:1' }, behaviours.oomKilled(['allocating 8 GiB']));
  const name = await run([{ name: 'main', image: 'hungry:1', resources: { limits: { memory: '512Mi' } } }]);
  const p = await sim.waitFor(() => (pod(name)?.status?.containerStatuses?.[0].restartCount ? pod(name) : undefined));
  assert.deepEqual(
    [p.status?.containerStatuses?.[0].lastState.terminated?.reason, p.status?.containerStatuses?.[0].lastState.terminated?.exitCode],
    ['OOMKilled', 137],
  );
  await core.deleteNamespacedPod({ name, namespace: NS, gracePeriodSeconds: 0 });
});

test('a real local process as the container: it listens on its assigned port, HTTP probes and the proxy reach it, SIGTERM stops it', async () => {
  sim.kubelet.when(
    { image: 'modelship/server:test' },
    behaviours.exec((c) => ({
      command: process.execPath,
      args: [
        '-e',
        `const s = require('node:http').createServer((q, r) => {
           r.setHeader('Content-Type', 'text/plain');
           r.end(q.url === '/v2/health/ready' ? 'ready' : 'hello ' + process.env.MODEL);
         });
         s.listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening on ' + process.env.PORT));
         process.on('SIGTERM', () => { console.log('bye'); s.close(); });`,
      ],
      env: { PORT: String(c.port(8080)) },
    })),
  );
  const name = await run([
    {
      name: 'server',
      image: 'modelship/server:test',
      env: [{ name: 'MODEL', value: 'fashion' }],
      ports: [{ containerPort: 8080, name: 'http' }],
      readinessProbe: { httpGet: { path: '/v2/health/ready', port: 'http' }, periodSeconds: 1 },
    },
  ]);
  await sim.waitFor(() => ready(pod(name)), 20_000, 'the process to be ready');
  assert.equal(await core.connectGetNamespacedPodProxyWithPath({ name: `${name}:8080`, namespace: NS, path: 'hello' }), 'hello fashion');
  await core.deleteNamespacedPod({ name, namespace: NS });
  await sim.waitFor(() => pod(name) === undefined, 20_000, 'the pod to be removed');
  const last = history(name).at(-1)?.status?.containerStatuses?.[0].state.terminated;
  assert.deepEqual([last?.exitCode, last?.reason], [0, 'Completed'], 'it exited on SIGTERM');
});

test('while CrashLoopBackOff waits, both the log and the previous log are the run that just crashed', async () => {
  const slow = await startSimulator({ timing: { timeScale: 0.01, restartBackoffMs: 60_000 } });
  try {
    slow.kubelet.when(
      { image: 'crash:2' },
      behaviours.fn((c) => {
        c.log(`run ${c.attempt + 1}`);
        return 1;
      }),
    );
    const c = slow.kubeConfig(NS).makeApiClient(CoreV1Api);
    await c.createNamespacedPod({
      namespace: NS,
      body: { metadata: { name: 'cl' }, spec: { containers: [{ name: 'main', image: 'crash:2' }] } },
    });
    const waiting = await slow.waitFor(() => {
      const s = (slow.store.find(podType, NS, 'cl') as Pod | undefined)?.status?.containerStatuses?.[0];
      return s?.state.waiting?.reason === 'CrashLoopBackOff' ? s : undefined;
    });
    assert.equal(waiting.restartCount, 1, 'the first restart came at once, the second waits');
    assert.match(waiting.state.waiting?.message ?? '', /^back-off 10s restarting failed container=main pod=cl_kubelet\(/);
    const read = async (previous: boolean): Promise<string> => {
      const out = new PassThrough();
      let text = '';
      out.on('data', (d: Buffer) => (text += d.toString()));
      const done = new Promise((r) => out.on('end', r));
      await new Log(slow.kubeConfig(NS)).log(NS, 'cl', 'main', out, { previous });
      await done;
      return text;
    };
    assert.equal(await read(true), 'run 2\n');
    assert.equal(await read(false), 'run 2\n');
  } finally {
    await slow.close();
  }
});

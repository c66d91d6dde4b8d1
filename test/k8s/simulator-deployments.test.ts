/**
 * The simulator's Deployment and ReplicaSet controllers, through the real client: rolling updates
 * within maxSurge/maxUnavailable, Recreate, revisions and rollback, the Progressing and Available
 * conditions (ProgressDeadlineExceeded included), minReadySeconds, paused, revisionHistoryLimit,
 * /scale, and the status `kubectl rollout status` reads never claiming success from stale state.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { AppsV1Api, CoreV1Api, PatchStrategy, Watch, setHeaderOptions, type V1Deployment } from '@kubernetes/client-node';
import {
  behaviours,
  deploymentType,
  podType,
  replicaSetType,
  resolveFenceposts,
  REVISION,
  REVISION_HISTORY,
  startSimulator,
  type Deployment,
  type Pod,
  type ReplicaSet,
  type Simulator,
} from '../k8s-sim/index.ts';

let sim: Simulator;
let apps: AppsV1Api;
let core: CoreV1Api;
const NS = 'deploy';
let n = 0;

before(async () => {
  // Seconds become 10 ms: a 10 s probe period is 100 ms, a 30 s progress deadline 300 ms.
  sim = await startSimulator({ timing: { timeScale: 0.01 } });
  apps = sim.kubeConfig(NS).makeApiClient(AppsV1Api);
  core = sim.kubeConfig(NS).makeApiClient(CoreV1Api);
});
after(async () => {
  await sim.close();
});

function deployment(name: string, image: string, spec: Partial<NonNullable<V1Deployment['spec']>> = {}): V1Deployment {
  return {
    metadata: { name, labels: { app: name } },
    spec: {
      replicas: 4,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          containers: [
            {
              name: 'main',
              image,
              ports: [{ containerPort: 8080, name: 'http' }],
              readinessProbe: { httpGet: { path: '/v2/health/ready', port: 8080 }, initialDelaySeconds: 1, periodSeconds: 1 },
            },
          ],
        },
      },
      ...spec,
    },
  };
}

const get = (name: string): Deployment => sim.store.get(deploymentType, NS, name) as Deployment;
const replicaSets = (name: string): ReplicaSet[] =>
  (sim.store.list(replicaSetType, NS) as ReplicaSet[]).filter((rs) => rs.metadata.ownerReferences?.some((r) => r.name === name));
const isReady = (p: Pod): boolean => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

/** `kubectl rollout status`'s verdict on a Deployment object. */
function rolloutStatus(d: Deployment): 'done' | 'waiting' | 'failed' {
  const s = d.status ?? {};
  if ((d.metadata.generation ?? 0) > (s.observedGeneration ?? 0)) return 'waiting';
  if (s.conditions?.some((c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded')) return 'failed';
  const want = d.spec.replicas ?? 1;
  if ((s.updatedReplicas ?? 0) < want) return 'waiting';
  if ((s.replicas ?? 0) > (s.updatedReplicas ?? 0)) return 'waiting';
  if ((s.availableReplicas ?? 0) < (s.updatedReplicas ?? 0)) return 'waiting';
  return 'done';
}

const rolledOut = (name: string, generation?: number): Promise<Deployment> =>
  sim.waitFor(
    () => {
      const d = get(name);
      return rolloutStatus(d) === 'done' && (generation === undefined || d.status?.observedGeneration === generation) ? d : undefined;
    },
    10_000,
    `rollout of ${name}`,
  );

async function setImage(name: string, image: string): Promise<V1Deployment> {
  return apps.patchNamespacedDeployment(
    { name, namespace: NS, body: { spec: { template: { spec: { containers: [{ name: 'main', image }] } } } } },
    setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
  );
}

/** Replays the store's history: for each change at or after `fromRv`, the pods of `name` as they were then. */
function podTimeline(name: string, fromRv: number): Pod[][] {
  const pods = new Map<string, Pod>();
  const rsOwner = new Map<string, string>();
  const out: Pod[][] = [];
  for (const e of sim.store.history) {
    if (e.resource === replicaSetType && e.type !== 'DELETED' && e.object.metadata.ownerReferences?.some((r) => r.name === name))
      rsOwner.set(e.object.metadata.uid!, name);
    if (e.resource !== podType) continue;
    const owner = e.object.metadata.ownerReferences?.find((r) => r.kind === 'ReplicaSet');
    if (!owner || !rsOwner.has(owner.uid)) continue;
    if (e.type === 'DELETED') pods.delete(e.object.metadata.uid!);
    else pods.set(e.object.metadata.uid!, e.object as Pod);
    if (e.rv >= fromRv) out.push([...pods.values()]);
  }
  return out;
}

test('maxSurge and maxUnavailable become pod counts as the controller rounds them', () => {
  // [maxSurge, maxUnavailable, replicas] → [surge, unavailable]: surge rounds up, unavailable down, never both 0.
  const table: [number | string, number | string, number, [number, number]][] = [
    ['25%', '25%', 4, [1, 1]],
    ['25%', '25%', 10, [3, 2]],
    ['25%', '25%', 1, [1, 0]],
    [1, 0, 4, [1, 0]],
    [0, 1, 4, [0, 1]],
    ['0%', '0%', 3, [0, 1]],
    [0, 0, 3, [0, 1]],
    ['50%', '50%', 3, [2, 1]],
    ['100%', '0%', 3, [3, 0]],
    [2, '34%', 3, [2, 1]],
  ];
  for (const [surge, unavailable, replicas, want] of table)
    assert.deepEqual(resolveFenceposts(surge, unavailable, replicas), want, `${surge}/${unavailable} of ${replicas}`);
});

test('creation: one ReplicaSet <name>-<pod-template-hash>, revision 1, pods owned by it, then NewReplicaSetAvailable', async () => {
  const name = `create-${++n}`;
  const created = await apps.createNamespacedDeployment({ namespace: NS, body: deployment(name, 'server:1') });
  assert.equal(created.metadata?.generation, 1);
  assert.equal(created.spec?.strategy?.type, 'RollingUpdate', 'defaults as the API server sets them');
  assert.equal(created.spec?.strategy?.rollingUpdate?.maxSurge, '25%');
  assert.equal(created.spec?.revisionHistoryLimit, 10);
  assert.equal(created.spec?.progressDeadlineSeconds, 600);
  assert.equal(created.status?.observedGeneration, undefined, 'the controller has not seen it yet');
  const d = await rolledOut(name);
  const [rs] = replicaSets(name);
  const hash = rs.metadata.labels?.['pod-template-hash'];
  assert.match(hash ?? '', /^[bcdfghjklmnpqrstvwxz2456789]{6,10}$/);
  assert.equal(rs.metadata.name, `${name}-${hash}`);
  assert.equal(rs.spec.selector?.matchLabels?.['pod-template-hash'], hash);
  assert.equal(rs.metadata.annotations?.[REVISION], '1');
  assert.equal(rs.metadata.annotations?.['deployment.kubernetes.io/desired-replicas'], '4');
  assert.equal(rs.metadata.annotations?.['deployment.kubernetes.io/max-replicas'], '5');
  assert.equal(d.metadata.annotations?.[REVISION], '1');
  assert.deepEqual(
    d.status?.conditions?.map((c) => [c.type, c.status, c.reason]),
    [
      ['Available', 'True', 'MinimumReplicasAvailable'],
      ['Progressing', 'True', 'NewReplicaSetAvailable'],
    ],
  );
  assert.equal(
    d.status?.conditions?.find((c) => c.type === 'Progressing')?.message,
    `ReplicaSet "${rs.metadata.name}" has successfully progressed.`,
  );
  const pods = (await core.listNamespacedPod({ namespace: NS, labelSelector: `app=${name}` })).items;
  assert.equal(pods.length, 4);
  for (const p of pods) {
    assert.ok(p.metadata?.name?.startsWith(`${rs.metadata.name}-`));
    assert.deepEqual(
      p.metadata?.ownerReferences?.map((r) => [r.kind, r.name, r.controller]),
      [['ReplicaSet', rs.metadata.name, true]],
    );
  }
  // The Progressing reasons it went through, in order.
  const reasons: string[] = [];
  for (const e of sim.store.history)
    if (e.resource === deploymentType && e.object.metadata.name === name) {
      const r = (e.object as Deployment).status?.conditions?.find((c) => c.type === 'Progressing')?.reason;
      if (r && reasons.at(-1) !== r) reasons.push(r);
    }
  assert.deepEqual(reasons, ['NewReplicaSetCreated', 'ReplicaSetUpdated', 'NewReplicaSetAvailable']);
});

for (const [surge, unavailable] of [
  [1, 0],
  [0, 1],
  ['50%', '25%'],
] as const) {
  test(`a rolling update (maxSurge ${surge}, maxUnavailable ${unavailable}) stays within both limits, and never reports success early`, async () => {
    const name = `roll-${++n}`;
    await apps.createNamespacedDeployment({
      namespace: NS,
      body: deployment(name, 'server:1', {
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: surge, maxUnavailable: unavailable } },
      }),
    });
    await rolledOut(name);
    const [s, u] = resolveFenceposts(surge, unavailable, 4);
    const from = Number(sim.store.resourceVersion());
    const updated = await setImage(name, 'server:2');
    assert.equal(updated.metadata?.generation, 2);
    assert.equal(rolloutStatus(updated as Deployment), 'waiting', 'observedGeneration lags the new generation');
    const done = await rolledOut(name, 2);
    assert.equal(done.metadata.annotations?.[REVISION], '2');
    const rss = replicaSets(name);
    assert.equal(rss.length, 2);
    const newRS = rss.find((rs) => rs.metadata.annotations?.[REVISION] === '2')!;
    const oldRS = rss.find((rs) => rs.metadata.annotations?.[REVISION] === '1')!;
    assert.equal(newRS.spec.template.spec.containers[0].image, 'server:2');
    assert.equal(oldRS.spec.replicas, 0);
    assert.equal(newRS.spec.replicas, 4);
    let most = 0;
    let fewestReady = Infinity;
    for (const pods of podTimeline(name, from)) {
      const live = pods.filter((p) => !p.metadata.deletionTimestamp);
      most = Math.max(most, live.length);
      fewestReady = Math.min(fewestReady, live.filter(isReady).length);
    }
    assert.ok(most <= 4 + s, `at most ${4 + s} pods at once, saw ${most}`);
    assert.ok(fewestReady >= 4 - u, `at least ${4 - u} ready pods at all times, saw ${fewestReady}`);
    assert.ok(most > 4 || fewestReady < 4, 'the rollout used its room');
    // No status the Deployment ever had says "done" for generation 2 while fewer than 4 new pods were ready.
    const newPodsReady = new Map<number, number>();
    const pods = new Map<string, Pod>();
    for (const e of sim.store.history) {
      if (e.resource === podType && e.object.metadata.labels?.['pod-template-hash'] === newRS.metadata.labels?.['pod-template-hash']) {
        if (e.type === 'DELETED') pods.delete(e.object.metadata.uid!);
        else pods.set(e.object.metadata.uid!, e.object as Pod);
      }
      newPodsReady.set(e.rv, [...pods.values()].filter((p) => isReady(p) && !p.metadata.deletionTimestamp).length);
      if (e.resource === deploymentType && e.object.metadata.name === name && e.rv >= from) {
        const d = e.object as Deployment;
        if (d.metadata.generation === 2 && rolloutStatus(d) === 'done')
          assert.ok((newPodsReady.get(e.rv) ?? 0) >= 4, `rv ${e.rv}: done with ${newPodsReady.get(e.rv)} new pods ready`);
      }
    }
  });
}

test('a rollback to an earlier template reuses its ReplicaSet with the next revision and keeps the old one in revision-history', async () => {
  const name = `undo-${++n}`;
  await apps.createNamespacedDeployment({ namespace: NS, body: deployment(name, 'server:1', { replicas: 2 }) });
  await rolledOut(name);
  await setImage(name, 'server:2');
  await rolledOut(name, 2);
  const first = replicaSets(name).find((rs) => rs.metadata.annotations?.[REVISION] === '1')!;
  // kubectl rollout undo: the old ReplicaSet's template (without pod-template-hash) back on the Deployment.
  await setImage(name, 'server:1');
  const d = await rolledOut(name, 3);
  const rss = replicaSets(name);
  assert.equal(rss.length, 2, 'no third ReplicaSet');
  const reused = rss.find((rs) => rs.metadata.uid === first.metadata.uid)!;
  assert.equal(reused.metadata.annotations?.[REVISION], '3');
  assert.equal(reused.metadata.annotations?.[REVISION_HISTORY], '1');
  assert.equal(reused.spec.replicas, 2);
  assert.equal(d.metadata.annotations?.[REVISION], '3');
  const second = rss.find((rs) => rs.metadata.uid !== first.metadata.uid)!;
  assert.equal(second.spec.replicas, 0);
  assert.equal(second.metadata.annotations?.[REVISION], '2');
});

test('pods that never become ready: ProgressDeadlineExceeded, Available False, the old pods kept', async () => {
  const name = `stuck-${++n}`;
  await apps.createNamespacedDeployment({
    namespace: NS,
    body: deployment(name, 'server:1', {
      replicas: 2,
      progressDeadlineSeconds: 30,
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
    }),
  });
  await rolledOut(name);
  sim.kubelet.when({ image: 'server:broken' }, behaviours.neverReady());
  await setImage(name, 'server:broken');
  const failed = await sim.waitFor(
    () => {
      const d = get(name);
      return d.status?.conditions?.some((c) => c.reason === 'ProgressDeadlineExceeded') ? d : undefined;
    },
    10_000,
    'ProgressDeadlineExceeded',
  );
  const progressing = failed.status?.conditions?.find((c) => c.type === 'Progressing');
  const newRS = replicaSets(name).find((rs) => rs.metadata.annotations?.[REVISION] === '2')!;
  assert.equal(progressing?.status, 'False');
  assert.equal(progressing?.message, `ReplicaSet "${newRS.metadata.name}" has timed out progressing.`);
  assert.equal(rolloutStatus(failed), 'failed');
  assert.equal(failed.status?.observedGeneration, 2);
  assert.equal(failed.status?.updatedReplicas, 1, 'one surge pod, never ready');
  assert.equal(failed.status?.availableReplicas, 2, 'the old pods still serve');
  assert.equal(failed.status?.unavailableReplicas, 1);
  const events = await core.listNamespacedEvent({ namespace: NS, fieldSelector: `involvedObject.name=${name}` });
  assert.deepEqual(
    events.items.map((e) => [e.reason, e.message]).filter(([, m]) => m?.includes(newRS.metadata.name!)),
    [['ScalingReplicaSet', `Scaled up replica set ${newRS.metadata.name} from 0 to 1`]],
    'the controller records its scaling, not the timeout',
  );
  const pod = (sim.store.list(podType, NS) as Pod[]).find(
    (p) => p.metadata.labels?.['pod-template-hash'] === newRS.metadata.labels?.['pod-template-hash'],
  )!;
  const unhealthy = await core.listNamespacedEvent({
    namespace: NS,
    fieldSelector: `involvedObject.name=${pod.metadata.name},reason=Unhealthy`,
  });
  assert.match(unhealthy.items[0]?.message ?? '', /^Readiness probe failed: HTTP probe failed with statuscode: 503$/);
});

test('a Deployment whose replicas cannot start reports MinimumReplicasUnavailable', async () => {
  const name = `down-${++n}`;
  sim.kubelet.when({ image: 'server:crash' }, behaviours.crash(['boom'], 2));
  await apps.createNamespacedDeployment({ namespace: NS, body: deployment(name, 'server:crash', { replicas: 2 }) });
  const d = await sim.waitFor(() => {
    const x = get(name);
    return x.status?.conditions?.some((c) => c.type === 'Available' && c.status === 'False') && x.status.updatedReplicas === 2
      ? x
      : undefined;
  });
  assert.equal(d.status?.conditions?.find((c) => c.type === 'Available')?.reason, 'MinimumReplicasUnavailable');
  assert.equal(d.status?.availableReplicas, undefined, 'zero counters are left out, as the API server serializes them');
  assert.equal(d.status?.unavailableReplicas, 2);
});

test('Recreate: every old pod is gone before a new one is created', async () => {
  const name = `recreate-${++n}`;
  await apps.createNamespacedDeployment({
    namespace: NS,
    body: deployment(name, 'server:1', { replicas: 3, strategy: { type: 'Recreate' } }),
  });
  assert.equal(get(name).spec.strategy?.rollingUpdate, undefined);
  await rolledOut(name);
  const from = Number(sim.store.resourceVersion());
  await setImage(name, 'server:2');
  await rolledOut(name, 2);
  for (const pods of podTimeline(name, from)) {
    const images = new Set(pods.map((p) => p.spec.containers[0].image));
    assert.ok(!(images.has('server:1') && images.has('server:2')), 'old and new pods never exist together');
  }
});

test('minReadySeconds: availableReplicas trails readyReplicas', async () => {
  const name = `minready-${++n}`;
  await apps.createNamespacedDeployment({ namespace: NS, body: deployment(name, 'server:1', { replicas: 2, minReadySeconds: 20 }) });
  const d = await rolledOut(name);
  assert.equal(d.status?.availableReplicas, 2);
  let sawReadyNotAvailable = false;
  for (const e of sim.store.history)
    if (e.resource === replicaSetType && e.object.metadata.ownerReferences?.some((r) => r.name === name)) {
      const s = (e.object as ReplicaSet).status;
      if ((s?.readyReplicas ?? 0) === 2 && (s?.availableReplicas ?? 0) < 2) sawReadyNotAvailable = true;
    }
  assert.ok(sawReadyNotAvailable, 'the ReplicaSet had 2 ready pods that were not yet available');
  assert.equal(replicaSets(name)[0].spec.minReadySeconds, 20);
});

test('paused: a template change waits (DeploymentPaused), resuming rolls it out (DeploymentResumed)', async () => {
  const name = `pause-${++n}`;
  await apps.createNamespacedDeployment({ namespace: NS, body: deployment(name, 'server:1', { replicas: 2 }) });
  await rolledOut(name);
  const merge = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  await apps.patchNamespacedDeployment({ name, namespace: NS, body: { spec: { paused: true } } }, merge);
  await setImage(name, 'server:2');
  const paused = await sim.waitFor(() => {
    const d = get(name);
    return d.status?.observedGeneration === 3 ? d : undefined;
  });
  assert.deepEqual(
    paused.status?.conditions?.filter((c) => c.type === 'Progressing').map((c) => [c.status, c.reason, c.message]),
    [['Unknown', 'DeploymentPaused', 'Deployment is paused']],
  );
  assert.equal(replicaSets(name).length, 1, 'no new ReplicaSet while paused');
  await apps.patchNamespacedDeployment({ name, namespace: NS, body: { spec: { paused: false } } }, merge);
  await rolledOut(name, 4);
  assert.equal(replicaSets(name).length, 2);
  const reasons = sim.store.history
    .filter((e) => e.resource === deploymentType && e.object.metadata.name === name)
    .map((e) => (e.object as Deployment).status?.conditions?.find((c) => c.type === 'Progressing')?.reason);
  assert.ok(reasons.includes('DeploymentResumed'));
});

test('revisionHistoryLimit: old ReplicaSets beyond the limit are deleted once empty', async () => {
  const name = `history-${++n}`;
  await apps.createNamespacedDeployment({ namespace: NS, body: deployment(name, 'server:1', { replicas: 1, revisionHistoryLimit: 1 }) });
  await rolledOut(name);
  for (const [i, image] of ['server:2', 'server:3', 'server:4'].entries()) {
    await setImage(name, image);
    await rolledOut(name, i + 2);
  }
  const left = await sim.waitFor(() => {
    const rss = replicaSets(name);
    return rss.length === 2 ? rss : undefined;
  });
  assert.deepEqual(left.map((rs) => rs.metadata.annotations?.[REVISION]).sort(), ['3', '4']);
});

test('/scale: reads and patches replicas; scaling is not a rollout', async () => {
  const name = `scale-${++n}`;
  await apps.createNamespacedDeployment({ namespace: NS, body: deployment(name, 'server:1', { replicas: 2 }) });
  await rolledOut(name);
  const scale = await apps.readNamespacedDeploymentScale({ name, namespace: NS });
  assert.equal(scale.spec?.replicas, 2);
  assert.equal(scale.status?.replicas, 2);
  assert.equal(scale.status?.selector, `app=${name}`);
  const scaled = await apps.patchNamespacedDeploymentScale(
    { name, namespace: NS, body: { spec: { replicas: 5 } }, fieldManager: 'autoscaler' },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
  assert.equal(scaled.spec?.replicas, 5);
  const d = await rolledOut(name, 2);
  assert.equal(d.status?.availableReplicas, 5);
  assert.equal(replicaSets(name).length, 1);
  assert.equal(d.metadata.annotations?.[REVISION], '1', 'scaling keeps the revision');
  const entry = d.metadata.managedFields?.find((m) => m.manager === 'autoscaler');
  assert.equal(entry?.subresource, 'scale');
  assert.deepEqual(entry?.fieldsV1, { 'f:spec': { 'f:replicas': {} } });
});

test('scaling in the middle of a rollout scales the ReplicaSets proportionally', async () => {
  const name = `prop-${++n}`;
  sim.kubelet.when({ image: 'server:slow' }, behaviours.readyAfter(60_000));
  await apps.createNamespacedDeployment({
    namespace: NS,
    body: deployment(name, 'server:1', {
      replicas: 10,
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 3, maxUnavailable: 2 } },
    }),
  });
  await rolledOut(name);
  await setImage(name, 'server:slow');
  // Wait for the controller to settle: 5 new (never ready here), old scaled down to 8.
  await sim.waitFor(() => {
    const rss = replicaSets(name);
    return rss.length === 2 && rss.reduce((s, rs) => s + (rs.spec.replicas ?? 0), 0) === 13 ? rss : undefined;
  });
  await apps.patchNamespacedDeploymentScale(
    { name, namespace: NS, body: { spec: { replicas: 20 } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
  const rss = await sim.waitFor(() => {
    const list = replicaSets(name);
    return list.reduce((s, rs) => s + (rs.spec.replicas ?? 0), 0) === 23 ? list : undefined;
  });
  const sizes = rss.map((rs) => [rs.metadata.annotations?.[REVISION], rs.spec.replicas]).sort();
  // 8 old and 5 new of 13 become 23 in proportion: 8·23/13 ≈ 14, 5·23/13 ≈ 9.
  assert.deepEqual(sizes, [
    ['1', 14],
    ['2', 9],
  ]);
});

test('the rollout as a Watch on the Deployment sees observedGeneration catch up before the counts', async () => {
  const name = `watched-${++n}`;
  await apps.createNamespacedDeployment({ namespace: NS, body: deployment(name, 'server:1', { replicas: 2 }) });
  await rolledOut(name);
  const seen: [number, number, string][] = [];
  const ctrl = await new Watch(sim.kubeConfig(NS)).watch(
    `/apis/apps/v1/namespaces/${NS}/deployments`,
    { fieldSelector: `metadata.name=${name}` },
    (_type: string, d: Deployment) => seen.push([d.metadata.generation ?? 0, d.status?.observedGeneration ?? 0, rolloutStatus(d)]),
    () => undefined,
  );
  try {
    await sim.waitFor(() => seen.length > 0);
    await setImage(name, 'server:2');
    await sim.waitFor(() => seen.some(([g, , s]) => g === 2 && s === 'done'));
  } finally {
    ctrl.abort();
  }
  const afterUpdate = seen.filter(([g]) => g === 2);
  assert.deepEqual(afterUpdate[0].slice(0, 2), [2, 1], 'the first event of generation 2 is not observed yet');
  assert.equal(afterUpdate[0][2], 'waiting');
  assert.ok(afterUpdate.findIndex(([, , s]) => s === 'done') > 0);
});

test('invalid Deployments get 422 with the API server causes; the selector is immutable', async () => {
  const name = `invalid-${++n}`;
  const bad = deployment(name, 'server:1');
  bad.spec!.template.metadata!.labels = { app: 'other' };
  await assert.rejects(apps.createNamespacedDeployment({ namespace: NS, body: bad }), (err: { code?: number; body?: string }) => {
    const status = JSON.parse(err.body ?? '{}') as { reason: string; message: string };
    assert.equal(err.code, 422);
    assert.equal(status.reason, 'Invalid');
    assert.match(status.message, /spec\.template\.metadata\.labels: Invalid value: .*`selector` does not match template `labels`/);
    return true;
  });
  const zero = deployment(name, 'server:1', { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 0, maxUnavailable: 0 } } });
  await assert.rejects(apps.createNamespacedDeployment({ namespace: NS, body: zero }), /may not be 0 when `maxSurge` is 0/);
  await apps.createNamespacedDeployment({ namespace: NS, body: deployment(name, 'server:1', { replicas: 1 }) });
  await assert.rejects(
    apps.patchNamespacedDeployment(
      { name, namespace: NS, body: { spec: { selector: { matchLabels: { app: name, extra: 'x' } } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    ),
    /spec\.selector: Invalid value: .*field is immutable/,
  );
});

test('deleting a Deployment deletes its ReplicaSets and their pods', async () => {
  const name = `gone-${++n}`;
  await apps.createNamespacedDeployment({ namespace: NS, body: deployment(name, 'server:1', { replicas: 2 }) });
  await rolledOut(name);
  const status = await apps.deleteNamespacedDeployment({ name, namespace: NS });
  assert.equal(status.status, 'Success');
  await sim.waitFor(
    () => replicaSets(name).length === 0 && (sim.store.list(podType, NS) as Pod[]).every((p) => p.metadata.labels?.app !== name),
  );
});

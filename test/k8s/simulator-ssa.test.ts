/**
 * Server-side apply in the simulator, through the real client (KubernetesObjectApi and the typed
 * APIs with the apply content type): creation, managedFields, pruning, field-level ownership of
 * associative lists, 409 conflicts with the API server's message, force, and request validation.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  AppsV1Api,
  CoreV1Api,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
  type KubernetesObject,
  type V1Deployment,
  type V1ManagedFieldsEntry,
} from '@kubernetes/client-node';
import { deploymentType, fieldSetOf, pathString, startSimulator, toFieldsV1, type Deployment, type Simulator } from '../k8s-sim/index.ts';

let sim: Simulator;
let objects: KubernetesObjectApi;
let apps: AppsV1Api;
const NS = 'ssa';
let n = 0;
const APPLY = setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply);

before(async () => {
  sim = await startSimulator({ timing: { timeScale: 0.01 } });
  objects = KubernetesObjectApi.makeApiClient(sim.kubeConfig(NS));
  apps = sim.kubeConfig(NS).makeApiClient(AppsV1Api);
});
after(async () => {
  await sim.close();
});

interface Status {
  code: number;
  reason: string;
  message: string;
  details?: { causes?: { reason: string; message: string; field: string }[] };
}

/** The Status of a rejected call. */
async function rejection(p: Promise<unknown>): Promise<Status> {
  try {
    await p;
  } catch (err) {
    const e = err as { code?: number; body?: unknown };
    return { ...(JSON.parse(typeof e.body === 'string' ? e.body : '{}') as Status), code: e.code ?? 0 };
  }
  throw new Error('expected the call to fail');
}

function config(
  name: string,
  extra: { replicas?: number; image?: string; labels?: Record<string, string>; env?: { name: string; value: string }[] } = {},
): V1Deployment {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NS, labels: extra.labels ?? { app: name, role: 'stable' } },
    spec: {
      replicas: extra.replicas ?? 2,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: 'main', image: extra.image ?? 'server:1', ...(extra.env ? { env: extra.env } : {}) }] },
      },
    },
  };
}

const applied = (o: KubernetesObject, manager: string, force = false): Promise<KubernetesObject> =>
  objects.patch(o, undefined, undefined, manager, force, PatchStrategy.ServerSideApply);
const entry = (o: { metadata?: { managedFields?: V1ManagedFieldsEntry[] } }, manager: string): V1ManagedFieldsEntry | undefined =>
  o.metadata?.managedFields?.find((m) => m.manager === manager);

test('field sets: leaves, keyed list items (with "."), atomic selectors, FieldsV1 and the paths of conflict messages', () => {
  const set = fieldSetOf({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'x', labels: { app: 'x' } },
    spec: {
      selector: { matchLabels: { app: 'x' } },
      template: { spec: { containers: [{ name: 'main', image: 'a', ports: [{ containerPort: 80 }], args: ['--a'] }] } },
    },
  });
  assert.deepEqual(toFieldsV1(set), {
    'f:metadata': { 'f:labels': { 'f:app': {} } },
    'f:spec': {
      'f:selector': {},
      'f:template': {
        'f:spec': {
          'f:containers': {
            'k:{"name":"main"}': {
              '.': {},
              'f:args': {},
              'f:image': {},
              'f:name': {},
              'f:ports': { 'k:{"containerPort":80,"protocol":"TCP"}': { '.': {}, 'f:containerPort': {} } },
            },
          },
        },
      },
    },
  });
  const paths = [...set.values()].map(pathString);
  assert.ok(paths.includes('.spec.template.spec.containers[name="main"].image'));
  assert.ok(paths.includes('.spec.template.spec.containers[name="main"].ports[containerPort=80,protocol="TCP"]'));
});

test('apply creates the object (201), and records the applier as the owner of exactly what it applied', async () => {
  const name = `create-${++n}`;
  const raw = await fetch(`${sim.url}/apis/apps/v1/namespaces/${NS}/deployments/${name}?fieldManager=modelship`, {
    method: 'PATCH',
    headers: { 'Content-Type': 'application/apply-patch+yaml' },
    body: `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ${name}\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {app: ${name}}\n  template:\n    metadata:\n      labels: {app: ${name}}\n    spec:\n      containers:\n      - name: main\n        image: server:1\n`,
  });
  assert.equal(raw.status, 201);
  const created = (await raw.json()) as Deployment;
  assert.equal(created.spec.strategy?.type, 'RollingUpdate', 'defaulted like any create');
  assert.deepEqual(created.metadata.managedFields, [
    {
      manager: 'modelship',
      operation: 'Apply',
      apiVersion: 'apps/v1',
      time: created.metadata.managedFields?.[0].time,
      fieldsType: 'FieldsV1',
      fieldsV1: {
        'f:spec': {
          'f:replicas': {},
          'f:selector': {},
          'f:template': {
            'f:metadata': { 'f:labels': { 'f:app': {} } },
            'f:spec': { 'f:containers': { 'k:{"name":"main"}': { '.': {}, 'f:image': {}, 'f:name': {} } } },
          },
        },
      },
    },
  ]);
  // Applying the same configuration again changes nothing (the status may have moved meanwhile).
  const same = config(name, { replicas: 1 });
  delete same.metadata!.labels;
  const before = sim.store.get(deploymentType, NS, name);
  const again = await applied(same, 'modelship');
  assert.equal(again.metadata?.generation, 1);
  const [mine] = again.metadata?.managedFields ?? [];
  assert.deepEqual(mine.fieldsV1, before.metadata.managedFields?.[0].fieldsV1);
  assert.equal(mine.time?.getTime(), Date.parse(before.metadata.managedFields?.[0].time ?? ''), 'the entry is untouched');
});

test('re-applying updates what changed and drops what the applier no longer applies', async () => {
  const name = `update-${++n}`;
  const first = (await applied(config(name, { labels: { app: name, role: 'canary', team: 'ml' } }), 'modelship')) as V1Deployment;
  assert.equal(first.metadata?.generation, 1);
  const second = (await applied(config(name, { image: 'server:2', labels: { app: name, role: 'stable' } }), 'modelship')) as V1Deployment;
  assert.deepEqual(second.metadata?.labels, { app: name, role: 'stable' }, 'team is pruned, role updated');
  assert.equal(second.spec?.template.spec?.containers[0].image, 'server:2');
  assert.equal(second.metadata?.generation, 2);
  assert.deepEqual(entry(second, 'modelship')?.fieldsV1, {
    'f:metadata': { 'f:labels': { 'f:app': {}, 'f:role': {} } },
    'f:spec': {
      'f:replicas': {},
      'f:selector': {},
      'f:template': {
        'f:metadata': { 'f:labels': { 'f:app': {} } },
        'f:spec': { 'f:containers': { 'k:{"name":"main"}': { '.': {}, 'f:image': {}, 'f:name': {} } } },
      },
    },
  });
  // The controller's own writes are recorded too, under its name and subresource.
  await sim.waitFor(() => (sim.store.get(deploymentType, NS, name) as Deployment).status?.observedGeneration === 2);
  const d = sim.store.get(deploymentType, NS, name) as Deployment;
  const kcm = d.metadata.managedFields?.find((m) => m.manager === 'kube-controller-manager');
  assert.equal(kcm?.operation, 'Update');
  assert.equal(kcm?.subresource, 'status');
  assert.ok('f:status' in (kcm?.fieldsV1 ?? {}));
  assert.deepEqual(
    d.metadata.managedFields?.map((m) => m.operation),
    ['Apply', 'Update'],
    'Apply entries first, as the API server sorts them',
  );
});

test('a field another applier owns: 409 Conflict with the API server message; force takes it over', async () => {
  const name = `conflict-${++n}`;
  await applied(config(name, { replicas: 2 }), 'modelship');
  const status = await rejection(applied(config(name, { replicas: 5 }), 'autoscaler'));
  assert.equal(status.code, 409);
  assert.equal(status.reason, 'Conflict');
  assert.equal(status.message, 'Apply failed with 1 conflict: conflict with "modelship": .spec.replicas');
  assert.deepEqual(status.details?.causes, [
    { reason: 'FieldManagerConflict', message: 'conflict with "modelship"', field: '.spec.replicas' },
  ]);
  const two = await rejection(applied(config(name, { replicas: 5, image: 'server:9' }), 'autoscaler'));
  assert.equal(
    two.message,
    'Apply failed with 2 conflicts: conflicts with "modelship":\n- .spec.replicas\n- .spec.template.spec.containers[name="main"].image',
  );
  // The same value is no conflict: both own it.
  const specOf = (o: KubernetesObject, m: string): Record<string, unknown> =>
    (entry(o, m)?.fieldsV1 as { 'f:spec'?: Record<string, unknown> } | undefined)?.['f:spec'] ?? {};
  const shared = await applied(config(name, { replicas: 2 }), 'autoscaler');
  assert.ok('f:replicas' in specOf(shared, 'modelship') && 'f:replicas' in specOf(shared, 'autoscaler'));
  const forced = (await applied(config(name, { replicas: 5 }), 'autoscaler', true)) as V1Deployment;
  assert.equal(forced.spec?.replicas, 5);
  assert.ok(!('f:replicas' in specOf(forced, 'modelship')), 'the forced field left the other manager');
  assert.ok('f:replicas' in specOf(forced, 'autoscaler'));
  // Now modelship is the one in conflict.
  const back = await rejection(applied(config(name, { replicas: 2 }), 'modelship'));
  assert.equal(back.message, 'Apply failed with 1 conflict: conflict with "autoscaler": .spec.replicas');
});

test('a field an Update (kubectl scale, a merge patch) changed conflicts with the manager that made it', async () => {
  const name = `update-owner-${++n}`;
  await applied(config(name, { replicas: 2 }), 'modelship');
  await apps.patchNamespacedDeploymentScale(
    { name, namespace: NS, body: { spec: { replicas: 3 } }, fieldManager: 'kubectl' },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
  const status = await rejection(applied(config(name, { replicas: 2 }), 'modelship'));
  assert.equal(
    status.message,
    'Apply failed with 1 conflict: conflict with "kubectl" with subresource "scale" using apps/v1: .spec.replicas',
  );
  await apps.patchNamespacedDeployment(
    { name, namespace: NS, body: { spec: { template: { spec: { containers: [{ name: 'main', image: 'server:hotfix' }] } } } } },
    setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
  );
  const image = await rejection(applied(config(name, { replicas: 3 }), 'modelship'));
  assert.match(
    image.message,
    /conflict with "kubernetes-client-javascript" using apps\/v1: \.spec\.template\.spec\.containers\[name="main"\]\.image/,
  );
});

test('associative lists merge by key: two appliers own different env vars of one container', async () => {
  const name = `env-${++n}`;
  await applied(config(name, { env: [{ name: 'A', value: '1' }] }), 'modelship');
  const partial = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NS },
    spec: { template: { spec: { containers: [{ name: 'main', env: [{ name: 'B', value: '2' }] }] } } },
  };
  const both = (await applied(partial, 'sidecar-injector')) as V1Deployment;
  assert.deepEqual(JSON.parse(JSON.stringify(both.spec?.template.spec?.containers[0].env)), [
    { name: 'A', value: '1' },
    { name: 'B', value: '2' },
  ]);
  assert.equal(both.spec?.template.spec?.containers[0].image, 'server:1');
  // modelship re-applies without knowing B: B stays (owned by the other manager).
  const again = (await applied(config(name, { env: [{ name: 'A', value: '1' }] }), 'modelship')) as V1Deployment;
  assert.deepEqual(
    again.spec?.template.spec?.containers[0].env?.map((e) => e.name),
    ['A', 'B'],
  );
});

test('Services apply with ports keyed by port and protocol; the allocated clusterIP stays', async () => {
  const core = sim.kubeConfig(NS).makeApiClient(CoreV1Api);
  const name = `svc-${++n}`;
  const svc = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: NS },
    spec: { selector: { app: name }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
  };
  const first = await core.patchNamespacedService({ name, namespace: NS, body: svc, fieldManager: 'modelship' }, APPLY);
  assert.match(first.spec?.clusterIP ?? '', /^10\.96\.\d+\.\d+$/);
  const fields = entry(first, 'modelship')?.fieldsV1 as Record<string, Record<string, Record<string, unknown>>>;
  assert.ok('k:{"port":80,"protocol":"TCP"}' in fields['f:spec']['f:ports']);
  const second = await core.patchNamespacedService(
    {
      name,
      namespace: NS,
      body: { ...svc, spec: { ...svc.spec, ports: [{ name: 'http', port: 80, targetPort: 9090 }] } },
      fieldManager: 'modelship',
    },
    APPLY,
  );
  assert.equal(second.spec?.clusterIP, first.spec?.clusterIP);
  assert.equal(second.spec?.ports?.[0].targetPort, 9090);
});

test('apply requests the API server rejects: no fieldManager, force on other patches, wrong version, managedFields, a stale resourceVersion', async () => {
  const name = `bad-${++n}`;
  const url = `${sim.url}/apis/apps/v1/namespaces/${NS}/deployments/${name}`;
  const send = async (query: string, body: string, type = 'application/apply-patch+yaml'): Promise<Status> => {
    const r = await fetch(`${url}${query}`, { method: 'PATCH', headers: { 'Content-Type': type }, body });
    return { ...((await r.json()) as Status), code: r.status };
  };
  const ok = JSON.stringify(config(name));
  const noManager = await send('', ok);
  assert.equal(noManager.code, 422);
  assert.equal(noManager.message, 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch');
  await applied(config(name), 'modelship');
  const force = await send('?force=true', '{"metadata":{"labels":{"a":"b"}}}', 'application/merge-patch+json');
  assert.equal(force.code, 422);
  assert.match(force.message, /force: Forbidden: may not be specified for non-apply patch/);
  const version = await send('?fieldManager=m', JSON.stringify({ ...config(name), apiVersion: 'apps/v1beta1' }));
  assert.equal(version.code, 400);
  assert.equal(version.message, 'Incorrect version specified in apply patch. Specified patch version: apps/v1beta1, expected: apps/v1');
  const managed = await send('?fieldManager=m', JSON.stringify({ ...config(name), metadata: { name, managedFields: [{ manager: 'x' }] } }));
  assert.equal(managed.code, 400);
  assert.equal(managed.message, 'metadata.managedFields must be nil');
  const stale = await send('?fieldManager=modelship', JSON.stringify({ ...config(name), metadata: { name, resourceVersion: '1' } }));
  assert.equal(stale.code, 409);
  assert.match(stale.message, /the object has been modified; please apply your changes to the latest version and try again/);
  const yaml = await send('?fieldManager=m', 'spec: [unclosed');
  assert.equal(yaml.code, 400);
  assert.match(yaml.message, /^error decoding YAML/);
});

/**
 * Services, EndpointSlices, Secrets, discovery, the Gateway API switch and the pod/service proxy
 * of the simulator, through the real client.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  ApisApi,
  AppsV1Api,
  CoreApi,
  CoreV1Api,
  DiscoveryV1Api,
  KubernetesObjectApi,
  PatchStrategy,
  Watch,
  type V1Deployment,
  type V1EndpointSlice,
} from '@kubernetes/client-node';
import {
  behaviours,
  configMapType,
  deploymentType,
  endpointSliceType,
  eventType,
  GATEWAY_CONTROLLER_NAME,
  httpRouteType,
  podType,
  startSimulator,
  type Deployment,
  type EndpointSlice,
  type Pod,
  type Simulator,
} from '../k8s-sim/index.ts';

let sim: Simulator;
let core: CoreV1Api;
let apps: AppsV1Api;
const NS = 'net';
let n = 0;

before(async () => {
  sim = await startSimulator({ timing: { timeScale: 0.01 } });
  core = sim.kubeConfig(NS).makeApiClient(CoreV1Api);
  apps = sim.kubeConfig(NS).makeApiClient(AppsV1Api);
});
after(async () => {
  await sim.close();
});

function deployment(name: string, image: string, replicas: number): V1Deployment {
  return {
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: {
          terminationGracePeriodSeconds: 30,
          containers: [
            {
              name: 'main',
              image,
              ports: [{ name: 'http', containerPort: 8080 }],
              readinessProbe: { httpGet: { path: '/ready', port: 'http' }, periodSeconds: 1 },
            },
          ],
        },
      },
    },
  };
}

const slicesOf = (svc: string): EndpointSlice[] =>
  (sim.store.list(endpointSliceType, NS) as EndpointSlice[]).filter((s) => s.metadata.labels?.['kubernetes.io/service-name'] === svc);

test('a Service gets a ClusterIP and the API server defaults; DELETE answers with the Service', async () => {
  const name = `svc-${++n}`;
  const svc = await core.createNamespacedService({
    namespace: NS,
    body: { metadata: { name }, spec: { selector: { app: name }, ports: [{ port: 80, targetPort: 'http' }] } },
  });
  assert.match(svc.spec?.clusterIP ?? '', /^10\.96\.\d+\.\d+$/);
  assert.deepEqual(svc.spec?.clusterIPs, [svc.spec?.clusterIP]);
  assert.equal(svc.spec?.type, 'ClusterIP');
  assert.equal(svc.spec?.sessionAffinity, 'None');
  assert.equal(svc.spec?.ports?.[0].protocol, 'TCP');
  const replaced = await core.replaceNamespacedService({
    name,
    namespace: NS,
    body: { metadata: { name, resourceVersion: svc.metadata?.resourceVersion }, spec: { selector: { app: name }, ports: [{ port: 81 }] } },
  });
  assert.equal(replaced.spec?.clusterIP, svc.spec?.clusterIP, 'an update that leaves the clusterIP out keeps it');
  assert.equal(replaced.spec?.ports?.[0].targetPort, 81, 'targetPort defaults to port');
  await assert.rejects(
    core.createNamespacedService({
      namespace: NS,
      body: { metadata: { name: `${name}-x` }, spec: { ports: [{ port: 80 }, { port: 81 }] } },
    }),
    /spec\.ports\[0\]\.name: Required value/,
  );
  const deleted = await core.deleteNamespacedService({ name, namespace: NS });
  assert.equal(deleted.kind, 'Service');
  assert.equal(deleted.metadata?.name, name);
});

test('EndpointSlices follow the pods: not ready, ready, terminating (serving, not ready), gone', async () => {
  const name = `web-${++n}`;
  let ready = false;
  sim.kubelet.when({ image: 'web:1' }, behaviours.withProbes(behaviours.forever([], { shutdownMs: 100 }), { readiness: () => ready }));
  await core.createNamespacedService({
    namespace: NS,
    body: {
      metadata: { name, labels: { team: 'ml' } },
      spec: { selector: { app: name }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
    },
  });
  const placeholder = await sim.waitFor(() => slicesOf(name)[0]);
  assert.equal(placeholder.endpoints, null, 'a Service that selects nothing has a placeholder slice');
  await apps.createNamespacedDeployment({ namespace: NS, body: deployment(name, 'web:1', 2) });
  const discovery = sim.kubeConfig(NS).makeApiClient(DiscoveryV1Api);
  const listed = async (): Promise<V1EndpointSlice[]> =>
    (await discovery.listNamespacedEndpointSlice({ namespace: NS, labelSelector: `kubernetes.io/service-name=${name}` })).items;
  await sim.waitFor(() => slicesOf(name)[0]?.endpoints?.length === 2);
  let [slice] = await listed();
  const endpoints = () => slice.endpoints ?? [];
  assert.equal(slice.metadata?.labels?.['endpointslice.kubernetes.io/managed-by'], 'endpointslice-controller.k8s.io');
  assert.equal(slice.metadata?.labels?.team, 'ml', 'the Service labels are copied');
  assert.equal(slice.metadata?.ownerReferences?.[0].kind, 'Service');
  assert.equal(slice.addressType, 'IPv4');
  assert.deepEqual(
    JSON.parse(JSON.stringify(slice.ports)),
    [{ name: 'http', port: 8080, protocol: 'TCP' }],
    'the named targetPort is resolved',
  );
  assert.deepEqual(
    endpoints().map((e) => [e.conditions?.ready, e.conditions?.serving, e.conditions?.terminating]),
    [
      [false, false, false],
      [false, false, false],
    ],
  );
  const pods = (sim.store.list(podType, NS) as Pod[]).filter((p) => p.metadata.labels?.app === name);
  assert.deepEqual(
    endpoints()
      .map((e) => e.addresses[0])
      .sort(),
    pods.map((p) => p.status?.podIP).sort(),
  );
  assert.deepEqual(
    endpoints()
      .map((e) => e.targetRef?.name)
      .sort(),
    pods.map((p) => p.metadata.name).sort(),
  );
  ready = true;
  await sim.waitFor(() => slicesOf(name)[0]?.endpoints?.every((e) => e.conditions.ready));
  [slice] = await listed();
  assert.ok(endpoints().every((e) => e.conditions?.serving && !e.conditions.terminating));
  // A deleted pod stays in the slice while it terminates: serving, terminating, not ready.
  const victim = pods[0].metadata.name!;
  const deleted = await core.deleteNamespacedPod({ name: victim, namespace: NS });
  assert.ok(deleted.metadata?.deletionTimestamp instanceof Date, 'graceful deletion sets deletionTimestamp');
  assert.equal(deleted.metadata?.deletionGracePeriodSeconds, 30);
  const terminating = await sim.waitFor(() =>
    slicesOf(name)[0]?.endpoints?.find((e) => e.targetRef?.name === victim && e.conditions.terminating),
  );
  assert.deepEqual(terminating.conditions, { ready: false, serving: true, terminating: true });
  await sim.waitFor(() => !slicesOf(name)[0]?.endpoints?.some((e) => e.targetRef?.name === victim));
  assert.equal(sim.store.find(podType, NS, victim), undefined, 'the kubelet removed it after its containers stopped');
  // The ReplicaSet replaced it; the slice has two ready endpoints again.
  await sim.waitFor(() => slicesOf(name)[0]?.endpoints?.filter((e) => e.conditions.ready).length === 2);
});

test('a pod deleted with gracePeriodSeconds=0 is removed at once', async () => {
  const name = `force-${++n}`;
  await core.createNamespacedPod({ namespace: NS, body: { metadata: { name }, spec: { containers: [{ name: 'c', image: 'idle:1' }] } } });
  await sim.waitFor(() => (sim.store.find(podType, NS, name) as Pod | undefined)?.status?.phase === 'Running');
  await core.deleteNamespacedPod({ name, namespace: NS, gracePeriodSeconds: 0 });
  assert.equal(sim.store.find(podType, NS, name), undefined);
});

test('Secrets: stringData becomes base64 data; pods read keys through env and volumes; a missing one is CreateContainerConfigError', async () => {
  const name = `creds-${++n}`;
  const seen: Record<string, string>[] = [];
  let file = '';
  sim.kubelet.when(
    { image: 'reader:1' },
    behaviours.fn(async (c) => {
      seen.push({ ...c.env });
      const { readFile } = await import('node:fs/promises');
      file = await readFile(c.hostPath('/creds/password')!, 'utf8');
      return 0;
    }),
  );
  const pod = (podName: string) => ({
    metadata: { name: podName },
    spec: {
      restartPolicy: 'Never',
      volumes: [{ name: 'creds', secret: { secretName: name } }],
      containers: [
        {
          name: 'c',
          image: 'reader:1',
          env: [{ name: 'REGISTRY_USER', valueFrom: { secretKeyRef: { name, key: 'username' } } }],
          volumeMounts: [{ name: 'creds', mountPath: '/creds' }],
        },
      ],
    },
  });
  await core.createNamespacedPod({ namespace: NS, body: pod(`${name}-early`) });
  const stuck = await sim.waitFor(() => {
    const p = sim.store.find(podType, NS, `${name}-early`) as Pod | undefined;
    return p?.metadata.uid ? p : undefined;
  });
  await sim.waitFor(() => sim.store.list(eventType, NS).some((e) => e['reason'] === 'FailedMount'));
  const events = await core.listNamespacedEvent({
    namespace: NS,
    fieldSelector: `involvedObject.name=${stuck.metadata.name},reason=FailedMount`,
  });
  assert.match(events.items[0]?.message ?? '', new RegExp(`MountVolume\\.SetUp failed for volume "creds" : secret "${name}" not found`));
  assert.equal(
    (sim.store.get(podType, NS, `${name}-early`) as Pod).status?.containerStatuses?.[0].state.waiting?.reason,
    'ContainerCreating',
  );
  const secret = await core.createNamespacedSecret({
    namespace: NS,
    body: { metadata: { name }, type: 'kubernetes.io/basic-auth', stringData: { username: 'robot', password: 's3cret' } },
  });
  assert.equal(secret.stringData, undefined);
  assert.deepEqual(secret.data, { username: Buffer.from('robot').toString('base64'), password: Buffer.from('s3cret').toString('base64') });
  await sim.waitFor(() => (sim.store.find(podType, NS, `${name}-early`) as Pod | undefined)?.status?.phase === 'Succeeded');
  assert.equal(seen[0].REGISTRY_USER, 'robot');
  assert.equal(file, 's3cret');
  // A key the Secret lacks: the kubelet's CreateContainerConfigError, with its message.
  const bad = pod(`${name}-badkey`);
  bad.spec.containers[0].env = [{ name: 'X', valueFrom: { secretKeyRef: { name, key: 'token' } } }];
  await core.createNamespacedPod({ namespace: NS, body: bad });
  const waiting = await sim.waitFor(() => {
    const p = sim.store.find(podType, NS, `${name}-badkey`) as Pod | undefined;
    return p?.status?.containerStatuses?.[0].state.waiting?.reason === 'CreateContainerConfigError'
      ? p.status.containerStatuses[0].state.waiting
      : undefined;
  });
  assert.equal(waiting.message, `couldn't find key token in Secret ${NS}/${name}`);
  await assert.rejects(
    core.createNamespacedSecret({
      namespace: NS,
      body: {
        metadata: { name: `${name}-docker` },
        type: 'kubernetes.io/dockerconfigjson',
        stringData: { '.dockerconfigjson': '{not json' },
      },
    }),
    /data\[\.dockerconfigjson\]: Invalid value/,
  );
});

test('discovery lists what is served; the Gateway API appears and disappears with its switch', async () => {
  const kc = sim.kubeConfig(NS);
  const versions = await kc.makeApiClient(CoreApi).getAPIVersions();
  assert.deepEqual(versions.versions, ['v1']);
  const groups = async (): Promise<string[]> => (await kc.makeApiClient(ApisApi).getAPIVersions()).groups.map((g) => g.name);
  assert.deepEqual(await groups(), ['apps', 'batch', 'discovery.k8s.io']);
  const appsResources = await apps.getAPIResources();
  assert.deepEqual(
    appsResources.resources.map((r) => r.name),
    ['deployments', 'deployments/status', 'deployments/scale', 'replicasets', 'replicasets/status', 'replicasets/scale'],
  );
  assert.equal(appsResources.resources.find((r) => r.name === 'deployments/scale')?.kind, 'Scale');
  const coreResources = await core.getAPIResources();
  assert.ok(['pods', 'pods/log', 'services', 'secrets', 'events'].every((r) => coreResources.resources.some((x) => x.name === r)));
  const gw = await fetch(`${sim.url}/apis/gateway.networking.k8s.io/v1`);
  assert.equal(gw.status, 404);

  const objects = KubernetesObjectApi.makeApiClient(kc);
  const route = {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name: 'web', namespace: NS },
    spec: {
      parentRefs: [{ name: 'public' }],
      rules: [
        {
          backendRefs: [
            { name: 'web-stable', port: 80, weight: 90 },
            { name: 'web-canary', port: 80, weight: 10 },
          ],
        },
      ],
    },
  };
  await assert.rejects(
    objects.patch(route, undefined, undefined, 'modelship', false, PatchStrategy.ServerSideApply),
    /Failed to fetch resource metadata for gateway\.networking\.k8s\.io\/v1\/HTTPRoute: HTTP-Code: 404/,
  );
  sim.setGatewayApi(true);
  try {
    assert.ok((await groups()).includes('gateway.networking.k8s.io'));
    const fresh = KubernetesObjectApi.makeApiClient(kc);
    const created = (await fresh.patch(route, undefined, undefined, 'modelship', false, PatchStrategy.ServerSideApply)) as unknown as {
      spec: { rules: { matches: unknown[] }[] };
    };
    assert.deepEqual(created.spec.rules[0].matches, [{ path: { type: 'PathPrefix', value: '/' } }], 'CRD defaults');
    const status = await sim.waitFor(() => {
      const r = sim.store.find(httpRouteType, NS, 'web');
      return (
        r?.status as { parents?: { controllerName: string; conditions: { type: string; status: string; reason: string }[] }[] } | undefined
      )?.parents?.[0];
    });
    assert.equal(status.controllerName, GATEWAY_CONTROLLER_NAME);
    assert.deepEqual(
      status.conditions.map((c) => [c.type, c.status, c.reason]),
      [
        ['Accepted', 'True', 'Accepted'],
        ['ResolvedRefs', 'False', 'BackendNotFound'],
      ],
    );
    for (const svc of ['web-stable', 'web-canary'])
      await core.createNamespacedService({
        namespace: NS,
        body: { metadata: { name: svc }, spec: { selector: { app: svc }, ports: [{ port: 80 }] } },
      });
    await sim.waitFor(() => {
      const r = sim.store.find(httpRouteType, NS, 'web')?.status as { parents: { conditions: { type: string; status: string }[] }[] };
      return r.parents[0].conditions.find((c) => c.type === 'ResolvedRefs')?.status === 'True';
    });
    const weights = await fresh.patch(
      {
        ...route,
        spec: {
          ...route.spec,
          rules: [
            {
              backendRefs: [
                { name: 'web-stable', port: 80, weight: 50 },
                { name: 'web-canary', port: 80, weight: 50 },
              ],
            },
          ],
        },
      },
      undefined,
      undefined,
      'modelship',
      false,
      PatchStrategy.ServerSideApply,
    );
    assert.equal((weights as { metadata?: { generation?: number } }).metadata?.generation, 2);
  } finally {
    sim.setGatewayApi(false);
  }
  assert.ok(!(await groups()).includes('gateway.networking.k8s.io'));
  assert.equal((await fetch(`${sim.url}/apis/gateway.networking.k8s.io/v1/namespaces/${NS}/httproutes`)).status, 404);
});

test('the API server proxy reaches a pod port and a Service port served by a behaviour', async () => {
  const name = `metrics-${++n}`;
  let served = 0;
  sim.kubelet.when(
    { image: 'metrics:1' },
    behaviours.serve('http', (req, res) => {
      served++;
      res.setHeader('Content-Type', 'text/plain; version=0.0.4; charset=utf-8');
      if (req.url === '/ready') res.end('ok');
      else res.end(`# TYPE requests_total counter\nrequests_total{path="${req.url}"} ${served}\n`);
    }),
  );
  await core.createNamespacedService({
    namespace: NS,
    body: { metadata: { name }, spec: { selector: { app: name }, ports: [{ name: 'http', port: 80, targetPort: 'http' }] } },
  });
  await apps.createNamespacedDeployment({ namespace: NS, body: deployment(name, 'metrics:1', 2) });
  await sim.waitFor(() => (sim.store.get(deploymentType, NS, name) as Deployment).status?.availableReplicas === 2);
  assert.ok(served >= 2, 'the readiness probes really reached the servers');
  const pod = (sim.store.list(podType, NS) as Pod[]).find((p) => p.metadata.labels?.app === name)!;
  const text = await core.connectGetNamespacedPodProxyWithPath({ name: `${pod.metadata.name}:8080`, namespace: NS, path: 'metrics' });
  assert.match(text, /^requests_total\{path="\/metrics"\} \d+$/m);
  const viaService = await core.connectGetNamespacedServiceProxyWithPath({ name: `${name}:http`, namespace: NS, path: 'metrics' });
  assert.match(viaService, /requests_total/);
  const local = sim.kubelet.hostPort(NS, pod.metadata.name!, 8080);
  assert.ok(local && local > 0);
  assert.match(await (await fetch(`http://127.0.0.1:${local}/metrics`)).text(), /requests_total/);
  const missing = await fetch(`${sim.url}/api/v1/namespaces/${NS}/pods/${pod.metadata.name}:9999/proxy/metrics`);
  assert.equal(missing.status, 503);
  assert.match(
    ((await missing.json()) as { message: string }).message,
    /^error trying to reach service: dial tcp 10\.244\.0\.\d+:9999: connect: connection refused$/,
  );
});

test('a watch on EndpointSlices through the client sees them change', async () => {
  const name = `watch-${++n}`;
  await core.createNamespacedService({
    namespace: NS,
    body: { metadata: { name }, spec: { selector: { app: name }, ports: [{ port: 80, targetPort: 8080 }] } },
  });
  const events: string[] = [];
  const ctrl = await new Watch(sim.kubeConfig(NS)).watch(
    `/apis/discovery.k8s.io/v1/namespaces/${NS}/endpointslices`,
    { labelSelector: `kubernetes.io/service-name=${name}` },
    (type: string, s: EndpointSlice) => events.push(`${type} ${s.endpoints?.filter((e) => e.conditions.ready).length ?? 'null'}`),
    () => undefined,
  );
  try {
    await apps.createNamespacedDeployment({ namespace: NS, body: deployment(name, 'plain:1', 1) });
    await sim.waitFor(() => events.some((e) => e === 'MODIFIED 1'));
  } finally {
    ctrl.abort();
  }
  assert.match(events[0], /^ADDED /);
});

test('namespaces exist once used, and take their objects with them; ConfigMaps feed env', async () => {
  const ns = `tenant-${++n}`;
  const kc = sim.kubeConfig(ns);
  const c = kc.makeApiClient(CoreV1Api);
  await assert.rejects(c.readNamespace({ name: ns }), (err: { code?: number }) => err.code === 404);
  await c.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name: 'server' }, data: { MODEL: 'fashion' } } });
  const created = await c.readNamespace({ name: ns });
  assert.equal(created.status?.phase, 'Active');
  assert.equal(created.metadata?.labels?.['kubernetes.io/metadata.name'], ns);
  let env: Record<string, string> = {};
  sim.kubelet.when(
    { image: 'env:1', namespace: ns },
    behaviours.fn(async (run) => {
      env = { ...run.env };
      await new Promise((r) => run.signal.addEventListener('abort', r));
      return 0;
    }),
  );
  await c.createNamespacedPod({
    namespace: ns,
    body: {
      metadata: { name: 'reader' },
      spec: {
        containers: [
          { name: 'c', image: 'env:1', env: [{ name: 'MODEL', valueFrom: { configMapKeyRef: { name: 'server', key: 'MODEL' } } }] },
        ],
      },
    },
  });
  await sim.waitFor(() => env.MODEL === 'fashion');
  await c.deleteNamespace({ name: ns });
  await sim.waitFor(() => sim.store.list(podType, ns).length === 0, 10_000, 'the namespace to be emptied');
  assert.equal(sim.store.find(configMapType, ns, 'server'), undefined);
});

/**
 * deploy-rollout with target kubernetes against the Kubernetes API SIMULATOR (test/k8s-sim/, not
 * Kubernetes) through the real @kubernetes/client-node, with the real OCI registry (docker-registry)
 * holding the versions. The simulated pods answer the server's probes and serve /metrics in the
 * server's metric contract from the test (the canary's latency, errors and traffic are the test's
 * to choose); the analysis reads them through the API server's pod proxy, as it does on a cluster.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { Counter, Histogram, Registry } from 'prom-client';
import type { V1Deployment } from '@kubernetes/client-node';
import { registerModel } from '../../shared/registry/index.ts';
import { FEEDBACK_DIR, serverDeployment } from '../../shared/rollout/manifests.ts';
import { silentLogger } from '../../shared/util/index.ts';
import { behaviours, deploymentType, httpRouteType, serviceType, startSimulator, type Simulator } from '../k8s-sim/index.ts';
import { makeModelDir, startRegistry, variantOf, type RunningRegistry } from '../registry/helpers.ts';
import { noInterrupt, runCli } from '../helpers/cli.ts';

let sim: Simulator;
let oci: RunningRegistry;
let cwd: string;
let kubeconfig: string;
let registry: string;

interface Profile {
  /** Seconds each request takes. */
  latency: number;
  /** Requests per scrape that fail with 500. */
  errors: number;
  /** Requests per scrape (0: no traffic). */
  requests: number;
}

/** A stand-in for one version's server inside a simulated pod: health probes and /metrics in the contract. */
function serverHandler(version: string, profile: () => Profile): (req: IncomingMessage, res: ServerResponse) => void {
  const reg = new Registry();
  const requests = new Counter({
    name: 'modelship_requests_total',
    help: 'r',
    labelNames: ['model', 'version', 'api', 'code'],
    registers: [reg],
  });
  const latency = new Histogram({
    name: 'modelship_request_duration_seconds',
    help: 'l',
    labelNames: ['model', 'version'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [reg],
  });
  return (req, res) => {
    if (req.url?.startsWith('/v2/health/')) {
      res.end('{}');
      return;
    }
    if (req.url === '/metrics') {
      const p = profile();
      for (let i = 0; i < p.requests; i++) {
        requests.inc({ model: 'fashion', version, api: 'predict', code: i < p.errors ? '500' : '200' });
        latency.observe({ model: 'fashion', version }, p.latency);
      }
      void reg.metrics().then((text) => {
        res.setHeader('content-type', reg.contentType);
        res.end(text);
      });
      return;
    }
    res.statusCode = 404;
    res.end();
  };
}

const profiles: Record<string, Profile> = {};
const profileOf = (v: string) => (): Profile => profiles[v] ?? { latency: 0.004, errors: 0, requests: 20 };

async function cli(argv: string[]): Promise<{ code: number; out: Record<string, string>; err: string }> {
  const r = await runCli(argv, { env: process.env, cwd, services: noInterrupt });
  return { code: r.code, out: r.outputs, err: r.err };
}

const deploy = (ref: string, ...extra: string[]) =>
  cli([
    'deploy-rollout',
    '--target',
    'kubernetes',
    '--kubeconfig',
    kubeconfig,
    '--namespace',
    'ml',
    '--registry',
    registry,
    '--ref',
    ref,
    '--replicas',
    '2',
    '--image',
    'ghcr.io/acme/modelship:1',
    ...extra,
  ]);

type Stored = { metadata: { name: string; labels?: Record<string, string> }; spec?: { replicas?: number } };
const deployments = (): Record<string, { replicas?: number; version?: string }> => {
  const out: Record<string, { replicas?: number; version?: string }> = {};
  for (const d of sim.store.list(deploymentType, 'ml') as unknown as Stored[])
    out[d.metadata.name] = { replicas: d.spec?.replicas, version: d.metadata.labels?.['modelship.dev/version'] };
  return out;
};

before(async () => {
  sim = await startSimulator({ timing: { timeScale: 0.01 } });
  oci = await startRegistry();
  cwd = await mkdtemp(path.join(os.tmpdir(), 'modelship-deploy-k8s-'));
  kubeconfig = path.join(cwd, 'kubeconfig.yaml');
  await sim.writeKubeconfig(kubeconfig, 'ml');
  registry = `oci://${oci.host}/models`;
  const first = await makeModelDir(path.join(cwd, 'm1'), 1);
  const models = [first, ...(await Promise.all([2, 3, 4, 5, 6].map((s) => variantOf(first, path.join(cwd, `m${s}`), s))))];
  for (const m of models)
    await registerModel({ model: m, name: 'fashion', registry, aliases: [] }, { log: silentLogger, cwd, now: () => new Date() });
  // modelship.yml: short progress deadlines (scaled by the simulator's time).
  await writeFile(path.join(cwd, 'modelship.yml'), 'name: fashion\ndeploy:\n  kubernetes:\n    progress-deadline-seconds: 150\n');
});

after(async () => {
  await sim.close();
  await oci.stop();
  await rm(cwd, { recursive: true, force: true });
});

beforeEach(() => {
  sim.kubelet.reset();
  sim.faults.clear();
  for (const v of ['1', '2', '3', '4', '5', '6'])
    sim.kubelet.when(
      { labels: { 'modelship.dev/version': v }, container: 'server' },
      behaviours.serve(8501, serverHandler(v, profileOf(v))),
    );
});

describe('the server Deployment (pure)', () => {
  const settings = {
    name: 'fashion',
    namespace: 'ml',
    image: 'ghcr.io/acme/modelship:1',
    registry: 'oci://ghcr.io/acme/models',
    registrySecret: 'modelship-registry',
    cpu: '1',
    memory: '1Gi',
    progressDeadlineSeconds: 600,
  };
  const version = { name: 'fashion', version: 3, digest: `sha256:${'a'.repeat(64)}`, ref: `fashion:3@sha256:${'a'.repeat(64)}` };
  const feedbackVolume = (claim?: string) =>
    serverDeployment({ ...settings, ...(claim ? { feedbackClaim: claim } : {}) }, 'stable', version, 2).spec!.template.spec!.volumes!.find(
      (v) => v.name === 'feedback',
    );
  it('keeps the feedback store on a PersistentVolumeClaim when deploy.kubernetes.feedback-claim names one, else an emptyDir', () => {
    assert.deepEqual(feedbackVolume('model-feedback'), { name: 'feedback', persistentVolumeClaim: { claimName: 'model-feedback' } });
    assert.deepEqual(feedbackVolume(), { name: 'feedback', emptyDir: {} });
  });
});

describe('deploy-rollout --target kubernetes (simulator, real client, real registry)', () => {
  it('the first version rolls out as stable, with its Service, and records the revision', async () => {
    const r = await deploy('fashion:1', '--promote-alias', 'production');
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out['status'], 'promoted');
    assert.match(r.out['revision'] ?? '', /fashion:1@sha256:/);
    assert.equal(r.out['url'], 'http://fashion.ml.svc:8501');
    assert.deepEqual(deployments()['fashion'], { replicas: 2, version: '1' });
    assert.deepEqual(
      (sim.store.list(serviceType, 'ml') as unknown as Stored[]).map((s) => s.metadata.name),
      ['fashion'],
    );
    // The feedback store on a volume of its own: the image's filesystem is not the server's to write.
    const spec = (sim.store.list(deploymentType, 'ml') as unknown as V1Deployment[])[0].spec!.template.spec!;
    const server = spec.containers.find((c) => c.name === 'server')!;
    assert.deepEqual(server.args?.slice(server.args.indexOf('--feedback-dir'), server.args.indexOf('--feedback-dir') + 2), [
      '--feedback-dir',
      FEEDBACK_DIR,
    ]);
    assert.ok(server.volumeMounts?.some((m) => m.name === 'feedback' && m.mountPath === FEEDBACK_DIR && !m.readOnly));
    assert.deepEqual(
      spec.volumes?.find((v) => v.name === 'feedback'),
      { name: 'feedback', emptyDir: {} },
    );
  });

  it('a rolling update succeeds as kubectl rollout status decides, surviving a 410 on the watch', async () => {
    sim.faults.goneOnWatch({ path: '/deployments', count: 1 });
    const r = await deploy('fashion:2', '--strategy', 'rolling');
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out['status'], 'promoted');
    assert.deepEqual(deployments()['fashion'], { replicas: 2, version: '2' });
    assert.ok(
      sim.faults.injected.some((f) => /410|gone/i.test(JSON.stringify(f))),
      'the 410 was served',
    );
  });

  it('a canary steps through 10, 50, 100 with analysis from the pods’ /metrics and promotes', async () => {
    const r = await deploy(
      'fashion:3',
      '--steps',
      '10, 50, 100',
      '--analysis',
      'error_rate <= 0.01\np95_latency_ms <= 100',
      '--analysis-interval',
      '1s',
      '--promote-alias',
      'production',
    );
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out['status'], 'promoted');
    assert.equal(r.out['previous']?.includes('fashion:2@'), true);
    for (const w of ['10%', '50%', '100%']) assert.match(r.err, new RegExp(`healthy at ${w}`));
    assert.match(r.err, /replicas: stable 2, canary 1/);
    assert.deepEqual(Object.keys(deployments()), ['fashion'], 'the canary Deployment is gone');
    assert.equal(deployments()['fashion']?.version, '3');
    assert.match(r.err, /fashion@production: v1 → v3/);
  });

  it('a canary that crash-loops is rolled back by itself, with the reason and its last lines', async () => {
    sim.kubelet.when(
      { labels: { 'modelship.dev/version': '4' }, container: 'server' },
      behaviours.crash(['loading fashion:4', 'Error: weights.bin is truncated'], 1),
    );
    const r = await deploy('fashion:4', '--analysis', 'error_rate <= 0.01', '--analysis-interval', '1s');
    assert.equal(r.code, 1);
    assert.equal(r.out['status'], 'rolled-back');
    assert.match(r.err, /keeps crashing \(CrashLoopBackOff/);
    assert.match(r.err, /its last lines: .*Error: weights\.bin is truncated/);
    assert.deepEqual(Object.keys(deployments()), ['fashion']);
    assert.equal(deployments()['fashion']?.version, '3', 'stable holds');
  });

  it('a model that cannot be pulled (the init container fails) is rolled back, with its last lines', async () => {
    sim.kubelet.when(
      { labels: { 'modelship.dev/version': '4' }, container: 'fetch-model' },
      behaviours.crash(['modelship registry failed: 127.0.0.1 refused the password of user ci'], 1),
    );
    const r = await deploy('fashion:4', '--analysis', 'error_rate <= 0.01', '--analysis-interval', '1s');
    assert.equal(r.out['status'], 'rolled-back');
    assert.match(r.err, /init container fetch-model keeps crashing .*its last lines: .*refused the password/);
  });

  it('an image that cannot be pulled is rolled back, naming it', async () => {
    sim.kubelet.when({ labels: { 'modelship.dev/version': '4' }, container: 'server' }, behaviours.imagePullBackOff('manifest unknown'));
    const r = await deploy('fashion:4', '--analysis', 'error_rate <= 0.01', '--analysis-interval', '1s');
    assert.equal(r.out['status'], 'rolled-back');
    assert.match(r.err, /ImagePullBackOff|ErrImagePull|pull/i);
  });

  it('a canary that never gets ready is rolled back when its progress deadline passes', async () => {
    sim.kubelet.when({ labels: { 'modelship.dev/version': '4' }, container: 'server' }, behaviours.neverReady());
    const r = await deploy('fashion:4', '--analysis', 'error_rate <= 0.01', '--analysis-interval', '1s');
    assert.equal(r.out['status'], 'rolled-back');
    assert.match(r.err, /readiness never reached: fashion-canary exceeded its progress deadline/);
    assert.deepEqual(Object.keys(deployments()), ['fashion']);
  });

  it('an analysis breach (the canary is slow) aborts, and stable keeps every replica', async () => {
    profiles['5'] = { latency: 0.3, errors: 0, requests: 30 };
    const r = await deploy('fashion:5', '--analysis', 'p95_latency_ms <= 100', '--analysis-interval', '1s');
    assert.equal(r.out['status'], 'rolled-back');
    assert.match(r.err, /failed 1 time \(failure-limit 0\): p95_latency_ms <= 100/);
    assert.deepEqual(deployments(), { fashion: { replicas: 2, version: '3' } });
  });

  it('no data follows no-data; unreachable metrics are errors until a run of them aborts', async () => {
    profiles['5'] = { latency: 0.004, errors: 0, requests: 0 };
    const quiet = await deploy('fashion:5', '--analysis', 'error_rate <= 0.01', '--analysis-interval', '1s', '--no-data', 'fail');
    assert.equal(quiet.out['status'], 'rolled-back');
    assert.match(quiet.err, /no data/);
    profiles['5'] = { latency: 0.004, errors: 0, requests: 20 };
    sim.faults.fail({ path: '/proxy', code: 503, count: 1000 });
    const blind = await deploy('fashion:5', '--analysis', 'error_rate <= 0.01', '--analysis-interval', '1s');
    assert.equal(blind.out['status'], 'rolled-back');
    assert.match(blind.err, /could not measure 5 times in a row/);
    assert.deepEqual(deployments(), { fashion: { replicas: 2, version: '3' } });
  });

  it('a new deploy while a canary is in progress aborts the old canary first', async () => {
    const slow = deploy('fashion:5', '--analysis', 'error_rate <= 0.01', '--analysis-interval', '1s', '--steps', '10, 20, 30, 40, 50, 100');
    await sim.waitFor(() => deployments()['fashion-canary'], 10_000, 'the first canary');
    const next = await deploy('fashion:6', '--strategy', 'rolling');
    assert.match(next.err, /a canary of fashion:5 is in progress at \d+%: aborting it first/);
    assert.equal(next.out['status'], 'promoted', next.err);
    const first = await slow;
    assert.equal(first.out['status'], 'rolled-back', 'the older rollout notices its canary is gone');
    assert.equal(deployments()['fashion']?.version, '6');
  });

  it('action: rollback moves the alias back and redeploys the previous version', async () => {
    const r = await deploy('fashion', '--action', 'rollback', '--promote-alias', 'production');
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out['status'], 'rolled-back');
    assert.match(r.err, /fashion@production: v3 → v1 \(rolled back\)/);
    assert.equal(deployments()['fashion']?.version, '1');
  });

  it('with the Gateway API and an HTTPRoute of the deployment’s name, traffic follows the route’s weights', async () => {
    sim.setGatewayApi(true);
    try {
      sim.store.create(httpRouteType, 'ml', {
        apiVersion: 'gateway.networking.k8s.io/v1',
        kind: 'HTTPRoute',
        metadata: { name: 'fashion', namespace: 'ml' },
        spec: {
          parentRefs: [{ name: 'public' }],
          rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [{ name: 'fashion', port: 8501 }] }],
        },
      });
      const from = sim.store.history.length;
      const r = await deploy('fashion:2', '--steps', '10, 50, 100', '--analysis', 'error_rate <= 0.01', '--analysis-interval', '1s');
      assert.equal(r.out['status'], 'promoted', r.err);
      assert.match(r.err, /traffic: HTTPRoute fashion weights between Services fashion-stable and fashion-canary/);
      const weights = sim.store.history
        .slice(from)
        .filter((e) => e.resource === httpRouteType)
        .map((e) =>
          ((e.object as { spec?: { rules?: { backendRefs?: { name: string; weight?: number }[] }[] } }).spec?.rules?.[0]?.backendRefs ?? [])
            .map((b) => `${b.name}=${b.weight}`)
            .join(' '),
        );
      const ours = weights.filter((w) => w.includes('fashion-stable'));
      const distinct = ours.filter((w, i) => w !== ours[i - 1]);
      assert.deepEqual(distinct, [
        'fashion-stable=90 fashion-canary=10',
        'fashion-stable=50 fashion-canary=50',
        'fashion-stable=0 fashion-canary=100',
        'fashion-stable=100 fashion-canary=0',
      ]);
      const route = sim.store.find(httpRouteType, 'ml', 'fashion') as unknown as {
        spec: { parentRefs: unknown[]; rules: { matches?: unknown[] }[] };
      };
      assert.equal((route.spec.parentRefs[0] as { name?: string }).name, 'public', 'the route’s own parts are kept');
      assert.ok(route.spec.rules[0]?.matches, 'its matches too');
    } finally {
      sim.setGatewayApi(false);
    }
  });

  it('a local registry folder is refused for a cluster, saying why', async () => {
    const r = await cli([
      'deploy-rollout',
      '--target',
      'kubernetes',
      '--kubeconfig',
      kubeconfig,
      '--ref',
      'fashion:1',
      '--registry',
      '.modelship/registry',
    ]);
    assert.equal(r.code, 2);
    assert.match(r.err, /cannot pull from the local registry folder '\.modelship\/registry': the cluster does not see it/);
  });
});

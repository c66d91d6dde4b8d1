/**
 * deploy-rollout with target kubernetes against a REAL cluster: run by
 * .github/workflows/kind-e2e.yml on a kind cluster with the modelship image loaded and a plain
 * HTTP OCI registry (registry:2) on kind's Docker network. Real kubelets pull the model in the
 * init container (`modelship registry pull`), start `modelship serve`, probe it, and the analysis
 * reads the pods' /metrics through the API server's proxy while a pod in the cluster sends
 * predictions to the Service. Not part of `npm test` (no cluster on the development machines;
 * test/rollout/kubernetes.test.ts runs the same code against the simulator there):
 *   node --test test/rollout/kind.e2e.ts
 * with
 *   MODELSHIP_E2E_IMAGE     the image loaded into the cluster (e.g. modelship:e2e)
 *   MODELSHIP_E2E_REGISTRY  the registry both the runner and the pods reach (oci+http://172.18.0.3:5000/models)
 * and a kubeconfig (KUBECONFIG or ~/.kube/config, as kind writes it), kubectl on the PATH.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { registerModel } from '../../shared/registry/index.ts';
import { silentLogger } from '../../shared/util/index.ts';
import { makeModelDir, variantOf } from '../registry/helpers.ts';
import { runCli } from '../helpers/cli.ts';

const image = process.env['MODELSHIP_E2E_IMAGE'];
const registry = process.env['MODELSHIP_E2E_REGISTRY'];
if (!image || !registry) throw new Error('kind.e2e.ts needs MODELSHIP_E2E_IMAGE and MODELSHIP_E2E_REGISTRY (see the comment at the top).');

const NS = 'modelship-e2e';
let cwd: string;

const kubectl = (...args: string[]): string => execFileSync('kubectl', args, { encoding: 'utf8', timeout: 120_000 });
const versionsServing = (): string[] =>
  kubectl(
    'get',
    'deployments',
    '-n',
    NS,
    '-o',
    'jsonpath={range .items[*]}{.metadata.name}={.metadata.labels.modelship\\.dev/version}/{.status.readyReplicas}{"\\n"}{end}',
  )
    .split('\n')
    .filter(Boolean)
    .sort();

async function deploy(ref: string, ...extra: string[]): Promise<{ code: number; out: Record<string, string>; err: string }> {
  const argv = ['deploy-rollout', '--target', 'kubernetes', '--namespace', NS, '--registry', registry!, '--ref', ref, '--image', image!];
  const r = await runCli([...argv, '--replicas', '2', '--timeout', '8m', ...extra], { env: process.env, cwd });
  process.stdout.write(r.err.replace(/^/gm, '    | '));
  return { code: r.code, out: r.outputs, err: r.err };
}

before(async () => {
  cwd = await mkdtemp(path.join(os.tmpdir(), 'modelship-kind-rollout-'));
  const first = await makeModelDir(path.join(cwd, 'm1'), 1);
  const models = [first, ...(await Promise.all([2, 3].map((s) => variantOf(first, path.join(cwd, `m${s}`), s))))];
  for (const m of models)
    await registerModel({ model: m, name: 'fashion', registry, aliases: [] }, { log: silentLogger, cwd, now: () => new Date() });
  await writeFile(
    path.join(cwd, 'modelship.yml'),
    'name: fashion\ndeploy:\n  kubernetes:\n    progress-deadline-seconds: 90\n    cpu: 250m\n    memory: 512Mi\n',
  );
  kubectl('create', 'namespace', NS);
  // Predictions to the Service from inside the cluster, all along (the canary's analysis needs traffic).
  const instance = JSON.stringify({ instances: [Array.from({ length: 4 }, () => Array.from({ length: 4 }, () => [0.5]))] });
  const loop = `const b=${JSON.stringify(instance)};for(;;){try{await fetch('http://fashion.${NS}.svc:8501/v1/models/fashion:predict',{method:'POST',headers:{'content-type':'application/json'},body:b})}catch{}await new Promise(r=>setTimeout(r,50))}`;
  kubectl(
    'run',
    'traffic',
    '-n',
    NS,
    '--image',
    image,
    '--image-pull-policy',
    'Never',
    '--restart',
    'Always',
    '--command',
    '--',
    'node',
    '--input-type=module',
    '-e',
    loop,
  );
});

after(() => {
  try {
    kubectl('delete', 'namespace', NS, '--wait=false');
  } catch {
    // The cluster goes with the job.
  }
});

describe('deploy-rollout --target kubernetes on a kind cluster (real kubelets, real registry)', () => {
  it('the first version rolls out: the init container pulls it, the server gets ready, the Service answers', async () => {
    const r = await deploy('fashion:1', '--strategy', 'rolling', '--promote-alias', 'production');
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out['status'], 'promoted');
    assert.deepEqual(versionsServing(), ['fashion=1/2']);
    const status = kubectl('get', '--raw', `/api/v1/namespaces/${NS}/services/fashion:http/proxy/v1/models/fashion`);
    assert.match(status, /"state":\s*"AVAILABLE"/);
  });

  it('a canary under real traffic passes its analysis from the pods’ /metrics and is promoted', async () => {
    const r = await deploy(
      'fashion:2',
      '--steps',
      '50, 100',
      '--analysis',
      'error_rate <= 0.05\nrequests_per_second > 0',
      '--analysis-interval',
      '20s',
      '--promote-alias',
      'production',
    );
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out['status'], 'promoted');
    assert.match(r.err, /healthy at 50%/);
    assert.deepEqual(versionsServing(), ['fashion=2/2']);
  });

  it('a canary that breaches its analysis is rolled back; stable keeps serving', async () => {
    // No server answers in under a microsecond: an honest breach, measured from real latency.
    const r = await deploy('fashion:3', '--steps', '50, 100', '--analysis', 'p95_latency_ms <= 0.001', '--analysis-interval', '20s');
    assert.equal(r.out['status'], 'rolled-back', r.err);
    assert.match(r.err, /p95_latency_ms <= 0\.001/);
    assert.deepEqual(versionsServing(), ['fashion=2/2']);
  });

  it('an image a kubelet cannot pull is rolled back, naming the reason', async () => {
    const r = await deploy(
      'fashion:3',
      '--image',
      'modelship:does-not-exist',
      '--analysis',
      'error_rate <= 0.05',
      '--analysis-interval',
      '10s',
    );
    assert.equal(r.out['status'], 'rolled-back', r.err);
    assert.match(r.err, /ErrImagePull|ImagePullBackOff|ErrImageNeverPull/);
    assert.deepEqual(versionsServing(), ['fashion=2/2']);
  });

  it('a server that cannot start (a bad flag) crash-loops and is rolled back with its last lines', async () => {
    await writeFile(
      path.join(cwd, 'modelship.yml'),
      'name: fashion\ndeploy:\n  kubernetes:\n    progress-deadline-seconds: 90\n    cpu: 250m\n    memory: 512Mi\n    serve-args: [--no-such-flag]\n',
    );
    try {
      const r = await deploy('fashion:3', '--analysis', 'error_rate <= 0.05', '--analysis-interval', '10s');
      assert.equal(r.out['status'], 'rolled-back', r.err);
      assert.match(r.err, /CrashLoopBackOff|keeps crashing|exited/);
      assert.match(r.err, /no-such-flag/);
      assert.deepEqual(versionsServing(), ['fashion=2/2']);
    } finally {
      await writeFile(
        path.join(cwd, 'modelship.yml'),
        'name: fashion\ndeploy:\n  kubernetes:\n    progress-deadline-seconds: 90\n    cpu: 250m\n    memory: 512Mi\n',
      );
    }
  });

  it('action: rollback moves production back and serves the version it pointed at', async () => {
    const r = await deploy('fashion', '--action', 'rollback', '--promote-alias', 'production');
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out['status'], 'rolled-back');
    assert.match(r.err, /fashion@production: v2 → v1 \(rolled back\)/);
    assert.deepEqual(versionsServing(), ['fashion=1/2']);
  });
});

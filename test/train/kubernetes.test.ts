/**
 * `target: kubernetes` against the Kubernetes simulator through the real client: the Job manifest,
 * the settings, and whole runs. The successful run executes the real `modelship train` CLI as the
 * container (the simulator's kubelet runs it locally, the volume mounted at its own path), so the
 * Job's command line is the one the CLI accepts.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, beforeEach, describe, it, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeClient } from '../../shared/k8s/index.ts';
import { resolveInputs, trainStep } from '../../shared/steps/index.ts';
import {
  buildTrainJob,
  parseVolume,
  podPath,
  resolveSettings,
  trainOnKubernetes,
  type KubernetesSettings,
  type KubernetesTrainOptions,
  type RemoteTrainContext,
  type ResolvedSettings,
} from '../../shared/train/index.ts';
import type { TrainOptions } from '../../shared/train/options.ts';
import { ConfigurationError, ModelshipError } from '../../shared/util/errors.ts';
import { memoryLogger } from '../../shared/util/log.ts';
import { behaviours, jobType, startSimulator, type Job, type Simulator } from '../k8s-sim/index.ts';
import { testContext } from '../helpers/context.ts';
import { writeSyntheticDataset } from './synthetic.ts';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const trainOptions: TrainOptions = {
  dataset: '/srv/shared/data',
  architecture: 'mlp',
  epochs: 2,
  batchSize: 32,
  learningRate: 0.01,
  seed: 7,
  backend: 'cpu',
  earlyStoppingPatience: 0,
  outputDir: '/srv/shared/model',
  name: 'fashion',
};

const settings = (over: Partial<KubernetesSettings> = {}): ResolvedSettings =>
  resolveSettings({ image: 'ghcr.io/acme/modelship:1.2.3', volume: 'host:/srv/shared', ...over }, {}, '/work');

test('the Job manifest: one try, the modelship image training locally in the pod, labels, resources, the volume', () => {
  const s = settings({ cpu: '4', memory: '8Gi', serviceAccount: 'trainer', ttlSecondsAfterFinished: 600, timeoutSeconds: 3600 });
  const job = buildTrainJob({
    settings: s,
    options: { ...trainOptions, resumeFrom: '/srv/shared/model' },
    dataset: '/modelship/data',
    outputDir: '/modelship/model',
    resumeFrom: '/modelship/model',
  });
  assert.equal(job.metadata?.generateName, 'fashion-train-');
  assert.deepEqual(job.metadata?.labels, {
    'app.kubernetes.io/name': 'modelship',
    'app.kubernetes.io/component': 'train',
    'modelship.dev/step': 'train',
    'modelship.dev/model': 'fashion',
  });
  const spec = job.spec!;
  assert.equal(spec.backoffLimit, 0);
  assert.equal(spec.ttlSecondsAfterFinished, 600);
  assert.equal(spec.activeDeadlineSeconds, 3600 + 120);
  const pod = spec.template.spec!;
  assert.equal(pod.restartPolicy, 'Never');
  assert.equal(pod.serviceAccountName, 'trainer');
  const c = pod.containers[0];
  assert.equal(c.name, 'trainer');
  assert.equal(c.image, 'ghcr.io/acme/modelship:1.2.3');
  assert.equal(c.command, undefined, "the image's entrypoint is the CLI");
  assert.deepEqual(c.args, [
    'train',
    '--dataset',
    '/modelship/data',
    '--output-dir',
    '/modelship/model',
    '--architecture',
    'mlp',
    '--epochs',
    '2',
    '--batch-size',
    '32',
    '--learning-rate',
    '0.01',
    '--seed',
    '7',
    '--backend',
    'cpu',
    '--early-stopping-patience',
    '0',
    '--resume-from',
    '/modelship/model',
    '--name',
    'fashion',
    '--target',
    'local',
  ]);
  assert.deepEqual(c.env, [{ name: 'MODELSHIP_TARGET', value: 'kubernetes' }], 'the pod gets the name as --name, not from its environment');
  assert.deepEqual(c.resources, { requests: { cpu: '4', memory: '8Gi' }, limits: { cpu: '4', memory: '8Gi' } });
  assert.deepEqual(c.volumeMounts, [{ name: 'exchange', mountPath: '/modelship' }]);
  assert.deepEqual(pod.volumes, [{ name: 'exchange', hostPath: { path: '/srv/shared', type: 'Directory' } }]);
  const pvc = buildTrainJob({
    settings: settings({ volume: 'pvc:train-data' }),
    options: trainOptions,
    dataset: '/modelship/d',
    outputDir: '/modelship/m',
  });
  assert.deepEqual(pvc.spec?.template.spec?.volumes, [{ name: 'exchange', persistentVolumeClaim: { claimName: 'train-data' } }]);
});

test('settings: modelship.yml values, explicit overrides, defaults', () => {
  const s = resolveSettings(
    { memory: '6Gi' },
    { image: 'img:1', cpu: '1', memory: '1Gi', namespace: 'ml', volume: 'pvc:data', 'local-path': 'mnt' },
    '/work',
  );
  assert.equal(s.image, 'img:1');
  assert.equal(s.cpu, '1');
  assert.equal(s.memory, '6Gi');
  assert.equal(s.namespace, 'ml');
  assert.deepEqual(s.volume, { kind: 'pvc', claimName: 'data' });
  assert.equal(s.localPath, '/work/mnt');
  assert.equal(s.mountPath, '/modelship');
  assert.equal(s.timeoutSeconds, 6 * 3600);
});

const badSettings: [string, KubernetesSettings, RegExp][] = [
  ['no image', { volume: 'host:/x' }, /needs an image: train.kubernetes.image is not set/],
  ['no volume', { image: 'i' }, /needs a volume/],
  ['bad volume', { image: 'i', volume: 'nfs:/x' }, /'nfs:\/x' is not a volume/],
  ['relative host path', { image: 'i', volume: 'host:data' }, /is not a volume/],
  ['bad memory', { image: 'i', volume: 'host:/x', memory: 'lots' }, /memory 'lots' is not a Kubernetes quantity/],
  ['bad timeout', { image: 'i', volume: 'host:/x', timeoutSeconds: -1 }, /timeout-seconds must be a positive whole number/],
  ['relative mount path', { image: 'i', volume: 'host:/x', mountPath: 'data' }, /mount-path 'data' must be an absolute path/],
];
for (const [name, s, re] of badSettings)
  test(`settings: ${name} is a ConfigurationError`, () => {
    assert.throws(
      () => resolveSettings(s, {}, '/work'),
      (err: unknown) => err instanceof ConfigurationError && re.test(err.message),
    );
  });

test('paths map from the runner to the pod through the volume, and must be on it', () => {
  const s = settings();
  assert.equal(podPath(s, '/srv/shared/data/set', 'dataset', '/work'), '/modelship/data/set');
  assert.equal(podPath(s, '/srv/shared', 'dataset', '/work'), '/modelship');
  assert.throws(
    () => podPath(s, '/srv/other/data', 'dataset', '/work'),
    /dataset '\/srv\/other\/data' is not on the volume shared with the Job \(\/srv\/shared\)/,
  );
  assert.throws(() => podPath(s, '/srv/shared/../x', 'dataset', '/work'), ConfigurationError);
  const claim = settings({ volume: 'pvc:data' });
  assert.equal(podPath(claim, 'sets/fashion', 'dataset', '/work'), '/modelship/sets/fashion');
  assert.throws(() => podPath(claim, '/abs', 'dataset', '/work'), /must be a path inside the claim data/);
  assert.throws(() => podPath(claim, '../up', 'dataset', '/work'), ConfigurationError);
  assert.deepEqual(parseVolume('host:/a/b/', 'v'), { kind: 'hostPath', path: '/a/b/' });
});

describe('trainOnKubernetes against the simulator', () => {
  let sim: Simulator;
  let root: string;
  let shared: string;
  let dataset: string;
  let log: ReturnType<typeof memoryLogger>;
  let n = 0;

  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'modelship-k8s-train-'));
    shared = path.join(root, 'shared');
    await mkdir(shared);
    // The claim `exchange` is this folder, on the simulated node and (through local-path) here.
    sim = await startSimulator({ pvcs: { exchange: shared } });
    dataset = await writeSyntheticDataset(path.join(shared, 'data'), { kind: 'tabular', counts: [90, 30, 30], size: 6 });
  });
  after(async () => {
    await sim.close();
    await rm(root, { recursive: true, force: true });
  });
  beforeEach(() => {
    sim.kubelet.reset();
    log = memoryLogger();
  });

  const ctx = (): RemoteTrainContext => ({
    log,
    cwd: root,
    now: () => new Date(),
    kube: (t) => Promise.resolve(KubeClient.connect(t, {}, root)),
  });
  const run = (image: string, over: Partial<KubernetesSettings> = {}, extra: Partial<KubernetesTrainOptions> = {}) =>
    trainOnKubernetes(
      {
        ...trainOptions,
        dataset,
        outputDir: path.join(shared, `model-${++n}`),
        handleSignals: false,
        client: new KubeClient(sim.kubeConfig('ml'), 'ml'),
        // The volume is mounted at its own path, so the pod's paths are valid on this machine too.
        kubernetes: { image, volume: `host:${shared}`, mountPath: shared, ...over },
        ...extra,
      },
      ctx(),
    );
  const jobs = () => sim.store.list(jobType, 'ml') as Job[];
  const imageOf = (j: Job) => j.spec.template.spec.containers[0]?.image;

  it('runs modelship train as the Job, streams its log in order, and reads the model back', async () => {
    sim.kubelet.when(
      { image: 'modelship:e2e' },
      behaviours.exec((c) => ({
        command: process.execPath,
        args: [path.join(repo, 'shared/cli/main.ts'), ...(c.container.args ?? [])],
        cwd: root,
      })),
    );
    const result = await run('modelship:e2e');
    assert.equal(result.modelDir, path.join(shared, `model-${n}`));
    assert.equal(result.podModelDir, result.modelDir);
    assert.equal(result.backend, 'cpu');
    assert.equal(result.history.length, 2);
    assert.equal(result.trainCount, 90);
    assert.equal(result.valCount, 30);
    assert.equal(result.metadata.params.seed, 7);
    assert.equal(result.namespace, 'ml');
    assert.match(result.jobName, /^fashion-train-[a-z0-9]{5}$/);
    const header = log.lines.findIndex((l) => l.startsWith('modelship train · mlp · backend cpu'));
    const e1 = log.lines.findIndex((l) => l.startsWith('epoch 1/2'));
    const e2 = log.lines.findIndex((l) => l.startsWith('epoch 2/2'));
    assert.ok(header >= 0 && header < e1 && e1 < e2, log.lines.join('\n'));
    assert.match(log.lines[0], /Kubernetes Job fashion-train-\w+ in namespace ml .* image modelship:e2e · cpu 2 · memory 2Gi/);
    const job = jobs().find((j) => j.metadata.name === result.jobName);
    assert.equal(job?.metadata.labels?.['modelship.dev/step'], 'train');
  });

  it('exchanges through a PersistentVolumeClaim the runner sees at local-path', async () => {
    sim.kubelet.when(
      { image: 'modelship:pvc' },
      behaviours.fn(async (c) => {
        const args = c.container.args!;
        const arg = (name: string) => args[args.indexOf(name) + 1];
        assert.match(arg('--dataset'), /^\/modelship\/data$/);
        const out = c.hostPath(arg('--output-dir'))!;
        c.log('modelship train · mlp · backend wasm (tfjs-node not installed) · 1,234 train / 56 val');
        c.log('epoch 1/1  loss 0.5');
        await mkdir(out, { recursive: true });
        const metadata = {
          backend: 'wasm',
          backendReason: 'tfjs-node not installed',
          params: { epochs: 1, earlyStoppingPatience: 0 },
          metrics: { valAccuracy: 0.75, finalLoss: 0.5, epochsRun: 1 },
          training: { durationSeconds: 1.5, trainCount: 1234, valCount: 56 },
        };
        await writeFile(path.join(out, 'modelship.json'), JSON.stringify(metadata));
        await writeFile(path.join(out, 'history.json'), JSON.stringify([{ epoch: 1, loss: 0.5, samplesPerSecond: 1, seconds: 1 }]));
        return 0;
      }),
    );
    const result = await run('modelship:pvc', { volume: 'pvc:exchange', localPath: shared, mountPath: '/modelship' });
    assert.equal(result.podModelDir, `/modelship/model-${n}`);
    assert.equal(result.modelDir, path.join(shared, `model-${n}`));
    assert.deepEqual(
      {
        backend: result.backend,
        reason: result.backendReason,
        val: result.valAccuracy,
        loss: result.finalLoss,
        train: result.trainCount,
        valCount: result.valCount,
      },
      { backend: 'wasm', reason: 'tfjs-node not installed', val: 0.75, loss: 0.5, train: 1234, valCount: 56 },
    );
    const job = jobs().find((j) => j.metadata.name === result.jobName)!;
    assert.deepEqual(job.spec.template.spec.volumes, [{ name: 'exchange', persistentVolumeClaim: { claimName: 'exchange' } }]);
  });

  const failing: [string, ReturnType<typeof behaviours.fn>, string, RegExp, boolean][] = [
    [
      'OOMKilled',
      behaviours.oomKilled(['epoch 1/2 …']),
      'container trainer OOMKilled (exit 137).',
      /Raise train.kubernetes.memory in modelship.yml \(now 2Gi\)/,
      false,
    ],
    [
      'a non-zero exit',
      behaviours.logs(['loading data', 'Error: manifest.json is corrupt'], 1),
      'container trainer exited with code 1.',
      /See the training log above \(kubectl logs job\/fashion-train-\w+ -n ml\)/,
      false,
    ],
    [
      'ImagePullBackOff',
      behaviours.imagePullBackOff(),
      'container trainer cannot pull image "modelship:missing" (ImagePullBackOff): Back-off pulling image "modelship:missing".',
      /Check that train.kubernetes.image 'modelship:missing' exists/,
      true,
    ],
  ];
  for (const [label, behaviour, reason, hint, deleted] of failing)
    it(`fails with the pod's reason: ${label}`, async () => {
      const image = label === 'ImagePullBackOff' ? 'modelship:missing' : 'modelship:bad';
      sim.kubelet.when({ image }, behaviour);
      const err = await run(image).then(
        () => assert.fail('should fail'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof ModelshipError, String(err));
      const name = /train Job (\S+) failed/.exec(err.message)?.[1] ?? '';
      assert.ok(err.message.startsWith(`train Job ${name} failed: ${reason}`), err.message);
      assert.match(err.hint ?? '', hint);
      // A Job that failed stays for inspection; one stuck pulling forever is deleted.
      assert.equal(
        jobs().some((j) => j.metadata.name === name),
        !deleted,
      );
    });

  it('fails when the pod stays unschedulable past pending-timeout-seconds, and deletes the Job', async () => {
    sim.kubelet.when({ image: 'modelship:big' }, behaviours.unschedulable('0/1 nodes are available: 1 Insufficient memory.'));
    await assert.rejects(run('modelship:big', { memory: '512Gi', pendingTimeoutSeconds: 1 }), (err: unknown) => {
      assert.ok(err instanceof ModelshipError);
      assert.match(err.message, /failed: pod cannot be scheduled: 0\/1 nodes are available: 1 Insufficient memory\. Job \S+ deleted\./);
      assert.match(err.hint ?? '', /No node can take 2 CPU and 512Gi of memory/);
      return true;
    });
    assert.equal(jobs().filter((j) => j.metadata.labels?.['modelship.dev/step'] === 'train' && imageOf(j) === 'modelship:big').length, 0);
  });

  it('gives up after timeout-seconds and deletes the Job', async () => {
    sim.kubelet.when({ image: 'modelship:slow' }, behaviours.forever(['epoch 1/100']));
    await assert.rejects(run('modelship:slow', { timeoutSeconds: 1 }), /did not finish within 1 s\. Job \S+ deleted\./);
    assert.ok(log.lines.includes('epoch 1/100'), 'the log streamed while it ran');
    assert.equal(jobs().length, jobs().filter((j) => imageOf(j) !== 'modelship:slow').length);
  });

  it('an interrupt deletes the Job', async () => {
    sim.kubelet.when({ image: 'modelship:stop' }, behaviours.forever(['epoch 1/100']));
    const ctrl = new AbortController();
    const running = run('modelship:stop', {}, { signal: ctrl.signal });
    while (!log.lines.includes('epoch 1/100')) await new Promise((r) => setTimeout(r, 10));
    ctrl.abort();
    await assert.rejects(running, /train Job (\S+): interrupted\. Job \1 deleted\./);
    assert.equal(jobs().filter((j) => imageOf(j) === 'modelship:stop').length, 0);
  });

  it('an interrupt before the Job exists creates none', async () => {
    const before = jobs().length;
    const ctrl = new AbortController();
    ctrl.abort();
    await assert.rejects(run('modelship:never', {}, { signal: ctrl.signal }), /interrupted before the Job was created/);
    assert.equal(jobs().length, before);
  });

  it('reads train.kubernetes from modelship.yml and the cluster from KUBECONFIG, as the step calls it', async () => {
    sim.kubelet.when(
      { image: 'modelship:from-config' },
      behaviours.fn((c) => {
        const out = c.hostPath(c.container.args![c.container.args!.indexOf('--output-dir') + 1])!;
        c.log(`would write ${out}`);
        return 3;
      }),
    );
    const kubeconfig = path.join(root, 'kubeconfig.yaml');
    await sim.writeKubeconfig(kubeconfig, 'default');
    const config = path.join(root, 'config', 'modelship.yml');
    await mkdir(path.dirname(config), { recursive: true });
    await writeFile(
      config,
      `name: shoes\ntrain:\n  kubernetes:\n    namespace: team-a\n    image: modelship:from-config\n    memory: 3Gi\n    volume: host:${shared}\n`,
    );
    const { inputs, config: loaded } = await resolveInputs(
      trainStep,
      { config, dataset, 'output-dir': path.join(shared, 'from-config'), target: 'kubernetes' },
      root,
    );
    const err = await trainStep.run(inputs, testContext({ cwd: root, env: { KUBECONFIG: kubeconfig }, log, config: loaded })).then(
      () => assert.fail('the container exits 3'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof ModelshipError);
    assert.match(err.message, /^train Job shoes-train-\w{5} failed: container trainer exited with code 3\.$/);
    const job = sim.store.list(jobType, 'team-a')[0] as Job | undefined;
    assert.equal(job?.spec.template.spec.containers[0]?.resources?.limits?.memory, '3Gi');
    assert.ok(log.lines.includes(`would write ${path.join(shared, 'from-config')}`), log.lines.join('\n'));
  });

  it('an API error names what failed and what to do', async () => {
    const secured = await startSimulator({ token: 'right' });
    try {
      const kc = new KubeConfig();
      kc.loadFromString(secured.kubeconfigText('ml').replace('"token": "right"', '"token": "wrong"'));
      await assert.rejects(run('modelship:any', {}, { client: new KubeClient(kc, 'ml') }), (err: unknown) => {
        assert.ok(err instanceof ModelshipError);
        assert.match(err.message, /^cannot create Job fashion-train-… in namespace ml \(HTTP 401/);
        assert.match(err.hint ?? '', /rejected the credentials/);
        return true;
      });
    } finally {
      await secured.close();
    }
  });

  it('a dataset outside the shared volume is a ConfigurationError before anything is created', async () => {
    const before = jobs().length;
    await assert.rejects(
      trainOnKubernetes(
        {
          ...trainOptions,
          dataset: root,
          outputDir: path.join(shared, 'm'),
          client: new KubeClient(sim.kubeConfig('ml'), 'ml'),
          kubernetes: { image: 'x', volume: `host:${shared}` },
        },
        ctx(),
      ),
      ConfigurationError,
    );
    assert.equal(jobs().length, before);
  });
});

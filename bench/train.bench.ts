/**
 * Training throughput of the default CNN (28×28×1, batch 64, Adam, sparse cross-entropy), tfjs
 * against PyTorch training the same network on the same machine in the same run.
 *
 *   node_modules/.bin/node bench/train.bench.ts            (or: npm run bench -- train)
 *
 * Each configuration runs in its own process (one tfjs backend per process; peak RSS per config):
 * tfjs wasm with modelship's kernels, tfjs wasm with only the kernel it needs to train at all (the
 * "before"), the tfjs cpu backend (a few steps), PyTorch at 1 and 2 threads (bench/torch_cnn.py).
 * Random inputs of the right shape: speed does not depend on the values. Figures are wall-clock
 * samples/s; per CPU-second figures are printed too, since other work on the machine skews wall time.
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

type Config = 'wasm' | 'wasm-baseline' | 'cpu';

interface Result {
  peer: string;
  threads?: number;
  steps: number;
  batch: number;
  trainSamplesPerSec: number;
  trainSamplesPerCpuSec: number;
  predictSamplesPerSec?: number;
  predictSamplesPerCpuSec?: number;
  peakRssMB: number;
  params?: number;
  error?: string;
}

const BATCH = 64;
const PREDICT_BATCH = 256;
const CHILD_TIMEOUT_MS = 300_000;
/** The cpu backend needs ~40 CPU-seconds per batch of 64 here: it trains a small batch, per sample. */
const STEPS: Record<Config, { warmup: number; steps: number; batch: number }> = {
  wasm: { warmup: 5, steps: 60, batch: BATCH },
  'wasm-baseline': { warmup: 2, steps: 15, batch: BATCH },
  cpu: { warmup: 1, steps: 2, batch: 8 },
};

async function child(config: Config): Promise<Result> {
  const { tf, initBackend, findWasmDir } = await import('../shared/model/backend.ts');
  const { silentLogger } = await import('../shared/util/log.ts');
  const { buildArchitecture } = await import('../shared/model/architectures.ts');
  if (config === 'wasm-baseline') {
    // Stock tfjs-backend-wasm plus the one kernel it lacks to train a CNN (im2col filter gradient).
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const { conv2DBackpropFilterConfig } = await import('../shared/model/kernels/conv2d_backprop_filter.ts');
    const found = findWasmDir();
    if (!found) throw new Error('wasm files not found');
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    wasm.setWasmPaths(`${found.dir}/`);
    if (!(await tf.setBackend('wasm'))) throw new Error('wasm backend did not start');
    tf.registerKernel(conv2DBackpropFilterConfig);
  } else {
    await initBackend(config, silentLogger);
  }
  const { warmup, steps, batch } = STEPS[config];
  const model = buildArchitecture('cnn', { inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'sparseCategoricalCrossentropy', metrics: ['acc'] });
  const batches = Array.from({ length: 4 }, (_, i) => ({
    x: tf.randomUniform([batch, 28, 28, 1], 0, 1, 'float32', i),
    y: tf.cast(tf.randomUniform([batch, 1], 0, 10, 'int32', 100 + i), 'float32'),
  }));
  const step = async (i: number): Promise<void> => {
    const b = batches[i % batches.length];
    await model.trainOnBatch(b.x, b.y);
  };
  for (let i = 0; i < warmup; i++) await step(i);
  const wall0 = performance.now();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < steps; i++) await step(i);
  const wall = (performance.now() - wall0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  let predictSamplesPerSec: number | undefined;
  let predictSamplesPerCpuSec: number | undefined;
  if (config !== 'cpu') {
    const px = tf.randomUniform([PREDICT_BATCH, 28, 28, 1]);
    const predict = (): void => {
      const out = model.predict(px, { batchSize: PREDICT_BATCH }) as import('@tensorflow/tfjs-core').Tensor;
      out.dataSync();
      out.dispose();
    };
    for (let i = 0; i < 3; i++) predict();
    // Best of 3 rounds: a forward pass is short enough for other work on the machine to skew one round.
    const reps = 10;
    predictSamplesPerSec = 0;
    predictSamplesPerCpuSec = 0;
    for (let round = 0; round < 3; round++) {
      const p0 = performance.now();
      const c0 = process.cpuUsage();
      for (let i = 0; i < reps; i++) predict();
      const pc = process.cpuUsage(c0);
      predictSamplesPerSec = Math.max(predictSamplesPerSec, (reps * PREDICT_BATCH) / ((performance.now() - p0) / 1000));
      predictSamplesPerCpuSec = Math.max(predictSamplesPerCpuSec, (reps * PREDICT_BATCH) / ((pc.user + pc.system) / 1e6));
    }
  }
  return {
    peer: `tfjs ${config}`,
    steps,
    batch,
    trainSamplesPerSec: (steps * batch) / wall,
    trainSamplesPerCpuSec: (steps * batch) / cpuSeconds,
    ...(predictSamplesPerSec === undefined ? {} : { predictSamplesPerSec, predictSamplesPerCpuSec }),
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    params: model.countParams(),
  };
}

function lastJsonLine(text: string): Result | undefined {
  const line = text
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  return line ? (JSON.parse(line) as Result) : undefined;
}

function runChild(config: Config): Result {
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, [self, '--child', config], { encoding: 'utf8', timeout: CHILD_TIMEOUT_MS });
  const res = lastJsonLine(r.stdout ?? '');
  if (r.status !== 0 || !res) {
    return {
      peer: `tfjs ${config}`,
      steps: 0,
      batch: BATCH,
      trainSamplesPerSec: NaN,
      trainSamplesPerCpuSec: NaN,
      peakRssMB: NaN,
      error: r.signal
        ? `killed by ${r.signal} (timeout ${CHILD_TIMEOUT_MS / 1000} s?)`
        : (r.stderr || `exit ${r.status}`).trim().split('\n').slice(-3).join(' | '),
    };
  }
  return res;
}

function runTorch(threads: number, waitPolicy?: 'PASSIVE'): Result {
  const script = path.join(import.meta.dirname, 'torch_cnn.py');
  const env = {
    ...process.env,
    OPENBLAS_NUM_THREADS: '1',
    OMP_NUM_THREADS: String(threads),
    ...(waitPolicy ? { OMP_WAIT_POLICY: waitPolicy } : {}),
  };
  const r = spawnSync(
    '/usr/bin/python3',
    [script, '--threads', String(threads), '--steps', '150', '--batch', String(BATCH), '--predict-batch', String(PREDICT_BATCH)],
    {
      encoding: 'utf8',
      env,
      timeout: 240_000,
    },
  );
  const res = lastJsonLine(r.stdout ?? '');
  if (r.status !== 0 || !res) {
    return {
      peer: `torch ${threads} thread(s)`,
      threads,
      steps: 0,
      batch: BATCH,
      trainSamplesPerSec: NaN,
      trainSamplesPerCpuSec: NaN,
      peakRssMB: NaN,
      error: (r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n').slice(-2).join(' | '),
    };
  }
  return waitPolicy ? { ...res, peer: `${res.peer} OMP_WAIT_POLICY=${waitPolicy}` } : res;
}

/**
 * PyTorch at its best with several threads: OpenMP's default spin-waiting collapses when other
 * processes hold the cores (~10× slower here); OMP_WAIT_POLICY=PASSIVE does not. Both run; the
 * faster counts.
 */
function runTorchThreads(threads: number): Result {
  const spin = runTorch(threads);
  const passive = runTorch(threads, 'PASSIVE');
  if (spin.error) return passive;
  return (passive.trainSamplesPerSec || 0) > spin.trainSamplesPerSec ? passive : spin;
}

const fmt = (n: number | undefined): string =>
  n === undefined || !Number.isFinite(n) ? 'n/a' : n < 10 ? n.toFixed(1) : Math.round(n).toLocaleString('en-US');
const ratio = (a: number, b: number): string => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}x` : 'n/a');

export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  if (argv[0] === '--child') {
    const config = argv[1] as Config;
    process.stdout.write(`${JSON.stringify(await child(config))}\n`);
    return;
  }
  const load0 = os.loadavg()[0];
  console.log(`train bench: default CNN, 28x28x1, batch ${BATCH}, Adam; ${os.cpus().length} cores, load ${load0.toFixed(1)}`);
  const fast = runChild('wasm');
  const before = runChild('wasm-baseline');
  const cpu = runChild('cpu');
  const t1 = runTorch(1);
  const t2 = runTorchThreads(2);
  const rows = [fast, before, cpu, t1, t2];
  for (const r of rows) {
    const base = r.peer.startsWith('torch')
      ? `torch (${r.threads} thread${r.threads === 1 ? '' : 's'}${r.peer.includes('PASSIVE') ? ', passive wait' : ''})`
      : r.peer;
    const name = r.batch === BATCH ? base : `${base} (batch ${r.batch})`;
    if (r.error) {
      console.log(`${name.padEnd(30)} failed: ${r.error}`);
      continue;
    }
    const predict =
      r.predictSamplesPerSec === undefined
        ? ''
        : `, predict(batch ${PREDICT_BATCH}) ${fmt(r.predictSamplesPerSec)}/s (${fmt(r.predictSamplesPerCpuSec)} per CPU-second)`;
    console.log(
      `${name.padEnd(30)} train ${fmt(r.trainSamplesPerSec).padStart(6)} samples/s (${fmt(r.trainSamplesPerCpuSec)} per CPU-second)${predict}, peak RSS ${fmt(r.peakRssMB)} MB`,
    );
  }
  console.log('');
  console.log(
    `tfjs wasm ${fmt(fast.trainSamplesPerSec)} samples/s vs torch(1 thread) ${fmt(t1.trainSamplesPerSec)} = ${ratio(fast.trainSamplesPerSec, t1.trainSamplesPerSec)}`,
  );
  console.log(
    `tfjs wasm ${fmt(fast.trainSamplesPerSec)} samples/s vs torch(2 threads) ${fmt(t2.trainSamplesPerSec)} = ${ratio(fast.trainSamplesPerSec, t2.trainSamplesPerSec)}`,
  );
  console.log(
    `per CPU-second: tfjs wasm ${fmt(fast.trainSamplesPerCpuSec)} vs torch(1 thread) ${fmt(t1.trainSamplesPerCpuSec)} = ${ratio(fast.trainSamplesPerCpuSec, t1.trainSamplesPerCpuSec)}`,
  );
  console.log(
    `modelship kernels vs stock wasm + filter gradient only: ${fmt(fast.trainSamplesPerSec)} vs ${fmt(before.trainSamplesPerSec)} = ${ratio(fast.trainSamplesPerSec, before.trainSamplesPerSec)}`,
  );
  console.log(`tfjs wasm vs tfjs cpu: ${ratio(fast.trainSamplesPerSec, cpu.trainSamplesPerSec)}`);
  console.log(
    `predict (batch ${PREDICT_BATCH}): tfjs wasm ${fmt(fast.predictSamplesPerSec)}/s vs torch(1 thread) ${fmt(t1.predictSamplesPerSec)}/s = ${ratio(fast.predictSamplesPerSec ?? NaN, t1.predictSamplesPerSec ?? NaN)}`,
  );
  console.log(
    `predict per CPU-second: tfjs wasm ${fmt(fast.predictSamplesPerCpuSec)} vs torch(1 thread) ${fmt(t1.predictSamplesPerCpuSec)} = ${ratio(fast.predictSamplesPerCpuSec ?? NaN, t1.predictSamplesPerCpuSec ?? NaN)}`,
  );
  const load1 = os.loadavg()[0];
  if (Math.max(load0, load1) > os.cpus().length) {
    console.log(
      `note: load average ${Math.max(load0, load1).toFixed(1)} on ${os.cpus().length} cores: other work shares the CPUs; wall-clock figures are low, compare the per CPU-second ones.`,
    );
  }
  if (rows.some((r) => r.error)) process.exitCode = 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();

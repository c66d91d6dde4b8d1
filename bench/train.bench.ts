/**
 * Training throughput of the default cnn (28×28×1, batch 128 as the train step's default, Adam,
 * cross-entropy with label smoothing), tfjs on wasm against PyTorch training the same network on the same machine in the
 * same run, and where a training step spends its time, kernel by kernel.
 *
 *   node_modules/.bin/node bench/train.bench.ts            (or: npm run bench -- train)
 *
 * Each configuration runs in its own process (one tfjs backend per process; peak RSS per config):
 * - tfjs wasm, stock kernels plus the one it lacks to train (an im2col filter gradient);
 * - tfjs wasm, modelship's TypeScript kernels (the kernels before the C ones; trainOnBatch, tfjs Adam);
 * - tfjs wasm, modelship's C kernels (wasm SIMD revectorized to 256 bits, the default), on 1
 *   thread and data-parallel on 2, and on 1 thread without revectorizing;
 * - the tfjs cpu backend (a few steps of a small batch);
 * - PyTorch on 1 and 2 threads (bench/torch_cnn.py; 2 threads both spinning and with
 *   OMP_WAIT_POLICY=PASSIVE, the faster counts).
 * Random inputs of the right shape: speed does not depend on the values. Wall-clock samples/s and
 * samples per CPU-second (all threads of the process) are printed, since other work on the machine
 * skews wall time; the ratios to PyTorch are taken in the same run.
 *
 * The kernel table: each kernel's thread CPU time per training step (including the kernels it calls),
 * with the TypeScript kernels (before) and the C kernels (after, revectorized), on one thread.
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

type Config = 'stock' | 'ts' | 'native' | 'native-2' | 'native-plain' | 'cpu';

interface KernelTime {
  name: string;
  cpuMs: number;
  calls: number;
}

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
  /** Per training step, from a profiled run of the same configuration. */
  profile?: { stepCpuMs: number; kernels: KernelTime[] };
  error?: string;
}

/** The train step's default batch (BENCH_BATCH overrides it). */
const BATCH = Number(process.env['BENCH_BATCH'] ?? 128);
const PREDICT_BATCH = 256;
const CHILD_TIMEOUT_MS = 600_000;
const STEPS: Record<Config, { warmup: number; steps: number; batch: number }> = {
  stock: { warmup: 2, steps: 10, batch: BATCH },
  ts: { warmup: 3, steps: 25, batch: BATCH },
  native: { warmup: 5, steps: 60, batch: BATCH },
  'native-2': { warmup: 5, steps: 60, batch: BATCH },
  'native-plain': { warmup: 5, steps: 60, batch: BATCH },
  // The cpu backend needs tens of CPU-seconds per batch of 64 here: it trains a small batch.
  cpu: { warmup: 1, steps: 2, batch: 8 },
};
const LABEL_SMOOTHING = 0.1;

type Tf = typeof import('@tensorflow/tfjs-core');

/**
 * Wraps every registered wasm kernel to add up its thread CPU time. A kernel that calls others
 * (modelship's TypeScript kernels call stock ones) is charged for them: only the outermost call is
 * timed, inclusive, so every row is one operation of the step.
 */
function instrument(tf: Tf): { reset(): void; read(steps: number): KernelTime[] } {
  const totals = new Map<string, { us: number; calls: number }>();
  let depth = 0;
  const now = (): number => {
    const u = process.threadCpuUsage();
    return u.user + u.system;
  };
  for (const k of tf.getKernelsForBackend('wasm')) {
    const orig = k.kernelFunc;
    tf.unregisterKernel(k.kernelName, 'wasm');
    tf.registerKernel({
      ...k,
      kernelFunc: (args) => {
        if (depth > 0) return orig(args);
        const t0 = now();
        depth++;
        try {
          return orig(args);
        } finally {
          depth--;
          const e = totals.get(k.kernelName) ?? { us: 0, calls: 0 };
          e.us += now() - t0;
          e.calls++;
          totals.set(k.kernelName, e);
        }
      },
    });
  }
  return {
    reset: () => totals.clear(),
    read: (steps) =>
      [...totals.entries()]
        .map(([name, e]) => ({ name, cpuMs: e.us / 1000 / steps, calls: e.calls / steps }))
        .sort((a, b) => b.cpuMs - a.cpuMs),
  };
}

async function child(config: Config, profile: boolean): Promise<Result> {
  const { tf, initBackend, findWasmDir } = await import('../shared/model/backend.ts');
  const { silentLogger } = await import('../shared/util/log.ts');
  const { buildArchitecture } = await import('../shared/model/architectures.ts');
  const { registerWasmTrainingKernels } = await import('../shared/model/kernels/index.ts');
  if (config === 'stock') {
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
    await initBackend(config === 'cpu' ? 'cpu' : 'wasm', silentLogger);
    if (config === 'ts') registerWasmTrainingKernels('ts');
  }
  const { warmup, steps, batch } = STEPS[config];
  const model = buildArchitecture('cnn', { inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
  const x = new Float32Array(batch * 784).map((_, i) => ((i * 2654435761) % 1000) / 1000);
  const y = new Float32Array(batch).map((_, i) => i % 10);
  let step: () => Promise<void>;
  let dispose = (): Promise<void> => Promise.resolve();
  if (config === 'stock' || config === 'ts' || config === 'cpu') {
    // The training step before modelship's own: trainOnBatch with tfjs's Adam (label smoothing as
    // smoothed one-hot targets).
    model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
    const xb = tf.tensor(x, [batch, 28, 28, 1]);
    const yb = tf.tidy(() => tf.add(tf.mul(tf.oneHot(tf.tensor1d(y, 'int32'), 10), 1 - LABEL_SMOOTHING), LABEL_SMOOTHING / 10));
    step = async () => {
      await model.trainOnBatch(xb, yb);
    };
  } else {
    const { FusedAdamOptimizer } = await import('../shared/train/adam.ts');
    const { createTrainer } = await import('../shared/train/parallel.ts');
    const { Prng } = await import('../shared/util/prng.ts');
    const { trainer, note } = await createTrainer(
      model,
      new FusedAdamOptimizer(1e-3),
      { task: 'classification', labelSmoothing: LABEL_SMOOTHING },
      [28, 28, 1],
      1,
      { replicas: config === 'native-2' ? 2 : 1, maxBatch: batch, dropoutRng: new Prng(1) },
    );
    if (note) throw new Error(note);
    step = async () => {
      await trainer.step(x, y, batch);
    };
    dispose = () => trainer.dispose();
  }
  const probe = profile ? instrument(tf) : undefined;
  for (let i = 0; i < warmup; i++) await step();
  probe?.reset();
  const wall0 = performance.now();
  const cpu0 = process.cpuUsage();
  const thread0 = process.threadCpuUsage();
  for (let i = 0; i < steps; i++) await step();
  const wall = (performance.now() - wall0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const thread = process.threadCpuUsage(thread0);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  await dispose();
  let predictSamplesPerSec: number | undefined;
  let predictSamplesPerCpuSec: number | undefined;
  if (config !== 'cpu' && !profile) {
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
    ...(probe ? { profile: { stepCpuMs: (thread.user + thread.system) / 1000 / steps, kernels: probe.read(steps) } } : {}),
  };
}

/**
 * The time between steps: cutting one batch from the prepared data (uint8 pixels kept in memory,
 * shuffled by index), augmenting and preprocessing it, as the training loop does, per batch.
 */
async function pipeline(): Promise<{ msPerBatch: number; shareOfStep?: number }> {
  const { gatherBatch } = await import('../shared/train/data.ts');
  const { augmentBatch, defaultAugmentation } = await import('../shared/train/augment.ts');
  const { Prng, shuffledOrder } = await import('../shared/util/prng.ts');
  const count = 54000;
  const split = {
    count,
    inputShape: [28, 28, 1],
    x: new Uint8Array(count * 784).map((_, i) => (i * 2654435761) >>> 24),
    y: new Uint8Array(count).map((_, i) => i % 10),
  };
  const order = shuffledOrder(count, new Prng(1));
  const rng = new Prng(2);
  const aug = defaultAugmentation([28, 28, 1]);
  const t0 = performance.now();
  let batches = 0;
  for (let start = 0; start + BATCH <= count; start += BATCH, batches++) {
    gatherBatch(split, order.subarray(start, start + BATCH), { scale: 1 / 255, offset: 0 }, (raw, n) =>
      augmentBatch(raw, n, [28, 28, 1], aug, rng),
    );
  }
  return { msPerBatch: (performance.now() - t0) / batches };
}

function lastJsonLine(text: string): Result | undefined {
  const line = text
    .trim()
    .split('\n')
    .reverse()
    .find((l) => l.startsWith('{'));
  return line ? (JSON.parse(line) as Result) : undefined;
}

function failed(peer: string, error: string): Result {
  return { peer, steps: 0, batch: BATCH, trainSamplesPerSec: NaN, trainSamplesPerCpuSec: NaN, peakRssMB: NaN, error };
}

function runChild(config: Config, profile = false): Result {
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, [self, '--child', config, ...(profile ? ['--profile'] : [])], {
    encoding: 'utf8',
    timeout: CHILD_TIMEOUT_MS,
    env: {
      ...process.env,
      MODELSHIP_WASM_KERNELS: config === 'ts' ? 'ts' : 'native',
      // The default revectorizes wasm SIMD to 256 bits; the "before" configurations and native-plain do not.
      MODELSHIP_WASM_REVECTORIZE: config === 'native' || config === 'native-2' ? '1' : '0',
    },
  });
  const res = lastJsonLine(r.stdout ?? '');
  if (r.status !== 0 || !res) {
    return failed(
      `tfjs ${config}`,
      r.signal
        ? `killed by ${r.signal} (timeout ${CHILD_TIMEOUT_MS / 1000} s?)`
        : (r.stderr || `exit ${r.status}`).trim().split('\n').slice(-3).join(' | '),
    );
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
    { encoding: 'utf8', env, timeout: 300_000 },
  );
  const res = lastJsonLine(r.stdout ?? '');
  if (r.status !== 0 || !res) {
    return {
      ...failed(
        `torch ${threads} thread(s)`,
        (r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n').slice(-2).join(' | '),
      ),
      threads,
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
  n === undefined || !Number.isFinite(n) ? 'n/a' : n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : Math.round(n).toLocaleString('en-US');
const ratio = (a: number | undefined, b: number | undefined): string =>
  a !== undefined && b !== undefined && Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}×` : 'n/a';

const LABELS: Record<string, string> = {
  'tfjs stock': 'tfjs wasm, stock kernels (+ filter gradient)',
  'tfjs ts': 'tfjs wasm, TypeScript kernels (before)',
  'tfjs native': 'tfjs wasm, C kernels, 1 thread',
  'tfjs native-2': 'tfjs wasm, C kernels, 2 threads (data-parallel)',
  'tfjs native-plain': 'tfjs wasm, C kernels, 1 thread, no revectorize',
  'tfjs cpu': 'tfjs cpu (batch 8)',
};

function label(r: Result): string {
  if (r.peer.startsWith('torch'))
    return `PyTorch ${r.threads} thread${r.threads === 1 ? '' : 's'}${r.peer.includes('PASSIVE') ? ' (passive wait)' : ''}`;
  return LABELS[r.peer] ?? r.peer;
}

function table(headers: string[], rows: string[][], right: boolean[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string =>
    `| ${cells.map((c, i) => (right[i] ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (right[i] ? `${'-'.repeat(w + 1)}:` : `${'-'.repeat(w + 2)}`)).join('|')}|`;
  return [line(headers), rule, ...rows.map(line)].join('\n');
}

/** What each kernel is in the default cnn's training step. */
const KERNEL_ROLES: Record<string, string> = {
  FusedConv2D: 'conv forward (FusedConv2D / Conv2D)',
  Conv2D: 'conv forward (FusedConv2D / Conv2D)',
  Conv2DBackpropInput: 'conv input gradient (Conv2DBackpropInput)',
  Conv2DBackpropFilter: 'conv filter gradient (Conv2DBackpropFilter)',
  BatchMatMul: 'dense layers (BatchMatMul, _FusedMatMul)',
  _FusedMatMul: 'dense layers (BatchMatMul, _FusedMatMul)',
  MaxPoolGrad: 'max-pool gradient (MaxPoolGrad)',
  MaxPool: 'max-pool (MaxPool)',
  FusedBatchNorm: 'batch norm (FusedBatchNorm / ModelshipBatchNormTrain)',
  ModelshipBatchNormTrain: 'batch norm (FusedBatchNorm / ModelshipBatchNormTrain)',
  ModelshipBatchNormGrad: 'batch norm gradient (ModelshipBatchNormGrad; before: elementwise ops)',
  ModelshipReluGrad: 'ReLU gradient (ModelshipReluGrad; before: Step, Multiply)',
  ModelshipAdam: 'Adam (ModelshipAdam; before: elementwise ops)',
  Relu: 'ReLU (Relu)',
  Multiply: 'elementwise: Multiply',
  Sum: 'reductions: Sum, Mean',
  Mean: 'reductions: Sum, Mean',
};

/**
 * The kernel rows: the heaviest kernels before or after, the rest summed, time outside kernels, the
 * step; before (TypeScript kernels), after without and with revectorizing (which kernel gains,
 * which regresses).
 */
function kernelTable(before: Result, plain: Result, after: Result): string {
  const b = before.profile;
  const p = plain.profile;
  const a = after.profile;
  if (!b || !p || !a) return `kernel profile failed: ${before.error ?? plain.error ?? after.error ?? 'no profile'}`;
  type Profile = NonNullable<Result['profile']>;
  // One row per operation: kernels that do the same job in the two sets (FusedConv2D before, Conv2D
  // after, for the forward convolution) are added up under their role.
  const byName = (q: Profile): Map<string, KernelTime> => {
    const m = new Map<string, KernelTime>();
    for (const k of q.kernels) {
      const key = KERNEL_ROLES[k.name] ? `${KERNEL_ROLES[k.name]}` : k.name;
      const e = m.get(key);
      m.set(key, e ? { name: key, cpuMs: e.cpuMs + k.cpuMs, calls: e.calls + k.calls } : { ...k, name: key });
    }
    return m;
  };
  const bm = byName(b);
  const pm = byName(p);
  const am = byName(a);
  const ranked = (m: Map<string, KernelTime>): string[] => [...m.values()].sort((x, y) => y.cpuMs - x.cpuMs).map((k) => k.name);
  const top = new Set([...ranked(bm).slice(0, 10), ...ranked(am).slice(0, 10)]);
  const most = (name: string): number => Math.max(bm.get(name)?.cpuMs ?? 0, am.get(name)?.cpuMs ?? 0);
  const names = [...top].sort((x, y) => most(y) - most(x));
  const share = (ms: number, total: number): string => `${((100 * ms) / total).toFixed(1)}%`;
  const cell = (k: KernelTime | undefined, total: number): [string, string] => (k ? [fmt(k.cpuMs), share(k.cpuMs, total)] : ['—', '']);
  const rows: string[][] = [];
  for (const name of names) {
    const kb = bm.get(name);
    const kp = pm.get(name);
    const ka = am.get(name);
    rows.push([
      name,
      fmt(ka?.calls ?? kb?.calls),
      ...cell(kb, b.stepCpuMs),
      ...cell(kp, p.stepCpuMs),
      ...cell(ka, a.stepCpuMs),
      kb && ka ? ratio(kb.cpuMs, ka.cpuMs) : '',
      kp && ka ? ratio(kp.cpuMs, ka.cpuMs) : '',
    ]);
  }
  const rest = (q: Profile): number => [...byName(q).values()].filter((k) => !top.has(k.name)).reduce((sum, k) => sum + k.cpuMs, 0);
  const outside = (q: Profile): number => q.stepCpuMs - q.kernels.reduce((sum, k) => sum + k.cpuMs, 0);
  const summary = (label: string, f: (q: Profile) => number, pct: (q: Profile) => string): string[] => [
    label,
    '',
    fmt(f(b)),
    pct(b),
    fmt(f(p)),
    pct(p),
    fmt(f(a)),
    pct(a),
    ratio(f(b), f(a)),
    ratio(f(p), f(a)),
  ];
  rows.push(summary('other kernels', rest, (q) => share(rest(q), q.stepCpuMs)));
  rows.push(summary('outside kernels (JS: tape, layers, optimizer)', outside, (q) => share(outside(q), q.stepCpuMs)));
  rows.push(
    summary(
      'training step (main thread CPU)',
      (q) => q.stepCpuMs,
      () => '100%',
    ),
  );
  return table(
    [
      `kernel (CPU ms per step of ${BATCH})`,
      'calls',
      'before ms',
      'share',
      'C, no revec. ms',
      'share',
      'after ms',
      'share',
      'before/after',
      'revectorize',
    ],
    rows,
    [false, true, true, true, true, true, true, true, true, true],
  );
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  if (argv[0] === '--child') {
    process.stdout.write(`${JSON.stringify(await child(argv[1] as Config, argv.includes('--profile')))}\n`);
    return;
  }
  if (argv[0] === '--pipeline') {
    console.log(JSON.stringify(await pipeline()));
    return;
  }
  const load0 = os.loadavg()[0];
  console.log(
    `train bench: default cnn, 28x28x1, batch ${BATCH}, Adam, label smoothing ${LABEL_SMOOTHING}; ${os.cpus().length} cores, load ${load0.toFixed(1)}`,
  );
  const t1 = runTorch(1);
  const t2 = runTorchThreads(2);
  const tfjs = (['native', 'native-2', 'native-plain', 'ts', 'stock', 'cpu'] as const).map((c) => runChild(c));
  const before = runChild('ts', true);
  const plain = runChild('native-plain', true);
  const after = runChild('native', true);
  const rows = [...tfjs, t1, t2];
  const errors = rows.filter((r) => r.error);
  console.log('');
  console.log(
    table(
      ['configuration', 'train samples/s', 'per CPU-s', 'vs PyTorch 1t', 'vs PyTorch 2t', 'predict/s (batch 256)', 'peak RSS MB'],
      rows.map((r) =>
        r.error
          ? [label(r), 'failed', '', '', '', '', '']
          : [
              label(r),
              fmt(r.trainSamplesPerSec),
              fmt(r.trainSamplesPerCpuSec),
              ratio(r.trainSamplesPerSec, t1.trainSamplesPerSec),
              ratio(r.trainSamplesPerSec, t2.trainSamplesPerSec),
              r.predictSamplesPerSec === undefined ? '' : `${fmt(r.predictSamplesPerSec)} (${fmt(r.predictSamplesPerCpuSec)}/CPU-s)`,
              fmt(r.peakRssMB),
            ],
      ),
      [false, true, true, true, true, true, true],
    ),
  );
  const best = [t1, t2].filter((r) => !r.error).sort((p, q) => q.trainSamplesPerSec - p.trainSamplesPerSec)[0];
  const mine = [tfjs[0], tfjs[1]].filter((r) => !r.error).sort((p, q) => q.trainSamplesPerSec - p.trainSamplesPerSec)[0];
  if (best && mine) {
    console.log(
      `\nbest tfjs wasm (${label(mine)}) vs the better PyTorch (${label(best)}): ${ratio(mine.trainSamplesPerSec, best.trainSamplesPerSec)} wall, ${ratio(mine.trainSamplesPerCpuSec, best.trainSamplesPerCpuSec)} per CPU-second`,
    );
  }
  const pipe = await pipeline();
  const stepMs = after.profile?.stepCpuMs;
  console.log('');
  console.log(kernelTable(before, plain, after));
  console.log(
    `\nbetween steps: cutting, mirroring and scaling a batch of ${BATCH} takes ${pipe.msPerBatch.toFixed(3)} ms${stepMs ? ` (${((100 * pipe.msPerBatch) / stepMs).toFixed(1)}% of a step on one thread)` : ''}`,
  );
  for (const r of [...errors, before, plain, after].filter((x) => x.error)) console.log(`${label(r)} failed: ${r.error}`);
  const load1 = os.loadavg()[0];
  if (Math.max(load0, load1) > os.cpus().length) {
    console.log(
      `note: load average ${Math.max(load0, load1).toFixed(1)} on ${os.cpus().length} cores: other work shares the CPUs; wall-clock figures are low, compare the per CPU-second ones.`,
    );
  }
  if (errors.length > 0 || before.error || plain.error || after.error) process.exitCode = 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();

/**
 * The model server under load: single-example `:predict` requests to the default cnn (28×28×1,
 * Fashion-MNIST), sent by autocannon from this process to a `modelship serve` child process, at
 * concurrency 1, 8, 64 and 256; requests/s and p50/p99 latency.
 *
 *   node_modules/.bin/node bench/serve.bench.ts            (or: npm run bench -- serve)
 *
 * The limit is the same model's in-process batched predict throughput (no HTTP, batch =
 * max-batch-size), measured in its own child process in the same run; the server's ratio to it is
 * the figure that matters, since other work on the machine moves absolute numbers. Then the same
 * load with --max-batch-size 1 (the gain from batching; the same queue capacity in examples), a closed
 * loop from bench/open-loop.ts (a raw-socket generator in its own process, lighter than autocannon on
 * the 2 cores the server shares with it), and p99 at half the saturation rate (open loop from that
 * generator, latency from each request's scheduled time, the median of three runs). Only 2xx answers
 * count as requests/s.
 * Server CPU-seconds are read from /proc, so throughput per server CPU-second is printed too.
 *
 * The model: the demo's (.modelship/model, from `npm run demo`) when present, else an untrained
 * default cnn (speed does not depend on the weights).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';

const root = path.resolve(import.meta.dirname, '..');
const CONCURRENCY = [1, 8, 64, 256];
const DURATION_S = Number(process.env['BENCH_SERVE_SECONDS'] ?? 4);
const MAX_BATCH = 64;

interface Limit {
  samplesPerSec: number;
  samplesPerCpuSec: number;
  batch: number;
  batch1PerSec: number;
  backend: string;
}

interface AutocannonResult {
  requests: { average: number; total: number };
  '2xx': number;
  latency: { p50: number; p99: number; average: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  duration: number;
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

async function limitChild(dir: string): Promise<void> {
  const { initBackend, loadModel, predictProbabilities } = await import('../shared/model/index.ts');
  const { silentLogger } = await import('../shared/util/log.ts');
  const backend = await initBackend('auto', silentLogger);
  const { model, metadata } = await loadModel(dir);
  const per = metadata.inputShape.reduce((a, b) => a * b, 1);
  const run = async (batch: number, seconds: number): Promise<{ perSec: number; perCpu: number }> => {
    const x = new Uint8Array(batch * per).map((_, i) => (i * 37) % 256);
    for (let i = 0; i < 3; i++) await predictProbabilities(model, metadata, x, batch);
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    let n = 0;
    while (performance.now() - t0 < seconds * 1000) {
      await predictProbabilities(model, metadata, x, batch);
      n += batch;
    }
    const wall = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    return { perSec: n / wall, perCpu: n / ((c.user + c.system) / 1e6) };
  };
  const big = await run(MAX_BATCH, 3);
  const one = await run(1, 1.5);
  const out: Limit = {
    samplesPerSec: big.perSec,
    samplesPerCpuSec: big.perCpu,
    batch: MAX_BATCH,
    batch1PerSec: one.perSec,
    backend: backend.name,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

function measureLimit(dir: string): Limit {
  const r = spawnSync(process.execPath, [import.meta.filename, '--limit', dir], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`limit child failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Limit;
}

/** The model folder: the demo's when it is a 28×28×1 classifier, else an untrained default cnn. */
async function modelDir(scratch: string): Promise<{ dir: string; what: string }> {
  const demo = path.join(root, '.modelship', 'model');
  if (existsSync(path.join(demo, 'modelship.json'))) {
    const m = JSON.parse(readFileSync(path.join(demo, 'modelship.json'), 'utf8')) as {
      inputShape: number[];
      params?: { architecture?: string };
    };
    if (m.inputShape.join('x') === '28x28x1' && m.params?.architecture === 'cnn')
      return { dir: demo, what: 'the demo model (.modelship/model)' };
  }
  await import('@tensorflow/tfjs-backend-cpu');
  const tf = await import('@tensorflow/tfjs-core');
  await tf.setBackend('cpu');
  const { loadArchitecture, saveModel } = await import('../shared/model/index.ts');
  const model = await loadArchitecture('cnn', { inputShape: [28, 28, 1], numClasses: 10, seed: 42 }, root);
  const dir = path.join(scratch, 'cnn');
  await saveModel(model, dir, {
    schemaVersion: 1,
    kind: 'modelship.model',
    name: 'fashion',
    task: 'classification',
    inputShape: [28, 28, 1],
    classes: ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'],
    preprocessing: { scale: 1 / 255, offset: 0 },
    dataset: { digest: `sha256:${'0'.repeat(64)}`, splits: {} },
    params: { architecture: 'cnn', epochs: 0, batchSize: 64, learningRate: 0.001, seed: 42, earlyStoppingPatience: 0 },
    backend: 'cpu',
    versions: {},
    git: {},
    metrics: { epochsRun: 0 },
    training: { startedAt: new Date(0).toISOString(), finishedAt: new Date(0).toISOString(), durationSeconds: 0, samplesPerSecond: 0 },
  });
  return { dir, what: 'an untrained default cnn (run `npm run demo` to bench the trained one)' };
}

/** One Fashion-MNIST test image as a single-example row-format request. */
function requestBody(): string {
  const bytes = gunzipSync(readFileSync(path.join(root, 'demo', 'fashion-sample', 't10k-images-idx3-ubyte.gz')));
  const px = bytes.subarray(16, 16 + 784);
  const inst = Array.from({ length: 28 }, (_, r) => Array.from({ length: 28 }, (_, c) => [px[r * 28 + c]]));
  return JSON.stringify({ instances: [inst] });
}

interface Server {
  readonly child: ChildProcess;
  readonly url: string;
}

function startServer(dir: string, extra: string[]): Promise<Server> {
  const child = spawn(
    process.execPath,
    [path.join(root, 'shared', 'cli', 'main.ts'), 'serve', '--model', dir, '--name', 'fashion', '--port', '0', ...extra],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server not ready after 60 s:\n${err}`)), 60_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /modelship serve ready url=(\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1] });
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited (${code}):\n${err}`)));
  });
}

async function stopServer(s: Server): Promise<void> {
  const exited = new Promise((resolve) => s.child.once('exit', resolve));
  s.child.kill('SIGTERM');
  await exited;
}

const TICK = 100; // USER_HZ on Linux
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICK;
}

/** CPU-seconds of the server's main thread (HTTP, parsing, batching) and its inference worker thread. */
function threadCpu(pid: number): { main: number; worker: number } {
  const out = { main: 0, worker: 0 };
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      if (comm !== 'MainThread' && comm !== 'WorkerThread') continue;
      const f = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
      out[comm === 'MainThread' ? 'main' : 'worker'] += (Number(fields[11]) + Number(fields[12])) / TICK;
    } catch {
      // the thread ended
    }
  }
  return out;
}

interface Row {
  label: string;
  connections: number;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  perServerCpuSec: number;
  /** Server CPU per answered request, µs: main thread and inference worker. */
  mainUs: number;
  workerUs: number;
}

async function load(s: Server, body: string, connections: number, seconds: number, label: string): Promise<Row> {
  const pid = s.child.pid!;
  const c0 = cpuSeconds(pid);
  const t0 = threadCpu(pid);
  const r = await autocannon({
    url: `${s.url}/v1/models/fashion:predict`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections,
    duration: seconds,
  });
  const cpu = cpuSeconds(pid) - c0;
  const t1 = threadCpu(pid);
  const n = Math.max(1, r['2xx']);
  return {
    label,
    connections,
    mainUs: ((t1.main - t0.main) / n) * 1e6,
    workerUs: ((t1.worker - t0.worker) / n) * 1e6,
    rps: r['2xx'] / r.duration,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.timeouts + r.non2xx,
    perServerCpuSec: cpu > 0 ? r['2xx'] / cpu : 0,
  };
}

/**
 * Load from bench/open-loop.ts in a process of its own (raw sockets, a few µs of CPU a request):
 * at a fixed rate, open loop, latency from each request's scheduled time (no coordinated
 * omission; autocannon's own rate limit sends each second's requests in a burst, which is not half
 * the load but full load half the time); or, at rate 0, a closed loop. The first second is sent
 * but not counted.
 */
async function generator(s: Server, bodyFile: string, rate: number, seconds: number, connections: number, label: string): Promise<Row> {
  const pid = s.child.pid!;
  const c0 = cpuSeconds(pid);
  const th0 = threadCpu(pid);
  const child = spawn(
    process.execPath,
    [
      path.join(root, 'bench', 'open-loop.ts'),
      `${s.url}/v1/models/fashion:predict`,
      bodyFile,
      String(rate),
      String(seconds),
      String(connections),
      '1',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`bench/open-loop.ts exited with ${code}`);
  const r = JSON.parse(out) as { ok: number; errors: number; seconds: number; latencies: { p50: number; p99: number } };
  // The CPU of the warm-up second is in these deltas too: per request, divide by everything answered.
  const answered = Math.max(1, Math.round((r.ok / r.seconds) * (r.seconds + 1)));
  const cpu = cpuSeconds(pid) - c0;
  const th1 = threadCpu(pid);
  return {
    label,
    connections,
    rps: r.ok / r.seconds,
    p50: r.latencies.p50,
    p99: r.latencies.p99,
    errors: r.errors,
    perServerCpuSec: cpu > 0 ? answered / cpu : 0,
    mainUs: ((th1.main - th0.main) / answered) * 1e6,
    workerUs: ((th1.worker - th0.worker) / answered) * 1e6,
  };
}

const fmt = (n: number, d = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

async function main(): Promise<void> {
  const scratch = mkdtempSync(path.join(os.tmpdir(), 'modelship-serve-bench-'));
  try {
    const model = await modelDir(scratch);
    const body = requestBody();
    const bodyFile = path.join(scratch, 'request.json');
    writeFileSync(bodyFile, body);
    console.log(`model: ${model.what}; ${os.cpus().length} cores; load ${os.loadavg()[0].toFixed(2)}; ${DURATION_S} s per run`);
    // The limit is measured before, between and after the server runs, and the median taken: other
    // work on the machine comes and goes, and a ratio against one lucky or unlucky moment misleads.
    const limits: Limit[] = [];
    const measure = (when: string): void => {
      const l = measureLimit(model.dir);
      limits.push(l);
      console.log(
        `limit ${when} (in-process predict, batch ${l.batch}, ${l.backend}): ${fmt(l.samplesPerSec)} samples/s (${fmt(l.samplesPerCpuSec)} per CPU-second, ${fmt(1e6 / l.samplesPerCpuSec)} µs each); batch 1: ${fmt(l.batch1PerSec)}/s; load ${os.loadavg()[0].toFixed(2)}`,
      );
    };
    measure('before');

    const rows: Row[] = [];
    const batched = await startServer(model.dir, ['--max-batch-size', String(MAX_BATCH)]);
    try {
      await load(batched, body, 64, 2, 'warm-up');
      for (const c of CONCURRENCY) rows.push(await load(batched, body, c, DURATION_S, `max-batch-size ${MAX_BATCH}`));
      // The same closed loop from the lighter generator in its own process: on 2 cores the load
      // generator's own CPU is taken from the server's.
      rows.push(await generator(batched, bodyFile, 0, DURATION_S, 256, `max-batch-size ${MAX_BATCH}, raw-socket generator`));
      measure('between');
      const saturation = Math.max(...rows.map((r) => r.rps));
      for (let i = 0; i < 3; i++)
        rows.push(await generator(batched, bodyFile, Math.round(saturation / 2), DURATION_S, 256, 'half the saturation rate (open loop)'));
      // A light load: whatever tail latency remains here is the machine's (scheduling), not the queue's.
      rows.push(await generator(batched, bodyFile, Math.round(saturation / 8), DURATION_S, 256, 'an eighth of it (open loop)'));
    } finally {
      await stopServer(batched);
    }
    // The same queue capacity in examples (64 × 100), so the comparison is not about 503s.
    const unbatched = await startServer(model.dir, ['--max-batch-size', '1', '--max-enqueued-batches', String(MAX_BATCH * 100)]);
    try {
      await load(unbatched, body, 64, 2, 'warm-up');
      for (const c of [64, 256]) rows.push(await load(unbatched, body, c, DURATION_S, 'max-batch-size 1'));
    } finally {
      await stopServer(unbatched);
    }
    measure('after');
    const limit = [...limits].sort((a, b) => a.samplesPerSec - b.samplesPerSec)[1];

    const batchedRows = rows.filter((r) => r.label.startsWith(`max-batch-size ${MAX_BATCH}`));
    const saturation = Math.max(...batchedRows.map((r) => r.rps));
    // The median of three runs at half the saturation rate.
    const half = rows.filter((r) => r.label.startsWith('half')).sort((a, b) => a.p99 - b.p99)[1];
    const unbatchedBest = Math.max(...rows.filter((r) => r.label === 'max-batch-size 1').map((r) => r.rps));
    console.log('');
    console.log(
      '| load | connections | requests/s | p50 ms | p99 ms | errors | requests per server CPU-s | server µs/request (main + worker) | ratio to the limit |',
    );
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const r of rows) {
      console.log(
        `| ${r.label} | ${r.connections} | ${fmt(r.rps)} | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} | ${r.errors} | ${fmt(r.perServerCpuSec)} | ${fmt(r.mainUs)} + ${fmt(r.workerUs)} | ${(r.rps / limit.samplesPerSec).toFixed(2)} |`,
      );
    }
    console.log('');
    const ratio = saturation / limit.samplesPerSec;
    console.log(
      `saturation: ${fmt(saturation)} requests/s = ${ratio.toFixed(2)} of the in-process limit (${fmt(limit.samplesPerSec)}/s)  goal ≥ 0.80 ${ratio >= 0.8 ? '✓' : '✗'}`,
    );
    console.log(
      `p99 at half that rate (${fmt(half.rps)}/s, the median of 3 runs): ${fmt(half.p99, 1)} ms  goal < 50 ms ${half.p99 < 50 ? '✓' : '✗'}`,
    );
    const sat = batchedRows.find((r) => r.rps === saturation)!;
    const perExample = 1e6 / limit.samplesPerCpuSec;
    console.log(
      `per CPU at saturation: the inference worker spends ${fmt(sat.workerUs)} µs per request against the limit's ${fmt(perExample)} µs per example (${(perExample / sat.workerUs).toFixed(2)}); the main thread adds ${fmt(sat.mainUs)} µs (HTTP, parsing, batching) on the other core`,
    );
    console.log(
      `batching gain: ${fmt(saturation)} vs ${fmt(unbatchedBest)} requests/s with max-batch-size 1 = ${(saturation / unbatchedBest).toFixed(2)}×`,
    );
    console.log(
      JSON.stringify({ bench: 'serve', limits, limit, rows, ratio, halfP99: half.p99, batchingGain: saturation / unbatchedBest }),
    );
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--limit') await limitChild(process.argv[3]);
else await main();

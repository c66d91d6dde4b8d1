/**
 * Real services for monitor-check's integration tests: a small model trained for real on the demo's
 * Fashion-MNIST sample (setup-data, then train: an mlp, 2 epochs on wasm, ~2 s), `modelship serve`
 * child processes (the CLI, as a user starts it) on free loopback ports, and a small open-loop load
 * generator that sends :predict requests of test-split images to them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { loadManifest, readSplit, setupData, type SplitTensors } from '../../shared/data/index.ts';
import { train } from '../../shared/train/index.ts';
import { silentLogger } from '../../shared/util/log.ts';

const repoRoot = path.resolve(import.meta.dirname, '../..');
export const DEMO_SAMPLE = path.join(repoRoot, 'demo', 'fashion-sample');
const CLI = path.join(repoRoot, 'bin', 'modelship.js');

export interface TinyModel {
  readonly datasetDir: string;
  readonly manifestPath: string;
  /** train's model-dir: model.json, weights and modelship.json with `reference` (the drift reference). */
  readonly modelDir: string;
  readonly classes: readonly string[];
  readonly test: SplitTensors;
  readonly valAccuracy: number | undefined;
  readonly seconds: number;
}

/**
 * setup-data on the demo sample (2,000 train / 1,000 test images), then train an mlp for 2 epochs
 * on wasm (seeded: the same weights every run). One epoch leaves the model's predicted classes on the
 * test split too far from the training distribution (PSI ≈ 0.25) for a healthy baseline; two give ≈ 0.06.
 */
export async function trainTinyModel(root: string): Promise<TinyModel> {
  const t0 = performance.now();
  const data = await setupData(
    { source: DEMO_SAMPLE, format: 'auto', split: '80/10/10', cache: false, outputDir: 'data', cwd: root },
    { log: silentLogger },
  );
  const r = await train(
    {
      dataset: data.datasetDir,
      architecture: 'mlp',
      epochs: 2,
      batchSize: 32,
      learningRate: 0.002,
      seed: 1,
      backend: 'wasm',
      earlyStoppingPatience: 0,
      outputDir: path.join(root, 'model'),
      name: 'fashion',
      handleSignals: false,
    },
    { log: silentLogger, cwd: root, now: () => new Date() },
  );
  const test = await readSplit(await loadManifest(data.manifestPath), 'test');
  return {
    datasetDir: data.datasetDir,
    manifestPath: data.manifestPath,
    modelDir: r.modelDir,
    classes: data.manifest.classes,
    test,
    valAccuracy: r.valAccuracy,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** TF Serving row-format :predict bodies, `perRequest` test images each (cycling through `indices`), pixels through `f`. */
export function predictBodies(
  test: SplitTensors,
  indices: readonly number[],
  opts: { perRequest: number; bodies: number; pixels?: (p: number) => number },
): string[] {
  const [h, w] = test.inputShape;
  const per = h * w;
  const f = opts.pixels ?? ((p: number) => p);
  const image = (i: number): number[][][] =>
    Array.from({ length: h }, (_, r) => Array.from({ length: w }, (_, c) => [f(Number(test.x[i * per + r * w + c]))]));
  const out: string[] = [];
  let k = 0;
  for (let b = 0; b < opts.bodies; b++) {
    const instances = Array.from({ length: opts.perRequest }, () => image(indices[k++ % indices.length]));
    out.push(JSON.stringify({ instances }));
  }
  return out;
}

/** Test-split indices of one class, or of all. */
export function indicesOf(test: SplitTensors, label?: number): number[] {
  return Array.from({ length: test.count }, (_, i) => i).filter((i) => label === undefined || Number(test.y[i]) === label);
}

export interface ServeProcess {
  readonly url: string;
  readonly adminUrl: string | undefined;
  readonly line: string;
  readonly pid: number;
  /** stderr so far (the server's log), for failure messages. */
  log(): string;
  /** SIGTERM, then SIGKILL after 5 s; resolves with the exit code (null when killed). */
  stop(): Promise<number | null>;
}

/** Starts `modelship serve <args>` as a child process and waits for its ready line (bounded). */
export async function startServeProcess(args: readonly string[], opts: { cwd: string; timeoutMs?: number }): Promise<ServeProcess> {
  const child: ChildProcess = spawn(process.execPath, [CLI, 'serve', ...args], {
    cwd: opts.cwd,
    env: { ...process.env, MODELSHIP_DEBUG: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stderr!.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-16_000)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // Should the test process end without its after hooks, the server ends with it.
  const orphan = (): void => void child.kill('SIGKILL');
  process.once('exit', orphan);
  const stop = async (): Promise<number | null> => {
    process.off('exit', orphan);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      const code = await exited;
      clearTimeout(t);
      return code;
    }
    return child.exitCode;
  };
  const timeoutMs = opts.timeoutMs ?? 30_000;
  let line: string;
  try {
    line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`modelship serve was not ready within ${timeoutMs} ms:\n${stderr}`)), timeoutMs);
      child.stdout!.on('data', (c: Buffer) => {
        stdout += c.toString();
        const first = stdout.split('\n').find((l, i, all) => i < all.length - 1 && l.startsWith('modelship serve ready'));
        if (first) {
          clearTimeout(timer);
          resolve(first);
        }
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`modelship serve exited with ${code} before it was ready:\n${stderr}`));
      });
    });
  } catch (err) {
    await stop();
    throw err;
  }
  const url = /url=(\S+)/.exec(line)![1];
  const adminUrl = /admin=(\S+)/.exec(line)?.[1];
  return { url, adminUrl, line, pid: child.pid!, log: () => stderr, stop };
}

export interface LoadTarget {
  readonly name: string;
  readonly url: string;
  readonly method?: 'GET' | 'POST';
  /** Request bodies, sent in turn (POST). */
  readonly bodies?: readonly string[];
  readonly perSecond: number;
  /** Requests in flight at most; a tick with this many in flight sends nothing. Default 16. */
  readonly maxInFlight?: number;
}

export interface Load {
  /** Stops one target's requests (or all), and waits for those in flight. */
  stop(name?: string): Promise<void>;
  /** Answers by HTTP status (or 'failed' for a request that got none) of one target. */
  answers(name: string): Readonly<Record<string, number>>;
}

/** Open-loop load: each target gets `perSecond` requests a second whatever their latency (up to maxInFlight). */
export function startLoad(targets: readonly LoadTarget[]): Load {
  const state = new Map<string, { timer: NodeJS.Timeout; inFlight: Set<Promise<void>>; answers: Record<string, number> }>();
  for (const t of targets) {
    const inFlight = new Set<Promise<void>>();
    const answers: Record<string, number> = {};
    let i = 0;
    const count = (key: string): void => {
      answers[key] = (answers[key] ?? 0) + 1;
    };
    const fire = (): void => {
      if (inFlight.size >= (t.maxInFlight ?? 16)) {
        count('skipped');
        return;
      }
      const body = t.bodies?.[i++ % t.bodies.length];
      const p = fetch(t.url, {
        method: t.method ?? 'POST',
        ...(body !== undefined ? { body, headers: { 'content-type': 'application/json' } } : {}),
      })
        .then(async (res) => {
          await res.arrayBuffer();
          count(String(res.status));
        })
        .catch(() => count('failed'))
        .finally(() => inFlight.delete(p));
      inFlight.add(p);
    };
    state.set(t.name, { timer: setInterval(fire, 1000 / t.perSecond), inFlight, answers });
  }
  return {
    async stop(name) {
      for (const [n, s] of state) {
        if (name !== undefined && n !== name) continue;
        clearInterval(s.timer);
        await Promise.all([...s.inFlight]);
      }
    },
    answers: (name) => ({ ...state.get(name)?.answers }),
  };
}

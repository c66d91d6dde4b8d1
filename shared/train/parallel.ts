/**
 * Optimizer steps on one thread or, data-parallel, on two: the main thread and a replica in a
 * worker thread (`replica.ts`, its own tfjs and wasm backend) each compute the gradients of half
 * of the batch; the replica's gradients come back through a SharedArrayBuffer, the main thread
 * averages them (weighted by the halves' sizes), applies the optimizer, and writes the new weights
 * back for the replica's next step. The replica works while the main thread does: one wait per
 * step, no message passing.
 *
 * Reproducible: the split, the order of the sums and the replica's dropout seed (drawn from the
 * main thread's seeded stream) are fixed, so the same seed gives the same bytes for the same
 * number of replicas. Batch norm normalises each half with its own statistics, as data-parallel
 * training does elsewhere; the moving statistics follow the main thread's half.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type * as tfl from '@tensorflow/tfjs-layers';
import { ModelshipError } from '../util/index.ts';
import { FusedAdamOptimizer } from './adam.ts';
import type { Prng } from '../util/index.ts';
import { computeGradients, trainableVariables, type LossSpec } from './step.ts';

/**
 * A float32 tensor's values as a view of the wasm heap, without the copy `dataSync` makes; only
 * valid until the next allocation. Undefined on other backends (use dataSync there).
 */
export function wasmHeapView(t: tf.Tensor): Float32Array | undefined {
  if (t.dtype !== 'float32' || tf.getBackend() !== 'wasm') return undefined;
  const backend = tf.engine().findBackend('wasm') as unknown as BackendWasm;
  return backend.typedArrayFromHeap({ dataId: t.dataId, shape: t.shape, dtype: t.dtype }) as Float32Array;
}

export interface StepResult {
  readonly loss: number;
  readonly acc?: number;
}

export interface Trainer {
  readonly replicas: number;
  /** One optimizer step on a batch of n examples (x preprocessed, [n, ...inputShape]; y [n, yPer]). */
  step(x: Float32Array, y: Float32Array, n: number): Promise<StepResult>;
  /** Stops the replica (if any). */
  dispose(): Promise<void>;
}

/** Control words in the shared buffer. */
const GO = 0;
const DONE = 1;
const CMD = 2;
const COUNT = 3;
const SEED = 4;
const FAILED = 5;
export const CMD_STEP = 1;
export const CMD_STOP = 2;
const CONTROL_BYTES = 64;
/** How long the replica may take to start (its own tfjs and wasm backend, the model rebuilt). */
const READY_TIMEOUT_MS = 120_000;
const SCALAR_BYTES = 16;

/** Atomics.waitAsync (ES2024; Node ≥ 16), which the project's lib setting does not declare. */
interface AtomicsWaitAsync {
  waitAsync(a: Int32Array, index: number, value: number, timeout: number): { async: boolean; value: Promise<string> | string };
}

export interface ReplicaLayout {
  readonly params: number;
  readonly maxHalf: number;
  readonly xPer: number;
  readonly yPer: number;
}

/** Offsets (bytes) of the regions of the shared buffer. */
export function regions(l: ReplicaLayout): { scalars: number; weights: number; grads: number; x: number; y: number; bytes: number } {
  const scalars = CONTROL_BYTES;
  const weights = scalars + SCALAR_BYTES;
  const grads = weights + 4 * l.params;
  const x = grads + 4 * l.params;
  const y = x + 4 * l.maxHalf * l.xPer;
  return { scalars, weights, grads, x, y, bytes: y + 4 * l.maxHalf * l.yPer };
}

export { GO, DONE, CMD, COUNT, SEED, FAILED };

export interface ReplicaInit {
  /** Marks the worker as a replica for the bundle's entry (which then loads replica.ts). */
  readonly modelshipReplica: true;
  readonly sab: SharedArrayBuffer;
  readonly layout: ReplicaLayout;
  readonly modelTopology: unknown;
  readonly weightShapes: number[][];
  readonly inputShape: number[];
  readonly spec: LossSpec;
}

/**
 * The replica's script: MODELSHIP_REPLICA_SCRIPT when set; else replica.ts beside this module (run
 * from source); else the bundle's entry beside this chunk (dist/modelship.js), which starts the
 * replica when it loads in a worker marked `modelshipReplica` (shared/action/entry.ts, through startReplicaIfWorker).
 */
function replicaScript(): URL {
  const fromEnv = process.env['MODELSHIP_REPLICA_SCRIPT'];
  // Not `new URL('./x', import.meta.url)` with a literal: bundlers turn that into an asset of their own.
  const beside = (name: string): URL => new URL(name, import.meta.url);
  const candidates = [...(fromEnv ? [pathToFileURL(fromEnv)] : []), beside('./replica.ts'), beside('./modelship.js')];
  const found = candidates.find((u) => u.protocol === 'file:' && existsSync(fileURLToPath(u)));
  if (!found) throw new Error(`no replica script (looked for ${candidates.map((u) => u.href).join(', ')})`);
  return found;
}

/**
 * Threads to train on (wasm): `MODELSHIP_TRAIN_THREADS` (1 or 2) when set, else 2 when two cores
 * are available, else 1.
 */
export function trainThreads(env: Readonly<Record<string, string | undefined>>): number {
  const set = env['MODELSHIP_TRAIN_THREADS'];
  if (set === '1' || set === '2') return Number(set);
  return Math.min(2, os.availableParallelism());
}

function localTrainer(model: tfl.LayersModel, optimizer: tf.Optimizer, spec: LossSpec, inputShape: readonly number[]): Trainer {
  const variables = trainableVariables(model);
  return {
    replicas: 1,
    step(x, y, n) {
      const xb = tf.tensor(x, [n, ...inputShape], 'float32');
      const yb = tf.tensor(y, [n, y.length / n], 'float32');
      try {
        const r = computeGradients(model, variables, spec, xb, yb);
        optimizer.applyGradients(r.grads);
        tf.dispose(r.grads);
        return Promise.resolve({ loss: r.loss, ...(r.acc !== undefined ? { acc: r.acc } : {}) });
      } finally {
        xb.dispose();
        yb.dispose();
      }
    },
    dispose: () => Promise.resolve(),
  };
}

export interface TrainerOptions {
  readonly replicas: number;
  readonly maxBatch: number;
  /** The main thread's dropout stream: the replica's per-step seed is drawn from it. */
  readonly dropoutRng: Prng;
}

/**
 * A trainer with the requested number of replicas (1 or 2). Two need a model that serialises to
 * JSON (any tfjs-layers model of registered layers); when the replica cannot start, the reason is
 * returned with a one-thread trainer.
 */
export async function createTrainer(
  model: tfl.LayersModel,
  optimizer: tf.Optimizer,
  spec: LossSpec,
  inputShape: readonly number[],
  yPer: number,
  o: TrainerOptions,
): Promise<{ trainer: Trainer; note?: string }> {
  if (o.replicas < 2 || o.maxBatch < 2) return { trainer: localTrainer(model, optimizer, spec, inputShape) };
  try {
    return { trainer: await parallelTrainer(model, optimizer, spec, inputShape, yPer, o) };
  } catch (err) {
    return {
      trainer: localTrainer(model, optimizer, spec, inputShape),
      note: `data-parallel replica did not start (${(err instanceof Error ? err.message : String(err)).split('\n')[0]}); training on one thread`,
    };
  }
}

async function parallelTrainer(
  model: tfl.LayersModel,
  optimizer: tf.Optimizer,
  spec: LossSpec,
  inputShape: readonly number[],
  yPer: number,
  o: TrainerOptions,
): Promise<Trainer> {
  const variables = trainableVariables(model);
  const sizes = variables.map((v) => v.size);
  const params = sizes.reduce((a, b) => a + b, 0);
  const xPer = inputShape.reduce((a, b) => a * b, 1);
  const layout: ReplicaLayout = { params, maxHalf: Math.floor(o.maxBatch / 2), xPer, yPer };
  const r = regions(layout);
  const sab = new SharedArrayBuffer(r.bytes);
  const ctl = new Int32Array(sab, 0, CONTROL_BYTES / 4);
  const scalars = new Float64Array(sab, r.scalars, 2);
  const weights = new Float32Array(sab, r.weights, params);
  const grads = new Float32Array(sab, r.grads, params);
  const xs = new Float32Array(sab, r.x, layout.maxHalf * xPer);
  const ys = new Float32Array(sab, r.y, layout.maxHalf * yPer);

  const writeWeights = (): void => {
    let off = 0;
    for (const v of variables) {
      weights.set(wasmHeapView(v) ?? v.dataSync(), off);
      off += v.size;
    }
  };
  writeWeights();

  const init: ReplicaInit = {
    modelshipReplica: true,
    sab,
    layout,
    modelTopology: model.toJSON(null, false),
    weightShapes: variables.map((v) => v.shape),
    inputShape: [...inputShape],
    spec,
  };
  const worker = new Worker(replicaScript(), { workerData: init });
  let failure: string | undefined;
  let exited = false;
  const exit = new Promise<void>((resolve) => {
    worker.once('exit', (code) => {
      exited = true;
      failure ??= `the replica thread exited (code ${code})`;
      resolve();
    });
  });
  worker.on('error', (err: Error) => {
    failure ??= err.message;
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`replica not ready after ${READY_TIMEOUT_MS / 1000} s`)), READY_TIMEOUT_MS);
      const settle = (f: () => void): void => {
        clearTimeout(timer);
        f();
      };
      worker.once('message', (m: { ready?: boolean; error?: string }) =>
        settle(() => (m.ready ? resolve() : reject(new Error(m.error ?? 'replica failed')))),
      );
      worker.once('error', (err: Error) => settle(() => reject(err)));
      worker.once('exit', (code) => settle(() => reject(new Error(`replica exited (code ${code}) before it was ready`))));
    });
  } catch (err) {
    await worker.terminate();
    throw err;
  }
  worker.on('message', (m: { error?: string }) => {
    if (m.error) failure ??= m.error;
  });

  let seq = 0;
  const waitDone = async (target: number): Promise<void> => {
    for (;;) {
      const done = Atomics.load(ctl, DONE);
      if (done === target) return;
      if (exited) throw new ModelshipError(`data-parallel training failed: ${failure ?? 'the replica stopped'}.`);
      const w = (Atomics as unknown as AtomicsWaitAsync).waitAsync(ctl, DONE, done, 1000);
      if (w.async) await Promise.race([w.value, exit]);
    }
  };

  return {
    replicas: 2,
    async step(x, y, n) {
      if (n < 2) return localTrainer(model, optimizer, spec, inputShape).step(x, y, n);
      const n0 = Math.ceil(n / 2);
      const n1 = n - n0;
      xs.set(x.subarray(n0 * xPer, n * xPer));
      ys.set(y.subarray(n0 * yPer, n * yPer));
      Atomics.store(ctl, COUNT, n1);
      Atomics.store(ctl, SEED, Math.floor(o.dropoutRng.next() * 4294967296) | 0);
      Atomics.store(ctl, CMD, CMD_STEP);
      seq++;
      Atomics.store(ctl, GO, seq);
      Atomics.notify(ctl, GO);

      const xb = tf.tensor(x.subarray(0, n0 * xPer), [n0, ...inputShape], 'float32');
      const yb = tf.tensor(y.subarray(0, n0 * yPer), [n0, yPer], 'float32');
      let mine: ReturnType<typeof computeGradients>;
      try {
        mine = computeGradients(model, variables, spec, xb, yb);
      } finally {
        xb.dispose();
        yb.dispose();
      }
      await waitDone(seq);
      if (Atomics.load(ctl, FAILED) !== 0) {
        tf.dispose(mine.grads);
        throw new ModelshipError(`data-parallel training failed in the replica: ${failure ?? 'unknown error'}.`);
      }
      const w0 = n0 / n;
      const w1 = n1 / n;
      let off = 0;
      const theirs = variables.map((v, i) => {
        const t = tf.tensor(grads.subarray(off, off + sizes[i]), v.shape, 'float32');
        off += sizes[i];
        return t;
      });
      if (optimizer instanceof FusedAdamOptimizer) {
        optimizer.applyCombinedGradients(variables, mine.grads, theirs, w0, w1);
      } else {
        const combined = tf.tidy(() =>
          variables.map((v, i) => ({ name: v.name, tensor: tf.add(tf.mul(mine.grads[v.name], w0), tf.mul(theirs[i], w1)) })),
        );
        optimizer.applyGradients(combined);
        tf.dispose(combined.map((c) => c.tensor));
      }
      tf.dispose([...theirs, ...Object.values(mine.grads)]);
      writeWeights();
      const loss = mine.loss * w0 + scalars[0] * w1;
      return { loss, ...(mine.acc !== undefined ? { acc: mine.acc * w0 + scalars[1] * w1 } : {}) };
    },
    async dispose() {
      if (exited) return;
      Atomics.store(ctl, CMD, CMD_STOP);
      seq++;
      Atomics.store(ctl, GO, seq);
      Atomics.notify(ctl, GO);
      const timer = setTimeout(() => void worker.terminate(), 5000);
      await exit;
      clearTimeout(timer);
    },
  };
}

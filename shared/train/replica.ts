/**
 * The data-parallel replica (a worker thread started by `parallel.ts`): its own tfjs on the wasm
 * backend, the same model rebuilt from its JSON. Each step it takes the current weights and its
 * half of the batch from the shared buffer, computes loss, accuracy and gradients, writes them
 * back and signals. It never applies an optimizer.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../model/index.ts';
import { silentLogger } from '../util/index.ts';
import { CMD, CMD_STOP, COUNT, DONE, FAILED, GO, regions, SEED, wasmHeapView, type ReplicaInit } from './parallel.ts';
import { Prng } from '../util/index.ts';
import { computeGradients, trainableVariables } from './step.ts';

async function serve(init: ReplicaInit): Promise<void> {
  await initBackend('wasm', silentLogger);
  const model = await tfl.models.modelFromJSON({ modelTopology: init.modelTopology } as Parameters<typeof tfl.models.modelFromJSON>[0]);
  const variables = trainableVariables(model);
  const shapes = variables.map((v) => v.shape.join('x')).join(',');
  if (shapes !== init.weightShapes.map((s) => s.join('x')).join(',')) {
    throw new Error(`the rebuilt model's trainable weights (${shapes}) differ from the original's`);
  }
  const { layout, sab } = init;
  const r = regions(layout);
  const ctl = new Int32Array(sab, 0, 16);
  const scalars = new Float64Array(sab, r.scalars, 2);
  const weights = new Float32Array(sab, r.weights, layout.params);
  const grads = new Float32Array(sab, r.grads, layout.params);
  const xs = new Float32Array(sab, r.x, layout.maxHalf * layout.xPer);
  const ys = new Float32Array(sab, r.y, layout.maxHalf * layout.yPer);
  // Read before saying ready: the first step may be posted as soon as the message arrives.
  let seen = Atomics.load(ctl, GO);
  parentPort!.postMessage({ ready: true });
  for (;;) {
    Atomics.wait(ctl, GO, seen);
    seen = Atomics.load(ctl, GO);
    if (Atomics.load(ctl, CMD) === CMD_STOP) break;
    try {
      const n = Atomics.load(ctl, COUNT);
      let off = 0;
      tf.tidy(() => {
        for (const v of variables) {
          v.assign(tf.tensor(weights.subarray(off, off + v.size), v.shape, 'float32'));
          off += v.size;
        }
      });
      const xb = tf.tensor(xs.subarray(0, n * layout.xPer), [n, ...init.inputShape], 'float32');
      const yb = tf.tensor(ys.subarray(0, n * layout.yPer), [n, layout.yPer], 'float32');
      const rng = new Prng(Atomics.load(ctl, SEED) >>> 0);
      const original = Math.random;
      Math.random = () => rng.next();
      let result: ReturnType<typeof computeGradients>;
      try {
        result = computeGradients(model, variables, init.spec, xb, yb);
      } finally {
        Math.random = original;
        xb.dispose();
        yb.dispose();
      }
      off = 0;
      for (const v of variables) {
        const g = result.grads[v.name];
        grads.set(wasmHeapView(g) ?? g.dataSync(), off);
        off += v.size;
      }
      tf.dispose(result.grads);
      scalars[0] = result.loss;
      scalars[1] = result.acc ?? 0;
    } catch (err) {
      Atomics.store(ctl, FAILED, 1);
      parentPort!.postMessage({ error: err instanceof Error ? err.message : String(err) });
    }
    Atomics.store(ctl, DONE, seen);
    Atomics.notify(ctl, DONE);
  }
}

if (!isMainThread && (workerData as Partial<ReplicaInit> | undefined)?.modelshipReplica) {
  serve(workerData as ReplicaInit).catch((err: unknown) => {
    parentPort!.postMessage({ error: err instanceof Error ? err.message : String(err) });
    process.exitCode = 1;
  });
}

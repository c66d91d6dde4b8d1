import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { initBackend, tf } from '../../shared/model/backend.ts';
import { FusedAdamOptimizer } from '../../shared/train/adam.ts';
import { silentLogger } from '../../shared/util/log.ts';

let counter = 0;

/** Runs 25 Adam steps on two variables with pseudo-random gradients; returns the final values and moments. */
async function run(opt: tf.AdamOptimizer): Promise<{ values: number[]; weights: { name: string; values: number[] }[] }> {
  const id = counter++;
  const a = tf.variable(tf.randomUniform([37, 5], -1, 1, 'float32', 1), true, `adam-test-a-${id}`);
  const b = tf.variable(tf.randomUniform([7], -1, 1, 'float32', 2), true, `adam-test-b-${id}`);
  for (let s = 0; s < 25; s++) {
    const ga = tf.randomUniform([37, 5], -1, 1, 'float32', 10 + s);
    const gb = tf.randomUniform([7], -1, 1, 'float32', 50 + s);
    opt.applyGradients([
      { name: a.name, tensor: ga },
      { name: b.name, tensor: gb },
    ]);
    tf.dispose([ga, gb]);
  }
  const values = [...(await a.data()), ...(await b.data())];
  const named = await opt.getWeights();
  const weights = await Promise.all(
    named.map(async (w) => ({ name: w.name.replace(`-${id}`, ''), values: Array.from(await w.tensor.data()) })),
  );
  tf.dispose([a, b]);
  return { values, weights };
}

describe('FusedAdamOptimizer', () => {
  before(async () => {
    await initBackend('wasm', silentLogger);
  });

  it('on wasm: one kernel per variable, the same bytes as tfjs Adam (values, moments, step count)', async () => {
    assert.equal(tf.getBackend(), 'wasm');
    const stock = await run(tf.train.adam(0.01));
    const fused = await run(new FusedAdamOptimizer(0.01));
    assert.deepEqual(fused.values, stock.values);
    assert.deepEqual(fused.weights, stock.weights);
  });

  it('follows a learning rate changed between steps, as the schedule does', async () => {
    const change = async (opt: tf.AdamOptimizer) => {
      const v = tf.variable(tf.ones([4]), true, `adam-lr-${counter++}`);
      for (const lr of [0.1, 0.05, 0.001]) {
        (opt as unknown as { learningRate: number }).learningRate = lr;
        opt.applyGradients([{ name: v.name, tensor: tf.tensor([0.5, -1, 2, 0]) }]);
      }
      return Array.from(await v.data());
    };
    assert.deepEqual(await change(new FusedAdamOptimizer(1)), await change(tf.train.adam(1)));
  });

  it('combines two half-batch gradients (g0·w0 + g1·w1) inside the update, as tfjs ops then tfjs Adam would', async () => {
    const combined = async (fused: boolean) => {
      const v = tf.variable(tf.randomUniform([33, 3], -1, 1, 'float32', 4), true, `adam-pair-${counter++}`);
      const opt = fused ? new FusedAdamOptimizer(0.01) : tf.train.adam(0.01);
      for (let s = 0; s < 10; s++) {
        const g0 = tf.randomUniform([33, 3], -1, 1, 'float32', 100 + s);
        const g1 = tf.randomUniform([33, 3], -1, 1, 'float32', 200 + s);
        if (fused) (opt as FusedAdamOptimizer).applyCombinedGradients([v], { [v.name]: g0 }, [g1], 17 / 32, 15 / 32);
        else {
          const g = tf.add(tf.mul(g0, 17 / 32), tf.mul(g1, 15 / 32));
          opt.applyGradients([{ name: v.name, tensor: g }]);
          g.dispose();
        }
        tf.dispose([g0, g1]);
      }
      return Array.from(await v.data());
    };
    assert.deepEqual(await combined(true), await combined(false));
  });

  it('on other backends it is tfjs Adam itself', async () => {
    const stockWasm = await run(tf.train.adam(0.01));
    assert.equal(await tf.setBackend('cpu'), true);
    try {
      const stock = await run(tf.train.adam(0.01));
      const fused = await run(new FusedAdamOptimizer(0.01));
      assert.deepEqual(fused.values, stock.values);
      assert.equal(stock.values.length, stockWasm.values.length);
    } finally {
      await tf.setBackend('wasm');
    }
  });
});

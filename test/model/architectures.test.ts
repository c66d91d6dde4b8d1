import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { BUILT_IN_ARCHITECTURES, buildArchitecture, loadArchitecture } from '../../shared/model/architectures.ts';
import { ConfigurationError } from '../../shared/util/errors.ts';

function weightBytes(model: { getWeights(): tf.Tensor[] }): string {
  return model
    .getWeights()
    .map((w) => Buffer.from((w.dataSync() as Float32Array).buffer).toString('base64'))
    .join('|');
}

describe('architectures', () => {
  let dir: string;
  before(async () => {
    await tf.setBackend('cpu');
    dir = await mkdtemp(path.join(tmpdir(), 'modelship-arch-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('builds the cnn for Fashion-MNIST shapes with ~420k parameters, each convolution pooled then normalised, softmax over the classes', () => {
    const m = buildArchitecture('cnn', { inputShape: [28, 28, 1], numClasses: 10, seed: 1 });
    assert.deepEqual(m.outputs[0].shape, [null, 10]);
    assert.equal(m.countParams(), 421930);
    assert.deepEqual(
      m.layers.map((l) => l.getClassName()),
      [
        'Conv2D',
        'MaxPooling2D',
        'BatchNormalization',
        'Activation',
        'Conv2D',
        'MaxPooling2D',
        'BatchNormalization',
        'Activation',
        'Flatten',
        'Dense',
        'Dropout',
        'Dense',
      ],
    );
  });

  it('builds the mlp for tabular data and for images (flattened), and a regression head', () => {
    assert.deepEqual(buildArchitecture('mlp', { inputShape: [13], numClasses: 3, seed: 1 }).outputs[0].shape, [null, 3]);
    assert.deepEqual(buildArchitecture('mlp', { inputShape: [4, 4, 1], numClasses: 2, seed: 1 }).outputs[0].shape, [null, 2]);
    assert.deepEqual(buildArchitecture('mlp', { inputShape: [5], numClasses: 0, seed: 1 }).outputs[0].shape, [null, 1]);
  });

  for (const name of Object.keys(BUILT_IN_ARCHITECTURES)) {
    it(`${name}: the same seed gives the same initial weights; another seed different ones`, () => {
      const shape = name === 'cnn' ? [12, 12, 1] : [8];
      const a = buildArchitecture(name, { inputShape: shape, numClasses: 3, seed: 5 });
      const b = buildArchitecture(name, { inputShape: shape, numClasses: 3, seed: 5 });
      const c = buildArchitecture(name, { inputShape: shape, numClasses: 3, seed: 6 });
      assert.equal(weightBytes(a), weightBytes(b));
      assert.notEqual(weightBytes(a), weightBytes(c));
    });
  }

  it('rejects an unknown name and lists the built-ins', () => {
    assert.throws(
      () => buildArchitecture('resnet', { inputShape: [4], numClasses: 2, seed: 1 }),
      (e: unknown) => e instanceof ConfigurationError && /'resnet'/.test(e.message) && /cnn, mlp/.test(e.message),
    );
  });

  it('rejects cnn on tabular input, naming the shape', () => {
    assert.throws(
      () => buildArchitecture('cnn', { inputShape: [13], numClasses: 2, seed: 1 }),
      (e: unknown) => e instanceof ConfigurationError && /\[13\]/.test(e.message),
    );
  });

  it('builds from a module path relative to cwd, handing it tfjs-layers and the options', async () => {
    await writeFile(
      path.join(dir, 'tiny.mjs'),
      `export function build({ inputShape, numClasses, seed, tf }) {
  return tf.sequential({ layers: [tf.layers.dense({ inputShape, units: numClasses, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed }) })] });
}\n`,
    );
    const m = await loadArchitecture('./tiny.mjs', { inputShape: [6], numClasses: 4, seed: 3 }, dir);
    assert.deepEqual(m.outputs[0].shape, [null, 4]);
  });

  it('a missing module or one without build() is a ConfigurationError naming it', async () => {
    await assert.rejects(
      loadArchitecture('./nope.mjs', { inputShape: [6], numClasses: 4, seed: 3 }, dir),
      (e: unknown) => e instanceof ConfigurationError && /nope\.mjs/.test(e.message) && /does not exist/.test(e.message),
    );
    await writeFile(path.join(dir, 'nobuild.mjs'), 'export const x = 1;\n');
    await assert.rejects(
      loadArchitecture('./nobuild.mjs', { inputShape: [6], numClasses: 4, seed: 3 }, dir),
      (e: unknown) => e instanceof ConfigurationError && /does not export a build function/.test(e.message),
    );
    await writeFile(path.join(dir, 'notmodel.mjs'), 'export function build() { return {}; }\n');
    await assert.rejects(
      loadArchitecture('./notmodel.mjs', { inputShape: [6], numClasses: 4, seed: 3 }, dir),
      (e: unknown) => e instanceof ConfigurationError && /did not return a tfjs LayersModel/.test(e.message),
    );
  });
});

/**
 * train's init-from: fine-tuning starts from a registered model's weights. A model trained here on
 * the demo's Fashion-MNIST sample is registered as fashion@production in a local registry; a run
 * with init-from production starts at its loss, not at a random model's (the first epoch's loss is
 * compared with the registered model's loss on the same examples and with a run from scratch), and
 * records what it started from. A model that does not fit (architecture, shape, classes) is a clear
 * error listing every mismatch.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { runCliLogged } from '../helpers/cli.ts';
import { after, before, describe, it } from 'node:test';
import { openDataset, setupData } from '../../shared/data/index.ts';
import { loadModel, predictProbabilities, readMetadata } from '../../shared/model/index.ts';
import { logLoss } from '../../shared/evaluate/index.ts';
import { train, type TrainOptions, type TrainResult } from '../../shared/train/index.ts';
import { initProblems, weightMismatch } from '../../shared/train/init.ts';
import { memoryLogger, silentLogger } from '../../shared/util/log.ts';

const DEMO = path.resolve(import.meta.dirname, '../../demo/fashion-sample');

const cli = (argv: string[], cwd: string) => runCliLogged(argv, cwd);

describe('init-from: fine-tuning from a registered model', () => {
  let root = '';
  let dataset = '';
  let base: TrainResult;
  const registry = (): string => path.join(root, 'registry');
  const opts = (extra: Partial<TrainOptions>): TrainOptions => ({
    dataset,
    architecture: 'mlp',
    epochs: 1,
    batchSize: 32,
    learningRate: 0.0002,
    seed: 7,
    backend: 'wasm',
    earlyStoppingPatience: 0,
    outputDir: path.join(root, 'out'),
    name: 'fashion',
    handleSignals: false,
    ...extra,
  });

  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'modelship-init-from-'));
    const d = await setupData(
      { source: DEMO, format: 'auto', split: '80/10/10', cache: false, outputDir: 'data', cwd: root },
      { log: silentLogger },
    );
    dataset = d.datasetDir;
    base = await train(opts({ epochs: 3, learningRate: 0.002, seed: 1, outputDir: path.join(root, 'base') }), {
      log: silentLogger,
      cwd: root,
      now: () => new Date(),
    });
    const r = await cli(
      ['register', '--model', base.modelDir, '--name', 'fashion', '--registry', registry(), '--alias', 'production'],
      root,
    );
    assert.equal(r.code, 0, r.stderr);
  });
  after(() => rm(root, { recursive: true, force: true }));

  it("starts at the registered model's loss, not a random model's, and records what it started from", async (t) => {
    const log = memoryLogger();
    const tuned = await train(opts({ initFrom: 'production', registry: registry(), outputDir: path.join(root, 'tuned') }), {
      log,
      cwd: root,
      now: () => new Date(),
    });
    const scratch = await train(opts({ outputDir: path.join(root, 'scratch') }), { log: silentLogger, cwd: root, now: () => new Date() });
    // Where fine-tuning must start: the registered model's level. The training loss is the recipe's
    // (label smoothing, augmentation), so it is compared with the registered model's last epoch of
    // the same recipe; the validation loss (plain log loss) with the registered model's, on the
    // same validation split, and with its plain log loss on the training split.
    const ds = await openDataset(dataset, { load: ['train'] });
    const trainSplit = ds.splits.train!;
    const registered = await loadModel(base.modelDir);
    const p = await predictProbabilities(registered.model, registered.metadata, trainSplit.x, trainSplit.count);
    const registeredLoss = logLoss(p, trainSplit.y, 10, 1e-7);
    registered.model.dispose();
    const first = tuned.history[0].loss;
    const random = scratch.history[0].loss;
    const firstVal = tuned.history[0].valLoss!;
    const baseVal = base.metadata.metrics.valLoss!;
    t.diagnostic(
      `first-epoch training loss: fine-tuned ${first.toFixed(4)}, the registered model's last epoch ${base.finalLoss.toFixed(4)}, from scratch ${random.toFixed(4)} (ln 10 = ${Math.log(10).toFixed(4)}); ` +
        `validation loss after it: fine-tuned ${firstVal.toFixed(4)}, registered ${baseVal.toFixed(4)}, from scratch ${scratch.history[0].valLoss!.toFixed(4)}; the registered model's plain log loss on the training split ${registeredLoss.toFixed(4)}`,
    );
    assert.ok(
      Math.abs(first - base.finalLoss) < 0.15 * base.finalLoss,
      `fine-tuning starts at the registered model's loss (${first} vs ${base.finalLoss})`,
    );
    assert.ok(Math.abs(firstVal - baseVal) < 0.15 * baseVal, `and validates at its level (${firstVal} vs ${baseVal})`);
    assert.ok(random > 1.5 * first, `a random start is far above it (${random} vs ${first})`);
    assert.ok(tuned.valAccuracy! > scratch.valAccuracy! + 0.05, `and validates better (${tuned.valAccuracy} vs ${scratch.valAccuracy})`);
    assert.match(
      log.lines.join('\n'),
      /fine-tuning from fashion:1 \(trained on sha256:[0-9a-f]{12}…, val accuracy 0\.\d{4}, the same data\): 1 epoch at learning rate 0\.0002/,
    );
    const meta = await readMetadata(tuned.modelDir);
    assert.equal(meta.initFrom?.source, 'production');
    assert.equal(meta.initFrom?.ref?.replace(/^.*\//, ''), 'fashion:1');
    assert.equal(meta.initFrom?.version, 1);
    assert.match(meta.initFrom?.digest ?? '', /^sha256:[0-9a-f]{64}$/);
    assert.equal(meta.initFrom?.dataset, base.metadata.dataset.digest);
    assert.deepEqual(meta.preprocessing, base.metadata.preprocessing);
  });

  it('takes a model folder too, and through the CLI applies the fine-tuning epochs and rate', async () => {
    const r = await cli(
      [
        'train',
        '--dataset',
        dataset,
        '--architecture',
        'mlp',
        '--backend',
        'wasm',
        '--batch-size',
        '32',
        '--init-from',
        base.modelDir,
        '--fine-tune-epochs',
        '2',
        '--learning-rate',
        '0.003',
        '--output-dir',
        'cli-tuned',
      ],
      root,
    );
    assert.equal(r.code, 0, r.stderr);
    const meta = await readMetadata(path.join(root, 'cli-tuned'));
    assert.equal(meta.params.epochs, 2, 'fine-tune-epochs, not epochs');
    assert.ok(Math.abs(meta.params.learningRate - 0.0003) < 1e-12, 'a tenth of learning-rate by default');
    assert.equal(meta.initFrom?.source, base.modelDir);
    assert.equal(meta.initFrom?.ref, undefined);
  });

  it('refuses a model that does not fit the run, listing every mismatch, and names a reference that is not there', async () => {
    await assert.rejects(
      train(opts({ architecture: 'cnn', initFrom: 'fashion@production', registry: registry() }), {
        log: silentLogger,
        cwd: root,
        now: () => new Date(),
      }),
      (err: Error & { hint?: string }) => {
        assert.match(
          err.message,
          /^input 'init-from' 'fashion@production' does not fit this run: it was trained as architecture 'mlp', this run builds 'cnn'\.$/,
        );
        assert.match(err.hint ?? '', /train from scratch \(drop init-from\)/);
        return true;
      },
    );
    await assert.rejects(
      train(opts({ initFrom: 'staging', registry: registry() }), { log: silentLogger, cwd: root, now: () => new Date() }),
      /input 'init-from': fashion@staging is not in the registry/,
    );
    await assert.rejects(
      train(opts({ initFrom: './no/such/model', registry: registry() }), { log: silentLogger, cwd: root, now: () => new Date() }),
      /is neither a model folder .* nor a registry reference/,
    );
    await assert.rejects(
      train(opts({ initFrom: 'production', registry: registry(), resumeFrom: base.modelDir }), {
        log: silentLogger,
        cwd: root,
        now: () => new Date(),
      }),
      /'init-from' and 'resume-from' are both set/,
    );
  });

  it('checks architecture, task, input shape and classes (pure)', () => {
    const meta = {
      params: { architecture: 'cnn' },
      task: 'classification',
      inputShape: [28, 28, 1],
      classes: ['a', 'b', 'c'],
    } as unknown as Parameters<typeof initProblems>[0];
    const manifest = (m: Partial<{ task: 'classification' | 'regression'; inputShape: number[]; classes: string[] }>) => ({
      architecture: 'cnn',
      manifest: { task: 'classification' as const, inputShape: [28, 28, 1], classes: ['a', 'b', 'c'], ...m },
    });
    const cases: [string, ReturnType<typeof manifest>, string[]][] = [
      ['fits', manifest({}), []],
      ['shape', manifest({ inputShape: [32, 32, 3] }), ['it takes inputs of shape [28, 28, 1], the data set has [32, 32, 3]']],
      [
        'a new class',
        manifest({ classes: ['a', 'b', 'c', 'd'] }),
        ["its classes differ from the data set's (the data set has [d], which it has not)"],
      ],
      [
        'a class gone',
        manifest({ classes: ['a', 'b'] }),
        ["its classes differ from the data set's (it has [c], which the data set has not)"],
      ],
      ['order', manifest({ classes: ['b', 'a', 'c'] }), ["its classes are in another order: [a, b, c], the data set's [b, a, c]"]],
      [
        'task',
        manifest({ task: 'regression', classes: [] }),
        [
          'it is a classification model, the data set is regression',
          "its classes differ from the data set's (it has [a, b, c], which the data set has not)",
        ],
      ],
      ['architecture', { ...manifest({}), architecture: 'mlp' }, ["it was trained as architecture 'cnn', this run builds 'mlp'"]],
    ];
    for (const [name, want, problems] of cases) assert.deepEqual(initProblems(meta, want), problems, name);
    assert.equal(weightMismatch([[3, 3, 1, 8], [8]], [[3, 3, 1, 8], [8]]), undefined);
    assert.equal(
      weightMismatch([[3, 3, 1, 8], [8]], [[3, 3, 1, 16], [16]]),
      'weight 1 of 2 has shape [3, 3, 1, 8], the architecture builds [3, 3, 1, 16]',
    );
    assert.equal(weightMismatch([[4]], [[4], [2]]), 'it has 1 weight tensors, the architecture builds 2');
  });
});

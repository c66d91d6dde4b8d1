/**
 * `modelship pipeline --retrain`: the loop closed on the demo sample with real processes. A first
 * run trains a base model that learns Trouser poorly (its data keeps 5 Trouser images of ~180),
 * promotes it and leaves it serving; the held-out Trouser images then arrive through the proxy as
 * production traffic and are labelled through :feedback by request id; `pipeline --retrain`
 * exports the store, prepares the old data and the new (the test split unchanged), fine-tunes from
 * production, gates the candidate against it, registers it, rolls it out as a canary beside the
 * serving version, promotes it and checks it. The new version is better on Trouser and overall.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadManifest, readSplit } from '../../shared/data/index.ts';
import { readMetadata } from '../../shared/model/index.ts';
import { openRegistry } from '../../shared/registry/index.ts';
import { deployDir, readLocalState, stopLocal } from '../../shared/rollout/index.ts';
import { memoryLogger, silentLogger } from '../../shared/util/index.ts';
import { noInterrupt, pipelineTable, runCli } from '../helpers/cli.ts';
import { accuracy, instance, sampleWithout } from '../helpers/fashion.ts';

const repo = path.resolve(import.meta.dirname, '../..');
const TROUSER = 1;
let cwd = '';
let heldOut: Uint8Array[] = [];

const pipeline = (...argv: string[]) =>
  runCli(['pipeline', '--config', 'modelship.yml', ...argv], { cwd, env: process.env, services: noInterrupt });

const table = pipelineTable;

before(async () => {
  cwd = await mkdtemp(path.join(os.tmpdir(), 'modelship-pipeline-retrain-'));
  heldOut = await sampleWithout(path.join(cwd, 'base-data'), TROUSER, 5);
  const demo = await readFile(path.join(repo, 'demo', 'modelship.yml'), 'utf8');
  await writeFile(
    path.join(cwd, 'modelship.yml'),
    demo
      .replace('source: demo/fashion-sample', 'source: base-data')
      .replace('analysis-interval: 2s', 'analysis-interval: 1s')
      .replace('window: 3s', 'window: 2s')
      // Drift is not what this test is about: production's traffic is one class on purpose.
      .replace('drift-min-count: 50', 'drift-min-count: 50\n  drift-limits: [prediction_psi <= 50, input_psi <= 50]'),
  );
});

after(async () => {
  await stopLocal(cwd, 'fashion', silentLogger);
  await rm(cwd, { recursive: true, force: true });
});

describe('modelship pipeline --retrain (feedback → fine-tuned version → canary → production)', () => {
  it('without feedback, says where the store is expected and how to fill it', async () => {
    const r = await pipeline('--retrain', '--until', 'train');
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /pipeline --retrain: the feedback store '.*\.modelship\/feedback' holds no feedback records/);
    assert.match(r.err, /send feedback to :feedback first\. The local servers of an earlier run write it to \.modelship\/feedback/);
  });

  it('--feedback without --retrain is refused', async () => {
    const r = await pipeline('--feedback', 'somewhere');
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /--feedback names the store to retrain on, and --retrain is not given/);
  });

  it('goes from production feedback to a promoted, fine-tuned new version that is better on the class fed back', async (t) => {
    // 1. The base model, promoted and left serving.
    const first = await pipeline('--keep-serving');
    assert.equal(first.code, 0, first.err.slice(-3000));
    const state = await readLocalState(deployDir(cwd, 'fashion'));
    assert.equal(state?.stable?.version.version, 1);
    const proxy = state.proxy!.url;

    // 2. Production traffic through the proxy: the Trouser images v1 never saw, labelled by request id.
    let wrong = 0;
    for (let i = 0; i < heldOut.length; i += 8) {
      const batch = heldOut.slice(i, i + 8);
      const res = await fetch(`${proxy}/v1/models/fashion:predict`, {
        method: 'POST',
        body: JSON.stringify({ instances: batch.map(instance) }),
      });
      assert.equal(res.status, 200, await res.clone().text());
      const id = res.headers.get('x-request-id')!;
      const rows = ((await res.json()) as { predictions: number[][] }).predictions;
      wrong += rows.filter((row) => row.indexOf(Math.max(...row)) !== TROUSER).length;
      const fb = await fetch(`${proxy}/v1/models/fashion:feedback`, {
        method: 'POST',
        body: JSON.stringify({ examples: batch.map((_, k) => ({ id, index: k, label: 'Trouser' })) }),
      });
      assert.equal(fb.status, 200, await fb.clone().text());
      assert.equal(((await fb.json()) as { accepted: number }).accepted, batch.length);
    }
    assert.ok(wrong > heldOut.length / 2, `production gets most of the held-out Trouser images wrong (${wrong} of ${heldOut.length})`);
    const m1 = await loadManifest(path.join(cwd, '.modelship', 'data'));
    const test = await readSplit(m1, 'test');
    const v1 = await openRegistry(path.join(cwd, '.modelship', 'registry'), { log: memoryLogger(), cwd });
    const v1Dir = path.join(cwd, 'pulled-v1');
    await v1.pull('fashion:1', v1Dir);
    const before = await accuracy(v1Dir, test, TROUSER);

    // 3. The loop again, on the feedback: v1 still serves while v2 goes out beside it.
    const r = await pipeline('--retrain');
    assert.equal(r.code, 0, r.err.slice(-4000));
    const steps = table(r.err);
    assert.deepEqual(Object.keys(steps), [
      'feedback',
      'setup-data',
      'train',
      'evaluate-gate',
      'register',
      'deploy-rollout',
      'monitor-check',
    ]);
    assert.match(steps['feedback'], new RegExp(`^${heldOut.length} labelled predictions of fashion \\(${wrong} wrong\\) as image-folder$`));
    assert.match(steps['train'], /fine-tuned from production/);
    assert.match(steps['evaluate-gate'], /^passed vs production v1/);
    assert.match(steps['register'], /fashion:2 \(staging\)/);
    assert.match(steps['deploy-rollout'], /^promoted/);
    assert.equal(steps['monitor-check'], 'healthy');
    assert.match(r.err, /fashion@production: v1 → v2/);

    const reg = await openRegistry(path.join(cwd, '.modelship', 'registry'), { log: memoryLogger(), cwd });
    const v2 = await reg.resolve('fashion@production');
    assert.equal(v2.version, 2);
    const v2Dir = path.join(cwd, 'pulled-v2');
    await reg.pull('fashion:2', v2Dir);
    const meta = await readMetadata(v2Dir);
    assert.equal(meta.initFrom?.ref, 'fashion:1', 'fine-tuned from production v1');
    // The test split both versions were gated on is the first run's.
    const m2 = await loadManifest(path.join(cwd, '.modelship', 'data'));
    assert.equal(m2.manifest.splits.test.digest, m1.manifest.splits.test.digest);
    assert.equal(m2.manifest.sources?.length, 2, 'the old data and the feedback');

    const afterRetrain = await accuracy(v2Dir, await readSplit(m2, 'test'), TROUSER);
    t.diagnostic(
      `${heldOut.length} Trouser images fed back (${wrong} predicted wrongly by v1); test split of ${test.count}: ` +
        `accuracy ${before.overall.toFixed(3)} → ${afterRetrain.overall.toFixed(3)} overall, ${before.cls.toFixed(3)} → ${afterRetrain.cls.toFixed(3)} on Trouser ` +
        `(v2 fine-tuned from ${meta.initFrom?.ref} for ${meta.params.epochs} epochs at ${meta.params.learningRate})`,
    );
    assert.ok(afterRetrain.cls > before.cls + 0.3, `Trouser: ${before.cls} → ${afterRetrain.cls}`);
    assert.ok(afterRetrain.overall > before.overall, `overall: ${before.overall} → ${afterRetrain.overall}`);
    assert.equal(
      await stat(path.join(deployDir(cwd, 'fashion'), 'state.json')).catch(() => undefined),
      undefined,
      'the servers were stopped at the end',
    );
  });
});

/**
 * The loop closed on the demo sample: a base model that learns one class poorly (its training data
 * keeps only 5 Trouser images of ~180) is registered as fashion@production and served; the
 * Trouser images it never saw arrive as production traffic, are predicted (mostly wrongly) and
 * labelled through :feedback by request id; `modelship feedback export` turns the store into an
 * image folder; setup-data prepares the old data and the new as one data set (the test split
 * unchanged); train fine-tunes from production; evaluate-gate compares the candidate with production
 * on the same test split and passes it; register makes it production. The candidate is better on
 * Trouser and overall, measured on the test split.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadManifest, openDataset, readSplit } from '../../shared/data/index.ts';
import { readMetadata } from '../../shared/model/index.ts';
import { startServer, type ModelServer } from '../../shared/serve/index.ts';
import { runCliLogged, type LoggedRun } from '../helpers/cli.ts';
import { accuracy, DEMO, instance, sampleWithout } from '../helpers/fashion.ts';

const TROUSER = 1;
/** Trouser images the base model is trained with. */
const KEPT = 5;

/** The CLI in this process; stderr carries the last lines of the log too, for failure messages. */
async function cli(argv: string[], cwd: string): Promise<LoggedRun> {
  const r = await runCliLogged(argv, cwd);
  return { ...r, stderr: `${r.stderr}\n${r.log.split('\n').slice(-30).join('\n')}` };
}

describe('retraining on feedback, end to end on the demo sample', () => {
  let root = '';
  let server: ModelServer | undefined;
  const heldOut: Uint8Array[] = [];

  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'modelship-retrain-'));
    // The base data: the demo sample with all but KEPT of its Trouser training images held out.
    heldOut.push(...(await sampleWithout(path.join(root, 'base-data'), TROUSER, KEPT)));
    await writeFile(path.join(root, 'modelship.yml'), 'version: 1\nname: fashion\nregistry:\n  url: registry\n');
  });
  after(async () => {
    await server?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('improves accuracy on the class fed back, and overall, and promotes the new version', async (t) => {
    // 1. The base model, registered as production.
    const d1 = await cli(['setup-data', '--source', 'base-data', '--output-dir', 'data-v1'], root);
    assert.equal(d1.code, 0, d1.stderr);
    const common = ['--architecture', 'mlp', '--backend', 'wasm', '--batch-size', '32', '--seed', '3'];
    const t1 = await cli(
      ['train', '--dataset', 'data-v1', ...common, '--epochs', '4', '--learning-rate', '0.002', '--output-dir', 'model-v1'],
      root,
    );
    assert.equal(t1.code, 0, t1.stderr);
    const r1 = await cli(['register', '--model', 'model-v1', '--alias', 'production'], root);
    assert.equal(r1.code, 0, r1.stderr);

    // 2. Production traffic: the held-out Trouser images, predicted, then labelled by request id.
    server = await startServer({
      models: [{ source: 'fashion@production' }],
      port: 0,
      cwd: root,
      feedbackDir: 'feedback',
      defaultName: 'fashion',
      registry: 'registry',
    });
    await server.ready;
    let wrongBefore = 0;
    for (let i = 0; i < heldOut.length; i += 8) {
      const batch = heldOut.slice(i, i + 8);
      const instances = batch.map(instance);
      const res = await fetch(`${server.url}/v1/models/fashion:predict`, { method: 'POST', body: JSON.stringify({ instances }) });
      assert.equal(res.status, 200);
      const id = res.headers.get('x-request-id')!;
      const rows = ((await res.json()) as { predictions: number[][] }).predictions;
      wrongBefore += rows.filter((row) => row.indexOf(Math.max(...row)) !== TROUSER).length;
      const fb = await fetch(`${server.url}/v1/models/fashion:feedback`, {
        method: 'POST',
        body: JSON.stringify({ examples: batch.map((_, k) => ({ id, index: k, label: 'Trouser' })) }),
      });
      const body = (await fb.json()) as { accepted: number };
      assert.equal(body.accepted, batch.length);
    }
    await server.close();
    server = undefined;

    // 3. Feedback export → setup-data over old and new → fine-tune from production → gate → register.
    const ex = await cli(['feedback', 'export', '--store', 'feedback', '--out', 'feedback-data'], root);
    assert.equal(ex.code, 0, ex.stderr);
    assert.equal(ex.outputs['examples'], String(heldOut.length));
    const d2 = await cli(['setup-data', '--source', 'base-data', '--source', 'feedback-data', '--output-dir', 'data-v2'], root);
    assert.equal(d2.code, 0, d2.stderr);
    const [m1, m2] = await Promise.all([loadManifest(path.join(root, 'data-v1')), loadManifest(path.join(root, 'data-v2'))]);
    assert.equal(m2.manifest.splits.test.digest, m1.manifest.splits.test.digest, 'the same test split');
    assert.equal(m2.manifest.sources?.[0].digest, m1.manifest.digest);
    // The feedback brought back exactly the pixels and labels held out: old + new is the demo sample again.
    const whole = await cli(['setup-data', '--source', DEMO, '--output-dir', 'data-demo'], root);
    assert.equal(
      m2.manifest.digest,
      whole.outputs['digest'],
      'the export is lossless: base + feedback = the demo sample, digest for digest',
    );
    const t2 = await cli(
      [
        'train',
        '--dataset',
        'data-v2',
        ...common,
        '--init-from',
        'production',
        '--fine-tune-epochs',
        '4',
        '--learning-rate',
        '0.002',
        '--output-dir',
        'model-v2',
      ],
      root,
    );
    assert.equal(t2.code, 0, t2.stderr);
    const gate = await cli(
      [
        'evaluate-gate',
        '--model',
        'model-v2',
        '--dataset',
        'data-v2',
        '--baseline',
        'production',
        '--registry',
        'registry',
        '--thresholds',
        'accuracy >= 0.6',
        '--max-regression',
        'accuracy: 1pp',
      ],
      root,
    );
    assert.equal(gate.code, 0, gate.stderr);
    assert.equal(gate.outputs['passed'], 'true');
    const r2 = await cli(
      ['register', '--model', 'model-v2', '--alias', 'production', '--report', gate.outputs['report'], '--dataset', 'data-v2'],
      root,
    );
    assert.equal(r2.code, 0, r2.stderr);
    const show = await cli(['registry', 'show', 'fashion@production'], root);
    assert.match(show.stdout, /^fashion:2 /m);
    assert.match(show.stdout, /^aliases +production$/m);
    assert.match(show.stdout, /^lineage +v2 ← v1/m, 'registered with production (v1) as its parent');
    const report = JSON.parse(await readFile(path.resolve(root, gate.outputs['report']), 'utf8')) as {
      baseline: { version: number } | null;
    };
    assert.equal(report.baseline?.version, 1, 'gated against production v1');

    // 4. Before and after, on the one test split both were gated on.
    const test = await readSplit(await loadManifest(path.join(root, 'data-v2')), 'test');
    const before = await accuracy(path.join(root, 'model-v1'), test, TROUSER);
    const afterRetrain = await accuracy(path.join(root, 'model-v2'), test, TROUSER);
    const meta = await readMetadata(path.join(root, 'model-v2'));
    t.diagnostic(
      `${heldOut.length} Trouser images fed back (${wrongBefore} predicted wrongly by production); test split of ${test.count}: ` +
        `accuracy ${before.overall.toFixed(3)} → ${afterRetrain.overall.toFixed(3)} overall, ${before.cls.toFixed(3)} → ${afterRetrain.cls.toFixed(3)} on Trouser ` +
        `(fine-tuned from ${meta.initFrom?.ref} for ${meta.params.epochs} epochs at ${meta.params.learningRate})`,
    );
    assert.ok(
      wrongBefore > heldOut.length / 2,
      `production gets most of the held-out Trouser images wrong (${wrongBefore} of ${heldOut.length})`,
    );
    assert.ok(afterRetrain.cls > before.cls + 0.3, `Trouser: ${before.cls} → ${afterRetrain.cls}`);
    assert.ok(afterRetrain.overall > before.overall, `overall: ${before.overall} → ${afterRetrain.overall}`);
    assert.equal(meta.initFrom?.ref, 'fashion:1');
    const ds = await openDataset(path.join(root, 'data-v2'));
    assert.equal(ds.manifest.files.filter((f) => f.source === 1 && f.path.startsWith('Trouser/')).length, heldOut.length);
  });
});

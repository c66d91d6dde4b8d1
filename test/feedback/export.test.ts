/**
 * `modelship feedback export|stats`: the store as a data set folder (lossless PNGs under their
 * label, or a CSV), one provenance line per example, filters (model, version, time, only wrong),
 * a corrected label winning over the first, and the refusals that say what to do.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import sharp from 'sharp';
import { timeOption } from '../../shared/cli/feedback.ts';
import { decodeImage } from '../../shared/data/index.ts';
import { exportFeedback, FeedbackStore, type FeedbackRecord } from '../../shared/feedback/index.ts';
import { runCliLogged } from '../helpers/cli.ts';

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'modelship-feedback-export-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function img(seed: number, channels = 1): Uint8Array {
  return Uint8Array.from({ length: 4 * 4 * channels }, (_, i) => (seed * 37 + i * 11) & 0xff);
}

function rec(id: string, label: string, predicted: string, extra: Partial<FeedbackRecord> & { pixels?: Uint8Array } = {}): FeedbackRecord {
  const { pixels = img(id.length * 3 + id.charCodeAt(id.length - 1)), ...rest } = extra;
  return {
    v: 1,
    id,
    index: 0,
    model: 'fashion',
    version: '1',
    digest: `sha256:${'d'.repeat(64)}`,
    predicted,
    label,
    predictedAt: '2026-12-01T10:00:00.000Z',
    time: '2026-12-01T10:00:05.000Z',
    input: { dtype: 'uint8', shape: [4, 4, pixels.length / 16], data: Buffer.from(pixels).toString('base64') },
    ...rest,
  };
}

const cli = (argv: string[], cwd: string) => runCliLogged(argv, cwd);

describe('feedback export', () => {
  it('writes lossless PNGs under their labels with a provenance line each, and applies its filters', async (t) => {
    const dir = await tempDir(t);
    const store = path.join(dir, '.modelship', 'feedback');
    const s = new FeedbackStore({ dir: store });
    const first = img(1);
    await s.append([
      rec('a', 'Shirt', 'T-shirt/top', { pixels: first }),
      rec('b', 'T-shirt/top', 'T-shirt/top'),
      rec('c', 'Shirt', 'Shirt', { version: '2', time: '2026-12-01T12:00:00.000Z' }),
    ]);
    // A corrected label for 'b' (the same prediction), later: the later one wins.
    await s.append([rec('b', 'Shirt', 'T-shirt/top', { time: '2026-12-01T10:30:00.000Z' })]);
    await s.close();

    const r = await cli(['feedback', 'export'], dir);
    assert.equal(r.code, 0, r.stderr);
    const outputs: Record<string, string> = Object.fromEntries(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => l.split('=') as [string, string]),
    );
    assert.deepEqual(outputs, {
      'dataset-dir': path.join(dir, '.modelship', 'feedback-data'),
      examples: '3',
      wrong: '2',
      format: 'image-folder',
      model: 'fashion',
    });
    assert.match(
      r.log,
      /3 example\(s\) of fashion v1, v2 \(2 predicted wrongly\) as image-folder .*: Shirt 3; 1 repeated label\(s\), the later kept/,
    );
    const out = outputs['dataset-dir'];
    assert.deepEqual((await readdir(out)).sort(), ['Shirt', 'provenance.jsonl']);
    const pngs = (await readdir(path.join(out, 'Shirt'))).sort();
    assert.equal(pngs.length, 3);
    const a = pngs.find((p) => p.startsWith('a-0-'))!;
    const png = await readFile(path.join(out, 'Shirt', a));
    const meta = await sharp(png).metadata();
    assert.deepEqual([meta.format, meta.channels, meta.width, meta.height], ['png', 1, 4, 4], 'greyscale stays one channel');
    const data = await decodeImage(png, { width: 4, height: 4, channels: 1 }, { resize: 'never' });
    assert.deepEqual([...data], [...first], 'the exact pixels served, as setup-data decodes them');
    const prov = (await readFile(path.join(out, 'provenance.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      prov.map((p) => [p['file'], p['id'], p['version'], p['predicted'], p['label']]),
      [
        [`Shirt/${a}`, 'a', '1', 'T-shirt/top', 'Shirt'],
        [`Shirt/${pngs.find((p) => p.startsWith('b-0-'))!}`, 'b', '1', 'T-shirt/top', 'Shirt'],
        [`Shirt/${pngs.find((p) => p.startsWith('c-0-'))!}`, 'c', '2', 'Shirt', 'Shirt'],
      ],
    );
    assert.match(JSON.stringify(prov[0]['store']), /"segment":"feedback-\d{8}T\d{9}Z-.*-000001\.jsonl","line":1/);

    const wrongV1 = await cli(
      ['feedback', 'export', '--only-wrong', '--version', '1', '--out', 'wrong', '--since', '2026-12-01T00:00:00Z'],
      dir,
    );
    assert.equal(wrongV1.code, 0, wrongV1.stderr);
    assert.match(wrongV1.stdout, /^examples=2$/m);
    const recent = await cli(['feedback', 'export', '--since', '2026-12-01T11:00:00Z', '--out', 'recent'], dir);
    assert.match(recent.stdout, /^examples=1$/m, 'only c arrived after 11:00');
    const now = new Date('2026-12-02T00:00:00Z');
    assert.equal(timeOption('13h', '--since', now).toISOString(), '2026-12-01T11:00:00.000Z');
    assert.equal(timeOption('2026-12-01T10:00:00Z', '--since', now).toISOString(), '2026-12-01T10:00:00.000Z');
    assert.throws(() => timeOption('yesterday', '--since', now), /--since 'yesterday' is neither a time nor an age/);
    const none = await cli(['feedback', 'export', '--until', '2026-11-01T00:00:00Z', '--out', 'none'], dir);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no feedback for fashion matches the export's filters \(4 record\(s\) read\)/);

    const stats = await cli(['feedback', 'stats'], dir);
    assert.equal(stats.code, 0, stats.stderr);
    assert.match(stats.stdout, /4 record\(s\) in 1 segment\(s\), \d+ bytes; 1 repeated label\(s\), the later counted/);
    assert.match(stats.stdout, /^fashion v1: 2 labelled, 0 correct \(0\.0%\), 2 wrong/m);
    assert.match(stats.stdout, /^fashion v2: 1 labelled, 1 correct \(100\.0%\), 0 wrong/m);
  });

  it('refuses a store of several models without --model, mixed shapes, and an empty store', async (t) => {
    const dir = await tempDir(t);
    const store = path.join(dir, 'store');
    const s = new FeedbackStore({ dir: store });
    await s.append([rec('a', 'x', 'y'), rec('b', 'x', 'y', { model: 'other' }), rec('c', 'x', 'y', { version: '2', pixels: img(3, 3) })]);
    await s.close();
    await assert.rejects(exportFeedback({ store, out: path.join(dir, 'o') }), /holds feedback for 2 models \(fashion, other\)/);
    await assert.rejects(exportFeedback({ store, out: path.join(dir, 'o'), model: 'nope' }), /holds no feedback for model 'nope'/);
    await assert.rejects(
      exportFeedback({ store, out: path.join(dir, 'o'), model: 'fashion' }),
      (err: Error & { hint?: string }) =>
        /mixes inputs of uint8 \[4,4,1\] \(version 1\) and uint8 \[4,4,3\] \(version 2\)/.test(err.message) &&
        /--version/.test(err.hint ?? ''),
    );
    const v2 = await exportFeedback({ store, out: path.join(dir, 'o'), model: 'fashion', versions: ['2'], format: 'csv' });
    assert.equal(v2.format, 'csv');
    assert.match((await readFile(path.join(v2.dir, 'feedback.csv'), 'utf8')).split('\n')[0], /^f0,f1,.*,f47,label$/);
    const empty = await cli(['feedback', 'export', '--store', 'nothing-here'], dir);
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /the feedback store '.*nothing-here' holds no feedback records/);
    assert.match(empty.stderr, /modelship serve --feedback-dir/);
    const bad = await cli(['feedback', 'send'], dir);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /feedback: unknown command 'send'/);
  });
});

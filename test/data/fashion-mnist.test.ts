/**
 * The full Fashion-MNIST from Debian's dataset-fashion-mnist (installed here and by .ci/run):
 * 70,000 examples through the action door, then the fast path.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { countingHasher } from '../../shared/data/hash.ts';
import type { DatasetManifest } from '../../shared/data/manifest.ts';
import { setupData } from '../../shared/data/prepare.ts';
import { FASHION_MNIST_CLASSES } from '../../shared/data/readers/idx.ts';
import { runAction } from '../../shared/action/run.ts';
import { setupDataStep } from '../../shared/steps/setup-data.ts';
import { silentLogger } from '../../shared/util/log.ts';
import { removeTempDirs, tempDir } from './helpers.ts';

const FULL = '/usr/share/datasets/fashion-mnist';
const saved = { ...process.env };
const realWrite = process.stdout.write.bind(process.stdout);
let dir: string;

before(async () => {
  dir = await tempDir('ms-fashion-');
  for (const k of Object.keys(process.env))
    if (k.startsWith('INPUT_') || k.startsWith('GITHUB_') || k.startsWith('ACTIONS_')) delete process.env[k];
  process.env['GITHUB_OUTPUT'] = path.join(dir, 'output.txt');
  process.env['GITHUB_STEP_SUMMARY'] = path.join(dir, 'summary.md');
  await writeFile(process.env['GITHUB_OUTPUT'], '');
  await writeFile(process.env['GITHUB_STEP_SUMMARY'], '');
  process.stdout.write = (chunk: string | Uint8Array, ...rest: never[]) =>
    typeof chunk === 'string' && chunk.startsWith('::') ? true : realWrite(chunk, ...rest);
});
after(() => {
  process.stdout.write = realWrite;
  process.env = { ...saved };
  process.exitCode = undefined;
});

describe('full Fashion-MNIST', () => {
  it('prepares 70,000 examples through the action door, then re-runs without re-hashing', async () => {
    process.env['INPUT_SOURCE'] = FULL;
    process.env['INPUT_OUTPUT-DIR'] = 'fashion';
    await runAction(setupDataStep, { log: silentLogger, cwd: dir, env: process.env });
    assert.equal(process.exitCode, undefined);
    const outputs = await readFile(process.env['GITHUB_OUTPUT']!, 'utf8');
    assert.match(outputs, /^examples<<.*\n70000\n/m);
    assert.match(outputs, /^classes<<.*\n10\n/m);
    assert.match(outputs, /^cache-hit<<.*\nfalse\n/m);
    const m = JSON.parse(await readFile(path.join(dir, 'fashion', 'manifest.json'), 'utf8')) as DatasetManifest;
    assert.deepEqual(m.classes, FASHION_MNIST_CLASSES, 'recognised by its label digest, no classes.txt needed');
    assert.equal(m.splits.test.count, 10000, 't10k is the test split');
    assert.equal(m.splits.train.count + m.splits.validation.count, 60000);
    assert.ok(Math.abs(m.splits.validation.count - 6000) < 300, `validation ${m.splits.validation.count}`);
    // Fashion-MNIST is balanced: 7,000 per class; its published train mean is 0.2860 (72.9 of 255).
    for (let c = 0; c < 10; c++)
      assert.equal(m.splits.train.classCounts[c] + m.splits.validation.classCounts[c] + m.splits.test.classCounts[c], 7000);
    assert.ok(Math.abs(m.statistics.channels[0].mean - 0.286 * 255) < 0.6, `mean ${m.statistics.channels[0].mean}`);
    const summary = await readFile(process.env['GITHUB_STEP_SUMMARY']!, 'utf8');
    assert.match(summary, /70,000 examples · 10 classes/);
    assert.match(summary, /\| Ankle boot \|/);

    const hasher = countingHasher();
    const again = await setupData(
      { source: FULL, format: 'auto', split: '80/10/10', cache: true, outputDir: 'fashion', cwd: dir },
      { log: silentLogger, hasher },
    );
    assert.deepEqual(hasher.files, []);
    assert.equal(again.cacheHit, true);
    assert.equal(again.manifest.digest, m.digest);
  });
});

after(removeTempDirs);

/** The train step through the action door: INPUT_* in, GITHUB_OUTPUT and GITHUB_STEP_SUMMARY out. */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { runAction } from '../../shared/github/action.ts';
import { trainStep } from '../../shared/steps/train.ts';
import { memoryLogger } from '../../shared/util/log.ts';
import { writeSyntheticDataset } from './synthetic.ts';

const saved = { ...process.env };
const realWrite = process.stdout.write.bind(process.stdout);

describe('train step (action)', () => {
  let root: string;
  let dataset: string;
  let commands: string[];
  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'modelship-train-step-'));
    dataset = await writeSyntheticDataset(path.join(root, 'data'), { kind: 'tabular', counts: [90, 30, 30], size: 6 });
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });
  beforeEach(async () => {
    for (const k of Object.keys(process.env)) if (k.startsWith('INPUT_') || k.startsWith('GITHUB_')) delete process.env[k];
    process.env['GITHUB_OUTPUT'] = path.join(root, 'github-output');
    process.env['GITHUB_STEP_SUMMARY'] = path.join(root, 'summary.md');
    await writeFile(process.env['GITHUB_OUTPUT'], '');
    await writeFile(process.env['GITHUB_STEP_SUMMARY'], '');
    commands = [];
    process.stdout.write = (chunk: string | Uint8Array, ...rest: never[]) => {
      const text = typeof chunk === 'string' ? chunk : '';
      if (text.startsWith('::')) {
        commands.push(text);
        return true;
      }
      return realWrite(chunk, ...rest);
    };
    process.exitCode = undefined;
  });
  afterEach(() => {
    process.stdout.write = realWrite;
    process.env = { ...saved };
    process.exitCode = undefined;
  });

  function outputs(text: string): Record<string, string> {
    const out: Record<string, string> = {};
    const re = /^(.+?)<<(.+)\n([\s\S]*?)\n\2$/gm;
    for (const m of text.matchAll(re)) out[m[1]] = m[3]!;
    return out;
  }

  it('trains, sets every declared output and writes the summary with the curves', async () => {
    Object.assign(process.env, {
      INPUT_DATASET: dataset,
      INPUT_ARCHITECTURE: 'mlp',
      INPUT_EPOCHS: '2',
      'INPUT_BATCH-SIZE': '16',
      'INPUT_LEARNING-RATE': '0.01',
      INPUT_BACKEND: 'cpu',
      'INPUT_OUTPUT-DIR': 'model',
    });
    const log = memoryLogger();
    await runAction(trainStep, { log, cwd: root });
    assert.equal(process.exitCode, undefined, commands.join(''));
    const out = outputs(await readFile(process.env['GITHUB_OUTPUT']!, 'utf8'));
    assert.deepEqual(Object.keys(out).sort(), ['backend', 'duration-seconds', 'final-loss', 'history', 'model-dir', 'val-accuracy']);
    assert.equal(out['model-dir'], path.join(root, 'model'));
    assert.equal(out['history'], path.join(root, 'model', 'history.json'));
    assert.equal(out['backend'], 'cpu');
    assert.match(out['val-accuracy'], /^(0|1)\.\d{4}$/);
    assert.match(out['final-loss'], /^\d+\.\d{4}$/);
    assert.match(out['duration-seconds'], /^\d+\.\d$/);
    const summary = await readFile(process.env['GITHUB_STEP_SUMMARY']!, 'utf8');
    assert.match(summary, /^### modelship train · `mlp`/);
    assert.equal(summary.match(/xychart-beta/g)?.length, 2);
    assert.ok(log.lines.includes('▸ train'));
    assert.ok(log.lines.some((l) => l.startsWith('epoch 2/2')));
  });

  it('fails with one clear line when the data set is missing', async () => {
    Object.assign(process.env, { INPUT_DATASET: 'nowhere', INPUT_BACKEND: 'cpu' });
    await runAction(trainStep, { log: memoryLogger(), cwd: root });
    assert.equal(process.exitCode, 1);
    assert.match(
      commands.join(''),
      /::error::train failed: dataset '.*nowhere' does not exist\.%0A {2}Pass the dataset-dir or manifest output of setup-data as dataset\./,
    );
  });
});

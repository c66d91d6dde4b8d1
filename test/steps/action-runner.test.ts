/** The action door: INPUT_* in, GITHUB_OUTPUT / GITHUB_STEP_SUMMARY out, one failure format. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { runAction } from '../../shared/github/action.ts';
import { input } from '../../shared/steps/inputs.ts';
import { defineStep } from '../../shared/steps/spec.ts';
import { ConfigurationError } from '../../shared/util/errors.ts';
import { silentLogger } from '../../shared/util/log.ts';

const saved = { ...process.env };
let dir: string;
let stdout: string[];
const realWrite = process.stdout.write.bind(process.stdout);

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'runner-'));
  for (const k of Object.keys(process.env)) if (k.startsWith('INPUT_') || k.startsWith('GITHUB_')) delete process.env[k];
  process.env['GITHUB_OUTPUT'] = path.join(dir, 'out');
  process.env['GITHUB_STEP_SUMMARY'] = path.join(dir, 'summary.md');
  writeFileSync(process.env['GITHUB_OUTPUT'], '');
  writeFileSync(process.env['GITHUB_STEP_SUMMARY'], '');
  stdout = [];
  // Keep the workflow commands @actions/core prints; pass everything else (the test runner's own
  // protocol) through.
  process.stdout.write = (chunk: string | Uint8Array, ...rest: never[]) => {
    const text = typeof chunk === 'string' ? chunk : '';
    if (text.startsWith('::')) {
      stdout.push(text);
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

const step = defineStep({
  name: 'demo-step',
  description: 'a step for tests',
  inputs: {
    count: input.int({ description: 'how many', min: 1, fallback: '2' }),
    'api-token': input.secret({ description: 'a secret' }),
    mode: input.choice(['ok', 'gate', 'throw', 'throw-string'], { description: 'what to do', fallback: 'ok' }),
  },
  outputs: { doubled: 'count × 2', note: 'text' },
  run: async (inputs) => {
    await Promise.resolve();
    if (inputs.mode === 'throw')
      throw new ConfigurationError(
        "source 'data/' has a class folder 'boot' with no images.",
        'Add images to data/boot/ or remove the folder.',
      );
    if (inputs.mode === 'throw-string') throw 'a bare string'; // eslint-disable-line @typescript-eslint/only-throw-error
    return {
      outputs: { doubled: (inputs.count ?? 0) * 2, note: `token ${inputs.apiToken ?? 'none'}` },
      summary: `### ${inputs.count} items`,
      ...(inputs.mode === 'gate' ? { failure: 'accuracy 0.85 < 0.90' } : {}),
    };
  },
});

const outputs = (): string => readFileSync(process.env['GITHUB_OUTPUT']!, 'utf8');

describe('runAction', () => {
  it('parses INPUT_* once, sets the declared outputs and writes the summary', async () => {
    process.env['INPUT_COUNT'] = '21';
    await runAction(step, { log: silentLogger });
    assert.match(outputs(), /doubled<<.*\n42\n/);
    assert.equal(readFileSync(process.env['GITHUB_STEP_SUMMARY']!, 'utf8'), '### 21 items\n');
    assert.equal(process.exitCode, undefined);
  });
  it('masks secret inputs before anything can print them', async () => {
    process.env['INPUT_API-TOKEN'] = 's3cr3t-value';
    await runAction(step, { log: silentLogger });
    assert.ok(stdout.some((l) => l.includes('::add-mask::s3cr3t-value')));
  });
  it('fails with "<step> failed: <message>" and the hint on bad input, before running', async () => {
    process.env['INPUT_COUNT'] = '0';
    await runAction(step, { log: silentLogger });
    assert.equal(process.exitCode, 1);
    assert.equal(outputs(), '');
    assert.ok(
      stdout.some((l) =>
        l.startsWith("::error::demo-step failed: input 'count' is 0, out of range.%0A  Set 'count' to a value of at least 1."),
      ),
    );
  });
  it('sets outputs and then fails for a step-level failure (a gate)', async () => {
    process.env['INPUT_MODE'] = 'gate';
    await runAction(step, { log: silentLogger });
    assert.match(outputs(), /doubled<</);
    assert.equal(process.exitCode, 1);
    assert.ok(stdout.some((l) => l.includes('::error::demo-step failed: accuracy 0.85 < 0.90')));
  });
  for (const [mode, text] of [
    [
      'throw',
      "demo-step failed: source 'data/' has a class folder 'boot' with no images.%0A  Add images to data/boot/ or remove the folder.",
    ],
    ['throw-string', 'demo-step failed: a bare string'],
  ] as const) {
    it(`turns any thrown value into one failure line (${mode})`, async () => {
      process.env['INPUT_MODE'] = mode;
      await runAction(step, { log: silentLogger });
      assert.equal(process.exitCode, 1);
      assert.ok(
        stdout.some((l) => l.startsWith(`::error::${text}`)),
        stdout.join(''),
      );
    });
  }
});

/**
 * setup-data run as the runner runs it: INPUT_* variables in, GITHUB_OUTPUT and
 * GITHUB_STEP_SUMMARY files out, failures as `setup-data failed: …`.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, afterEach, beforeEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runAction } from '../../shared/github/action.ts';
import { actionsDataCache, cacheServiceAvailable } from '../../shared/github/cache.ts';
import { setupDataStep } from '../../shared/steps/setup-data.ts';
import { silentLogger } from '../../shared/util/log.ts';
import { makeImageFolder, removeTempDirs, tempDir } from './helpers.ts';

const sample = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../demo/fashion-sample');
const saved = { ...process.env };
const realWrite = process.stdout.write.bind(process.stdout);
let dir: string;
let commands: string[];

beforeEach(async () => {
  dir = await tempDir('ms-action-');
  for (const k of Object.keys(process.env))
    if (k.startsWith('INPUT_') || k.startsWith('GITHUB_') || k.startsWith('ACTIONS_')) delete process.env[k];
  process.env['GITHUB_OUTPUT'] = path.join(dir, 'output.txt');
  process.env['GITHUB_STEP_SUMMARY'] = path.join(dir, 'summary.md');
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

/** Parses the `name<<delimiter … delimiter` blocks @actions/core writes to GITHUB_OUTPUT. */
async function readOutputs(): Promise<Record<string, string>> {
  const text = await readFile(process.env['GITHUB_OUTPUT']!, 'utf8');
  const out: Record<string, string> = {};
  const re = /^(.+?)<<(\S+)\n([\s\S]*?)\n\2$/gm;
  for (const m of text.matchAll(re)) out[m[1]] = m[3]!;
  return out;
}

describe('setup-data as an action', () => {
  it('prepares the sample, sets every output and writes the job summary', async () => {
    process.env['INPUT_SOURCE'] = sample;
    process.env['INPUT_OUTPUT-DIR'] = 'prepared';
    process.env['INPUT_SPLIT'] = '80/10/10';
    await runAction(setupDataStep, { log: silentLogger, cwd: dir, env: process.env });
    assert.equal(process.exitCode, undefined, commands.join(''));
    const out = await readOutputs();
    assert.deepEqual(Object.keys(out).sort(), ['cache-hit', 'classes', 'dataset-dir', 'digest', 'examples', 'manifest']);
    assert.equal(out['dataset-dir'], path.join(dir, 'prepared'));
    assert.equal(out['manifest'], path.join(dir, 'prepared', 'manifest.json'));
    assert.equal(out['examples'], '3000');
    assert.equal(out['classes'], '10');
    assert.equal(out['cache-hit'], 'false');
    const manifest = JSON.parse(await readFile(out['manifest'], 'utf8')) as { digest: string };
    assert.equal(out['digest'], manifest.digest);
    const summary = await readFile(process.env['GITHUB_STEP_SUMMARY']!, 'utf8');
    assert.match(summary, /### 📦 Data set `sha256:[0-9a-f]{12}…` · 3,000 examples · 10 classes/);
    assert.match(summary, /\| T-shirt/);
    assert.match(summary, /\| Ankle boot \| \d+ \| \d+ \| \d+ \| \d+ \|/);
    assert.ok(summary.includes(`Digest \`${manifest.digest}\``));

    // Second run, same inputs: recognised as unchanged.
    await writeFile(process.env['GITHUB_OUTPUT']!, '');
    await runAction(setupDataStep, { log: silentLogger, cwd: dir, env: process.env });
    const again = await readOutputs();
    assert.equal(again['cache-hit'], 'true');
    assert.equal(again['digest'], out['digest']);
  });
  it('fails with the two-line error for an empty class folder', async () => {
    await makeImageFolder(path.join(dir, 'data'), { sandal: 2 });
    await mkdir(path.join(dir, 'data', 'boot'));
    process.env['INPUT_SOURCE'] = 'data/';
    await runAction(setupDataStep, { log: silentLogger, cwd: dir, env: process.env });
    assert.equal(process.exitCode, 1);
    const error = commands.find((c) => c.startsWith('::error::'));
    assert.equal(
      error?.trim(),
      "::error::setup-data failed: source 'data/' has a class folder 'boot' with no images.%0A  Add images to data/boot/ or remove the folder.",
    );
    assert.deepEqual(await readOutputs(), {});
  });
});

describe('the Actions cache adapter', () => {
  for (const [env, want] of [
    [{}, false],
    [{ ACTIONS_RUNTIME_TOKEN: 't' }, false],
    [{ ACTIONS_RUNTIME_TOKEN: 't', ACTIONS_RESULTS_URL: 'https://results/' }, true],
    [{ ACTIONS_RUNTIME_TOKEN: 't', ACTIONS_CACHE_URL: 'https://cache/' }, true],
    [{ ACTIONS_RESULTS_URL: 'https://results/' }, false],
  ] as const) {
    it(`service ${want ? '' : 'not '}available with ${Object.keys(env).join(', ') || 'no variables'}`, () => {
      assert.equal(cacheServiceAvailable(env), want);
    });
  }
  it('is used only by the action door', () => {
    const env = { ACTIONS_RUNTIME_TOKEN: 't', ACTIONS_RESULTS_URL: 'https://results/' };
    assert.equal(actionsDataCache('cli', env, silentLogger), undefined);
    assert.notEqual(actionsDataCache('action', env, silentLogger), undefined);
    assert.equal(actionsDataCache('action', {}, silentLogger), undefined);
  });
});

after(removeTempDirs);

/**
 * setup-data run as the runner runs it: INPUT_* variables in, GITHUB_OUTPUT and
 * GITHUB_STEP_SUMMARY files out, failures as `setup-data failed: …`.
 */
import assert from 'node:assert/strict';
import { defaultServices } from '../../shared/steps/index.ts';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, beforeEach, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { actionsDataCache, cacheServiceAvailable } from '../../shared/github/cache.ts';
import { setupDataStep } from '../../shared/steps/setup-data.ts';
import { silentLogger } from '../../shared/util/log.ts';
import { runAsRunner } from '../helpers/runner.ts';
import { makeImageFolder, removeTempDirs, tempDir } from './helpers.ts';

const sample = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../demo/fashion-sample');
let dir: string;

beforeEach(async () => {
  dir = await tempDir('ms-action-');
});

describe('setup-data as an action', () => {
  it('prepares the sample, sets every output and writes the job summary', async () => {
    const inputs = { source: sample, 'output-dir': 'prepared', split: '80/10/10' };
    const first = await runAsRunner(setupDataStep, inputs, { cwd: dir });
    assert.equal(first.failed, false, first.commands);
    const out = first.outputs;
    assert.deepEqual(Object.keys(out).sort(), ['cache-hit', 'classes', 'dataset-dir', 'digest', 'examples', 'manifest', 'manifest-digest']);
    assert.equal(out['dataset-dir'], path.join(dir, 'prepared'));
    assert.equal(out['manifest'], path.join(dir, 'prepared', 'manifest.json'));
    assert.equal(out['examples'], '3000');
    assert.equal(out['classes'], '10');
    assert.equal(out['cache-hit'], 'false');
    const manifest = JSON.parse(await readFile(out['manifest'], 'utf8')) as { digest: string; manifestDigest: string };
    assert.equal(out['digest'], manifest.digest);
    assert.equal(out['manifest-digest'], manifest.manifestDigest);
    const summary = first.summary;
    assert.match(summary, /### 📦 Data set `sha256:[0-9a-f]{12}…` · 3,000 examples · 10 classes/);
    assert.match(summary, /\| T-shirt/);
    assert.match(summary, /\| Ankle boot \| \d+ \| \d+ \| \d+ \| \d+ \|/);
    assert.ok(summary.includes(`Digest \`${manifest.digest}\``));

    // Second run, same inputs: recognised as unchanged.
    const again = (await runAsRunner(setupDataStep, inputs, { cwd: dir })).outputs;
    assert.equal(again['cache-hit'], 'true');
    assert.equal(again['digest'], out['digest']);
  });
  it('fails with the two-line error for an empty class folder', async () => {
    await makeImageFolder(path.join(dir, 'data'), { sandal: 2 });
    await mkdir(path.join(dir, 'data', 'boot'));
    const r = await runAsRunner(setupDataStep, { source: 'data/' }, { cwd: dir });
    assert.equal(r.failed, true);
    const error = r.commands.split('\n').find((c) => c.startsWith('::error::'));
    assert.equal(
      error?.trim(),
      "::error::setup-data failed: source 'data/' has a class folder 'boot' with no images.%0A  Add images to data/boot/ or remove the folder.",
    );
    assert.deepEqual(r.outputs, {});
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
  it("is the Actions door's service, when the job has a cache service; the CLI's services have none", () => {
    const env = { ACTIONS_RUNTIME_TOKEN: 't', ACTIONS_RESULTS_URL: 'https://results/' };
    assert.notEqual(actionsDataCache(env, silentLogger), undefined);
    assert.equal(actionsDataCache({}, silentLogger), undefined);
    assert.equal(defaultServices({ env, cwd: '.', log: silentLogger }).dataCache, undefined);
  });
});

after(removeTempDirs);

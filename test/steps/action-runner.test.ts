/** The action door: INPUT_* in, GITHUB_OUTPUT / GITHUB_STEP_SUMMARY out, one failure format. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { input } from '../../shared/config/inputs.ts';
import { defineStep } from '../../shared/steps/spec.ts';
import { ConfigurationError } from '../../shared/util/errors.ts';
import { unpackInputs } from '../../shared/action/index.ts';
import { runAsRunner } from '../helpers/runner.ts';

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

describe('runAction', () => {
  it('parses INPUT_* once, sets the declared outputs and writes the summary', async () => {
    const r = await runAsRunner(step, { count: '21' });
    assert.deepEqual(r.outputs, { doubled: '42', note: 'token none' });
    assert.equal(r.summary, '### 21 items\n');
    assert.equal(r.failed, false);
  });
  it('masks secret inputs before anything can print them', async () => {
    const r = await runAsRunner(step, { 'api-token': 's3cr3t-value' });
    assert.match(r.commands, /::add-mask::s3cr3t-value/);
  });
  it('fails with "<step> failed: <message>" and the hint on bad input, before running', async () => {
    const r = await runAsRunner(step, { count: '0' });
    assert.equal(r.failed, true);
    assert.deepEqual(r.outputs, {});
    assert.match(
      r.commands,
      /^::error::demo-step failed: input 'count' is 0, out of range\.%0A {2}Set 'count' to a value of at least 1\./m,
    );
  });
  it('sets outputs and then fails for a step-level failure (a gate)', async () => {
    const r = await runAsRunner(step, { mode: 'gate' });
    assert.equal(r.outputs['doubled'], '4');
    assert.equal(r.failed, true);
    assert.match(r.commands, /::error::demo-step failed: accuracy 0\.85 < 0\.90/);
  });
  for (const [mode, text] of [
    [
      'throw',
      "demo-step failed: source 'data/' has a class folder 'boot' with no images.%0A  Add images to data/boot/ or remove the folder.",
    ],
    ['throw-string', 'demo-step failed: a bare string'],
  ] as const) {
    it(`turns any thrown value into one failure line (${mode})`, async () => {
      const r = await runAsRunner(step, { mode });
      assert.equal(r.failed, true);
      assert.ok(r.commands.includes(`::error::${text}`), r.commands);
    });
  }
  it("unpacks a composite's MODELSHIP_INPUTS into inputs, and a bad one fails through the one error path", async () => {
    const ok = await runAsRunner(step, {}, { env: { MODELSHIP_INPUTS: '{"count":"4"}' }, prepare: () => unpackInputs() });
    assert.equal(ok.outputs['doubled'], '8');
    const bad = await runAsRunner(step, {}, { env: { MODELSHIP_INPUTS: '{not json' }, prepare: () => unpackInputs() });
    assert.equal(bad.failed, true);
    assert.match(bad.commands, /::error::demo-step failed: MODELSHIP_INPUTS is not JSON/);
    const wired = await runAsRunner(step, { count: '3' }, { env: { MODELSHIP_INPUTS: '{"count":"4"}' }, prepare: () => unpackInputs() });
    assert.equal(wired.outputs['doubled'], '6', 'an input the composite wires explicitly wins');
  });
  it('restores the environment and exit code afterwards', async () => {
    const before = { ...process.env };
    await runAsRunner(step, { mode: 'gate' }, { env: { GITHUB_REPOSITORY: 'acme/x' } });
    assert.deepEqual({ ...process.env }, before);
    assert.equal(process.exitCode, undefined);
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseStepArgs } from '../../shared/cli/args.ts';
import { trainStep } from '../../shared/steps/index.ts';
import { ConfigurationError } from '../../shared/util/errors.ts';
import { runCli } from '../helpers/cli.ts';

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  return runCli(argv, { cwd: mkdtempSync(path.join(tmpdir(), 'cli-')) });
}

describe('CLI arguments', () => {
  const cases: [string[], Record<string, string>][] = [
    [['--epochs', '3', '--backend=wasm'], { epochs: '3', backend: 'wasm' }],
    [['--dataset', 'd', '--resume-from', 'ck'], { dataset: 'd', 'resume-from': 'ck' }],
  ];
  for (const [argv, want] of cases) {
    it(argv.join(' '), () => assert.deepEqual(parseStepArgs(argv, trainStep.inputs, 'train').values, want));
  }
  it('repeated options become lines; --no-flag is false', async () => {
    const { evaluateGateStep } = await import('../../shared/steps/index.ts');
    const v = parseStepArgs(
      ['--thresholds', 'accuracy >= 0.9', '--thresholds', 'f1_macro >= 0.8', '--no-fail-on-gate'],
      evaluateGateStep.inputs,
      'evaluate-gate',
    ).values;
    assert.deepEqual(v, { thresholds: 'accuracy >= 0.9\nf1_macro >= 0.8', 'fail-on-gate': 'false' });
  });
  it('an unknown option suggests the one meant and lists the known ones', () => {
    assert.throws(
      () => parseStepArgs(['--epoch', '3'], trainStep.inputs, 'train'),
      (e: unknown) =>
        e instanceof ConfigurationError &&
        /unknown option --epoch\. Did you mean --epochs\?/.test(e.message) &&
        /--batch-size/.test(e.hint ?? ''),
    );
    assert.throws(
      () => parseStepArgs(['--frobnicate', '3'], trainStep.inputs, 'train'),
      (e: unknown) => e instanceof ConfigurationError && /unknown option --frobnicate\.$/.test(e.message),
    );
  });
  const near: [string, string, string | undefined][] = [
    ['trian', 'train', 'a swap'],
    ['regstry', 'registry', 'a missing letter'],
    ['evaluate-gat', 'evaluate-gate', 'a cut word'],
    ['frobnicate', '', 'nothing near'],
  ];
  for (const [typed, meant, why] of near) {
    it(`an unknown command suggests ${meant || 'nothing'} (${why})`, async () => {
      const r = await cli([typed]);
      assert.equal(r.code, 2);
      if (meant) assert.match(r.err, new RegExp(`unknown command '${typed}'\\. Did you mean '${meant}'\\?`));
      else assert.match(r.err, new RegExp(`unknown command '${typed}'\\.\n`));
    });
  }
});

describe('CLI commands', () => {
  it('lists every step and the loop in --help', async () => {
    const r = await cli(['--help']);
    assert.equal(r.code, 0);
    for (const name of ['setup-data', 'train', 'evaluate-gate', 'register', 'deploy-rollout', 'monitor-check', 'pipeline', 'registry'])
      assert.match(r.out, new RegExp(`^  ${name} `, 'm'));
  });
  it('shows a step’s options with kinds and defaults, required ones first', async () => {
    const r = await cli(['train', '--help']);
    assert.match(r.out, /--epochs {2}\(int; default 15\)/);
    const gate = (await cli(['evaluate-gate', '--help'])).out;
    assert.ok(gate.indexOf('Required:\n  --model') < gate.indexOf('Options (the same names'), gate);
    assert.ok(gate.indexOf('  --dataset') < gate.indexOf('  --baseline'), gate);
    assert.match(gate, /--github-token {2}\(secret; or \$GITHUB_TOKEN\)/);
    assert.doesNotMatch(gate, /\$\{\{/, 'a workflow expression is never shown as a default');
  });
  it('exits 2 with the two-line error on bad input', async () => {
    const r = await cli(['train', '--dataset', 'x', '--batch-size', 'big']);
    assert.equal(r.code, 2);
    assert.equal(
      r.err,
      "modelship train failed: input 'batch-size' must be a whole number, got 'big'.\n  Set 'batch-size' to a value from 1 to 65536.\n",
    );
  });
  it('takes short names for steps', async () => {
    const r = await cli(['evaluate', '--help']);
    assert.equal(r.code, 0);
    assert.match(r.out, /^modelship evaluate-gate:/);
  });
  it('rejects an unknown command', async () => {
    const r = await cli(['deploy-now']);
    assert.equal(r.code, 2);
    assert.match(r.err, /unknown command 'deploy-now'/);
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { parseStepArgs } from '../../shared/cli/args.ts';
import { main } from '../../shared/cli/main.ts';
import { trainStep } from '../../shared/steps/index.ts';
import { ConfigurationError } from '../../shared/util/errors.ts';

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  const code = await main(argv, { stdout, stderr, env: {}, cwd: mkdtempSync(path.join(tmpdir(), 'cli-')) });
  return { code, out, err };
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
  it('an unknown option lists the known ones', () => {
    assert.throws(
      () => parseStepArgs(['--epoch', '3'], trainStep.inputs, 'train'),
      (e: unknown) => e instanceof ConfigurationError && /unknown option --epoch/.test(e.message) && /--epochs/.test(e.hint ?? ''),
    );
  });
});

describe('CLI commands', () => {
  it('lists every step and the loop in --help', async () => {
    const r = await cli(['--help']);
    assert.equal(r.code, 0);
    for (const name of ['setup-data', 'train', 'evaluate-gate', 'register', 'deploy-rollout', 'monitor-check', 'pipeline', 'registry'])
      assert.match(r.out, new RegExp(`^  ${name} `, 'm'));
  });
  it('shows a step’s options with defaults', async () => {
    const r = await cli(['train', '--help']);
    assert.match(r.out, /--epochs {2}\(default 15\)/);
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

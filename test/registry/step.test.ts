import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { registryCommand } from '../../shared/cli/registry.ts';
import { registerStep } from '../../shared/steps/register.ts';
import { resolveInputs } from '../../shared/steps/resolve.ts';
import { testContext } from '../helpers/context.ts';
import { writeSealedDataset } from '../helpers/dataset.ts';
import { ConfigurationError } from '../../shared/util/errors.ts';
import { memoryLogger } from '../../shared/util/log.ts';
import { makeModelDir, tempDir, variantOf } from './helpers.ts';

let cwd: string;
let datasetDigest: string;
const env = { GITHUB_SERVER_URL: 'https://github.com', GITHUB_REPOSITORY: 'acme/ml', GITHUB_RUN_ID: '482', GITHUB_SHA: 'a1b2c3d4e5f6' };

before(async () => {
  cwd = await tempDir();
  await makeModelDir(path.join(cwd, 'model'), 1);
  await variantOf(path.join(cwd, 'model'), path.join(cwd, 'model-2'), 2);
  await writeFile(
    path.join(cwd, 'report.json'),
    JSON.stringify({ passed: true, candidate: { metrics: { accuracy: 0.91, f1_macro: 0.9 } }, baseline: { name: 'fashion', version: 1 } }),
  );
  const split = (n: number, base: number) => ({ x: Uint8Array.from({ length: n * 4 }, (_, i) => (base + i) % 256), y: new Int32Array(n) });
  datasetDigest = (
    await writeSealedDataset(cwd, {
      classes: ['a'],
      inputShape: [2, 2, 1],
      seed: 42,
      splits: { train: split(4, 0), validation: split(2, 50), test: split(2, 100) },
    })
  ).digest;
  await writeFile(path.join(cwd, 'modelship.yml'), 'name: fashion\nregistry:\n  url: models-reg\n');
});
after(async () => {
  await rm(cwd, { recursive: true, force: true });
});

async function register(raw: Record<string, string>) {
  const { inputs, config } = await resolveInputs(registerStep, raw, cwd);
  return registerStep.run(inputs, testContext({ cwd, env, config, now: () => new Date('2026-03-01T00:00:00Z') }));
}

async function cli(...argv: string[]): Promise<{ code: number; out: string }> {
  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  const code = await registryCommand(argv, { log: memoryLogger(), stdout, cwd, env });
  return { code, out };
}

describe('register step', () => {
  it('registers with the name and registry from modelship.yml, moves aliases, writes outputs and a summary', async () => {
    const r1 = await register({ model: 'model', alias: 'production' });
    assert.equal(r1.outputs.version, 1);
    assert.match(String(r1.outputs.digest), /^sha256:[0-9a-f]{64}$/);
    assert.equal(r1.outputs.ref, `fashion:1@${String(r1.outputs.digest)}`);
    assert.match(r1.summary ?? '', /\| `production` \| \(new\) \| v1 \|/);

    const r2 = await register({ model: 'model-2', alias: 'production, staging', report: 'report.json', dataset: 'manifest.json' });
    assert.equal(r2.outputs.version, 2);
    assert.match(r2.summary ?? '', /\| `production` \| v1 \| v2 \|/);
    assert.match(r2.summary ?? '', /\| accuracy \| 0\.9100 \|/);
    assert.match(r2.summary ?? '', /parent v1 · .*\[run\]\(https:\/\/github\.com\/acme\/ml\/actions\/runs\/482\) · gate ✅ passed/);

    const again = await register({ model: 'model-2', report: 'report.json', dataset: 'manifest.json' });
    assert.deepEqual([again.outputs.version, again.outputs.digest], [2, r2.outputs.digest]);
    assert.match(again.summary ?? '', /was already registered/);
  });

  it('refuses bad names and aliases naming the input', async () => {
    await assert.rejects(
      register({ model: 'model', name: 'Fashion' }),
      /input 'name': 'Fashion' is not a valid model name: 'F' is refused/,
    );
    await assert.rejects(register({ model: 'model', alias: 'prod_1' }), /input 'alias': 'prod_1' is not a valid alias: '_' is refused/);
  });
});

describe('modelship registry', () => {
  it('lists versions with aliases and metrics', async () => {
    const { code, out } = await cli('list', 'fashion');
    assert.equal(code, 0);
    assert.match(out, /^fashion in models-reg\n/);
    assert.match(out, /\n2\s+sha256:[0-9a-f]{12}\s+\S+ \S+\s+production,staging\s+accuracy 0\.9100 · f1_macro 0\.9000\n/);
    assert.match(out, /\n1\s+sha256:[0-9a-f]{12}\s+.*\s+-\s+valAccuracy 0\.5010/);
    const json = JSON.parse((await cli('list', 'fashion', '--json')).out) as { version: number }[];
    assert.deepEqual(
      json.map((v) => v.version),
      [1, 2],
    );
  });

  it('shows metadata and lineage; a bare alias uses the name from modelship.yml', async () => {
    const { out } = await cli('show', 'production');
    assert.match(out, /^fashion:2 {2}sha256:/);
    assert.match(out, /\nmetrics \(report\)\s+accuracy 0\.9100, f1_macro 0\.9000\n/);
    assert.match(out, new RegExp(`\\ndata\\s+${datasetDigest} \\(split 80/10/10, seed 42\\)\\n`));
    assert.match(out, /\nparams\s+architecture=mlp epochs=1 batchSize=8 learningRate=0\.001 seed=2 /);
    assert.match(out, /\nrun\s+https:\/\/github\.com\/acme\/ml\/actions\/runs\/482\n/);
    assert.match(out, /\nlineage\s+v2 ← v1\n?/);
  });

  it('diffs metrics and params of two versions', async () => {
    const { out } = await cli('diff', 'fashion:1', 'fashion:2');
    assert.match(out, /param\s+fashion:1\s+fashion:2\nseed\s+1\s+2/);
  });

  it('promotes, rolls back and pulls', async () => {
    assert.equal((await cli('promote', 'fashion:1', 'production')).out, 'fashion@production: v2 → v1\n');
    assert.equal((await cli('rollback', 'fashion', 'production')).out, 'fashion@production: v1 → v2 (rolled back)\n');
    const { out } = await cli('pull', 'fashion@production', 'pulled');
    assert.match(out, /^pulled models-reg\/fashion:2@sha256:[0-9a-f]{64} into pulled \(6 files, /);
    assert.equal((JSON.parse(await readFile(path.join(cwd, 'pulled', 'report.json'), 'utf8')) as { passed: boolean }).passed, true);
  });

  it('says how to call it when used wrongly', async () => {
    assert.equal((await cli()).code, 2);
    assert.match((await cli('--help')).out, /modelship registry promote fashion:3 production/);
    await assert.rejects(
      cli('promote', 'fashion@staging', 'production'),
      (e: unknown) => e instanceof ConfigurationError && /needs a version/.test(e.message),
    );
    await assert.rejects(cli('list'), /registry list takes <name>, got 0 argument/);
    await assert.rejects(cli('frobnicate', 'x'), /unknown command 'frobnicate'/);
    await assert.rejects(cli('list', 'fashion', '--colour', 'x'), /unknown option --colour/);
    await assert.rejects(cli('show', 'fashion:9'), /fashion:9 does not exist in the registry models-reg/);
  });
});

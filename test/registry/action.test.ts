/**
 * register as the runner runs it: runAction with INPUT_* variables, a temporary GITHUB_OUTPUT and
 * GITHUB_STEP_SUMMARY; against a local folder and against docker-registry with htpasswd auth.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
import { registerStep } from '../../shared/steps/register.ts';
import { runAsRunner } from '../helpers/runner.ts';
import { makeModelDir, startRegistry, tempDir, type RunningRegistry } from './helpers.ts';

let dir: string;
let secured: RunningRegistry;

before(async () => {
  dir = await tempDir();
  await makeModelDir(path.join(dir, 'model'), 7);
  secured = await startRegistry({ htpasswd: `octocat:${bcrypt.hashSync('ghs_secret', 5)}\n` });
});
after(async () => {
  await secured?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function run(
  inputs: Record<string, string>,
): Promise<{ outputs: Record<string, string>; summary: string; stdout: string; failed: boolean }> {
  const r = await runAsRunner(registerStep, inputs, {
    cwd: dir,
    env: { GITHUB_REPOSITORY: 'acme/ml', GITHUB_SERVER_URL: 'https://github.com', GITHUB_RUN_ID: '4242', GITHUB_SHA: 'e'.repeat(40) },
  });
  return { outputs: r.outputs, summary: r.summary, stdout: r.commands, failed: r.failed };
}

describe('register action (runAction)', () => {
  it('registers into the default local folder and sets version, digest, ref and the job summary', async () => {
    const r = await run({ model: 'model', name: 'fashion', alias: 'staging', registry: '' });
    assert.equal(r.failed, false, r.stdout);
    assert.equal(r.outputs['version'], '1');
    assert.match(r.outputs['digest'] ?? '', /^sha256:[0-9a-f]{64}$/);
    assert.equal(r.outputs['ref'], `fashion:1@${r.outputs['digest']}`);
    assert.match(r.summary, /### 📦 fashion v1 registered/);
    assert.match(r.summary, /\| `staging` \| \(new\) \| v1 \|/);
  });

  it('pushes to an OCI registry with the password input, masked', async () => {
    const r = await run({
      model: 'model',
      name: 'fashion',
      registry: `oci://${secured.host}/acme`,
      username: 'octocat',
      password: 'ghs_secret',
      alias: 'production',
    });
    assert.equal(r.failed, false, r.stdout);
    assert.equal(r.outputs['ref'], `oci://${secured.host}/acme/fashion:1@${r.outputs['digest']}`);
    assert.match(r.stdout, /::add-mask::ghs_secret/);
  });

  it('fails with the refused credential and scope', async () => {
    const r = await run({
      model: 'model',
      name: 'fashion',
      registry: `oci://${secured.host}/acme`,
      username: 'octocat',
      password: 'wrong',
    });
    assert.equal(r.failed, true);
    assert.match(
      r.stdout,
      new RegExp(
        `::error::register failed: ${secured.host.replace(/\./g, '\\.')} refused the password of user 'octocat' for repository:acme/fashion:push`,
      ),
    );
    assert.equal(r.outputs['version'], undefined);
  });
});

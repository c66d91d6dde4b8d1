/**
 * evaluate-gate takes `production` from a real OCI registry (Debian's docker-registry on loopback,
 * htpasswd auth on) as its baseline, with the credentials of its registry-username/-password inputs.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import bcrypt from 'bcryptjs';
import { parseGateReport } from '../../shared/report/gate-report.ts';
import { evaluateGateStep, registerStep } from '../../shared/steps/index.ts';
import { runAsRunner } from '../helpers/runner.ts';
import { startRegistry, type RunningRegistry } from '../registry/helpers.ts';
import { writeDataset, writeModel } from './fixtures.ts';

describe('evaluate-gate with a baseline in an OCI registry', () => {
  let root = '';
  let oci: RunningRegistry;
  let dataset = '';
  let good = '';
  let confused = '';
  let registry = '';
  const credentials = { 'registry-username': 'octocat', 'registry-password': 'ghs_secret' };

  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'modelship-gate-oci-'));
    oci = await startRegistry({ htpasswd: `octocat:${bcrypt.hashSync('ghs_secret', 5)}\n` });
    registry = `oci://${oci.host}/models`;
    dataset = await writeDataset(path.join(root, 'data'));
    good = await writeModel(path.join(root, 'good'), 'good');
    confused = await writeModel(path.join(root, 'confused'), 'confused');
    const reg = await runAsRunner(
      registerStep,
      { model: good, name: 'fashion', registry, alias: 'production', username: 'octocat', password: 'ghs_secret' },
      { cwd: root },
    );
    assert.equal(reg.failed, false, reg.commands);
    assert.equal(reg.outputs['version'], '1');
  });
  after(async () => {
    await oci?.stop();
    await rm(root, { recursive: true, force: true });
  });

  const gate = (model: string, extra: Record<string, string> = {}) =>
    runAsRunner(
      evaluateGateStep,
      {
        model,
        dataset,
        name: 'fashion',
        baseline: 'production',
        registry,
        comment: 'false',
        'max-regression': 'accuracy: 1pp',
        'report-dir': path.join(root, `report-${path.basename(model)}`),
        ...credentials,
        ...extra,
      },
      { cwd: root, env: { GITHUB_EVENT_NAME: 'push' } },
    );

  it('pulls production v1 and passes the same model against it', async () => {
    const r = await gate(good);
    assert.equal(r.failed, false, r.commands);
    assert.equal(r.outputs['passed'], 'true');
    const report = parseGateReport(JSON.parse(await readFile(r.outputs['report'], 'utf8')));
    assert.equal(report.firstModel, false);
    assert.equal(report.baseline?.version, 1);
    assert.match(r.summary, /vs `production` v1/);
  });

  it('fails a worse candidate against it, for a significant regression', async () => {
    const r = await gate(confused);
    assert.equal(r.failed, true);
    assert.equal(r.outputs['passed'], 'false');
    assert.match(r.commands, /::error::evaluate-gate failed: .*accuracy/);
  });

  it('says which credential the registry refused', async () => {
    const r = await gate(good, { 'registry-password': 'wrong' });
    assert.equal(r.failed, true);
    assert.match(r.commands, /::error::evaluate-gate failed: .*refused the password of user 'octocat' for repository:models\/fashion:pull/);
    assert.doesNotMatch(r.commands.replace(/::add-mask::wrong\n/g, ''), /wrong/);
  });
});

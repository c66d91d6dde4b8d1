/** Where a run comes from: the GitHub context on a runner, the local checkout elsewhere. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { githubContextFrom, provenanceOf, readLocalGit } from '../../shared/github/index.ts';

function checkout(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'prov-'));
  const git = (...args: string[]): string =>
    execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { cwd: dir })
      .toString()
      .trim();
  git('init', '-q', '-b', 'main');
  writeFileSync(path.join(dir, 'a.txt'), 'one\n');
  git('add', 'a.txt');
  git('commit', '-q', '-m', 'one');
  return dir;
}

describe('provenance', () => {
  it('records the local commit and whether tracked files changed', async () => {
    const dir = checkout();
    const clean = await readLocalGit(dir);
    assert.match(clean?.commit ?? '', /^[0-9a-f]{40}$/);
    assert.equal(clean?.dirty, false);
    assert.equal(clean?.ref, 'refs/heads/main');
    writeFileSync(path.join(dir, 'a.txt'), 'two\n');
    writeFileSync(path.join(dir, 'untracked.txt'), 'x\n');
    const dirty = await readLocalGit(dir);
    assert.equal(dirty?.dirty, true);
    const p = provenanceOf(githubContextFrom({}, {}), dirty);
    assert.deepEqual(
      { commit: p.commit, dirty: p.dirty, ref: p.ref, runUrl: p.runUrl },
      { commit: dirty?.commit, dirty: true, ref: 'refs/heads/main', runUrl: undefined },
    );
  });
  it('is undefined outside a checkout', async () => {
    assert.equal(await readLocalGit(mkdtempSync(path.join(tmpdir(), 'nogit-'))), undefined);
  });
  it("on a runner takes the run's commit and link; the tree state only when the checkout is at that commit", async () => {
    const dir = checkout();
    const local = await readLocalGit(dir);
    const env = { GITHUB_SHA: 'f'.repeat(40), GITHUB_REPOSITORY: 'acme/ml', GITHUB_RUN_ID: '7', GITHUB_REF: 'refs/heads/x' };
    const other = provenanceOf(githubContextFrom(env, {}), local);
    assert.deepEqual(
      { commit: other.commit, dirty: other.dirty, runUrl: other.runUrl, ref: other.ref },
      { commit: 'f'.repeat(40), dirty: undefined, runUrl: 'https://github.com/acme/ml/actions/runs/7', ref: 'refs/heads/x' },
    );
    const same = provenanceOf(githubContextFrom({ ...env, GITHUB_SHA: local!.commit }, {}), local);
    assert.equal(same.dirty, false);
  });
});

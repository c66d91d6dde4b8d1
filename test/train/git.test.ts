/**
 * `modelship train` from a local git checkout (no GitHub context): the door reads the checkout's
 * HEAD and tree state, and the model's modelship.json records them (git.commit, git.dirty).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ModelMetadata } from '../../shared/model/metadata.ts';
import { noInterrupt, runCli } from '../helpers/cli.ts';
import { writeSyntheticDataset } from './synthetic.ts';

/** A checkout with one commit of a tracked file, user name and email set in it. */
async function checkout(dir: string): Promise<(...args: string[]) => string> {
  const git = (...args: string[]): string => execFileSync('git', args, { cwd: dir }).toString().trim();
  git('init', '-q', '-b', 'main');
  git('config', 'user.name', 'Test');
  git('config', 'user.email', 'test@example.com');
  await writeFile(path.join(dir, 'train.yml'), 'epochs: 1\n');
  git('add', 'train.yml');
  git('commit', '-q', '-m', 'one');
  return git;
}

describe('train from a local checkout records its commit and tree state in modelship.json', () => {
  let root = '';
  let dataset = '';
  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'modelship-train-git-'));
    dataset = await writeSyntheticDataset(path.join(root, 'data'), { kind: 'tabular', counts: [30, 15, 15], size: 4 });
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const cases: { name: string; change: (repo: string) => Promise<void>; dirty: boolean }[] = [
    {
      name: 'a clean tree: dirty false (the model folder it writes is untracked and does not count)',
      change: async () => {},
      dirty: false,
    },
    {
      name: 'only an untracked file added: dirty false',
      change: (repo) => writeFile(path.join(repo, 'notes.txt'), 'scratch\n'),
      dirty: false,
    },
    {
      name: 'a tracked file modified: dirty true',
      change: (repo) => writeFile(path.join(repo, 'train.yml'), 'epochs: 2\n'),
      dirty: true,
    },
  ];

  for (const [i, c] of cases.entries()) {
    it(c.name, async () => {
      const repo = path.join(root, `repo-${i}`);
      await mkdir(repo);
      const git = await checkout(repo);
      await c.change(repo);
      const r = await runCli(
        [
          'train',
          '--dataset',
          dataset,
          '--architecture',
          'mlp',
          '--epochs',
          '1',
          '--backend',
          'cpu',
          '--output-dir',
          'model',
          '--name',
          'tiny',
        ],
        { cwd: repo, env: {}, services: noInterrupt },
      );
      assert.equal(r.code, 0, r.err);
      const metadata = JSON.parse(await readFile(path.join(repo, 'model', 'modelship.json'), 'utf8')) as ModelMetadata;
      assert.deepEqual(
        { commit: metadata.git.commit, dirty: metadata.git.dirty, ref: metadata.git.ref },
        { commit: git('rev-parse', 'HEAD'), dirty: c.dirty, ref: 'refs/heads/main' },
      );
      assert.match(metadata.git.commit ?? '', /^[0-9a-f]{40}$/);
    });
  }
});

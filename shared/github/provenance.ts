/**
 * Where a run comes from, recorded with every model and version: the commit (and whether the
 * working tree had changes not in it), the ref, the repository and the workflow run. On a runner
 * the GitHub context says it; from a local checkout, git does. Built by the doors, once, and
 * handed to the domains, which never read the environment for it.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Provenance } from '../util/index.ts';
import type { GithubContext } from './context.ts';

export type { Provenance };

export interface LocalGit {
  readonly commit: string;
  readonly dirty: boolean;
  readonly ref?: string;
}

const run = promisify(execFile);

/** The checkout `cwd` is in: HEAD, whether tracked files changed, the branch. Undefined outside a git checkout (or without git). */
export async function readLocalGit(cwd: string): Promise<LocalGit | undefined> {
  const git = async (...args: string[]): Promise<string | undefined> => {
    try {
      return (await run('git', args, { cwd, timeout: 10_000, windowsHide: true })).stdout.trim();
    } catch {
      return undefined;
    }
  };
  const commit = await git('rev-parse', '--verify', '-q', 'HEAD');
  if (!commit || !/^[0-9a-f]{40,64}$/.test(commit)) return undefined;
  const [status, branch] = await Promise.all([git('status', '--porcelain', '--untracked-files=no'), git('symbolic-ref', '-q', 'HEAD')]);
  return { commit, dirty: status === undefined ? false : status !== '', ...(branch ? { ref: branch } : {}) };
}

/** The run's provenance: the GitHub context where there is one, the local checkout for the rest. Pure. */
export function provenanceOf(context: GithubContext, local: LocalGit | undefined): Provenance {
  const repository = context.repository ? `${context.repository.owner}/${context.repository.repo}` : undefined;
  const commit = context.sha ?? local?.commit;
  // The tree state belongs to the commit only when the checkout is at that commit.
  const dirty = local && commit === local.commit ? local.dirty : undefined;
  const ref = context.ref ?? local?.ref;
  return {
    ...(commit ? { commit } : {}),
    ...(dirty !== undefined ? { dirty } : {}),
    ...(ref ? { ref } : {}),
    ...(repository ? { repository } : {}),
    serverUrl: context.serverUrl,
    ...(context.runUrl ? { runUrl: context.runUrl } : {}),
    ...(context.runId ? { runId: context.runId } : {}),
    ...(context.runAttempt ? { runAttempt: context.runAttempt } : {}),
    ...(context.workflow ? { workflow: context.workflow } : {}),
  };
}

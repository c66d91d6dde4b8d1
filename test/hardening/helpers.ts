/**
 * Support for the hardening tests: the CLI as a user runs it (main() with its own stdout and
 * stderr), and a snapshot of a folder tree to show that a refused run left nothing behind.
 */
import { lstat, mkdtemp, readdir, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli, type CliRun } from '../helpers/cli.ts';

export type { CliRun };

export async function cli(argv: readonly string[], cwd: string, env: Readonly<Record<string, string | undefined>> = {}): Promise<CliRun> {
  return runCli(argv, { cwd, env });
}

/**
 * Every entry under `root` (dotfiles included, links not followed): `path` for folders, `path size`
 * for files, `path -> target` for links, `path (fifo)` and the like for special files.
 */
export async function snapshot(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const e of (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const abs = path.join(dir, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isSymbolicLink()) out.push(`${r} -> ${await readlink(abs)}`);
      else if (e.isDirectory()) {
        out.push(`${r}/`);
        await walk(abs, r);
      } else if (e.isFile()) out.push(`${r} ${(await lstat(abs)).size}`);
      else out.push(`${r} (special)`);
    }
  };
  await walk(root, '');
  return out;
}

const made: string[] = [];

export async function tempDir(prefix = 'ms-harden-'): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export async function removeTempDirs(): Promise<void> {
  await Promise.all(made.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

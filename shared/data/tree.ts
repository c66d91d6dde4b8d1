/** Listing a source folder: files and folders, relative, sorted, hidden entries skipped. */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

export interface Listing {
  readonly files: string[];
  readonly dirs: string[];
}

/** Names that are never data: dotfiles (.DS_Store, .git) and macOS archive leftovers. */
export function isIgnoredName(name: string): boolean {
  return name.startsWith('.') || name === '__MACOSX' || name === 'Thumbs.db';
}

/** Deep enough for any data layout, shallow enough to stop a symlink loop. */
const MAX_DEPTH = 32;

export async function listTree(root: string): Promise<Listing> {
  const files: string[] = [];
  const dirs: string[] = [];
  const walk = async (dir: string, rel: string, depth: number): Promise<void> => {
    if (depth > MAX_DEPTH) return;
    const entries = await readdir(dir, { withFileTypes: true });
    for (const e of entries) {
      if (isIgnoredName(e.name)) continue;
      const abs = path.join(dir, e.name);
      const r = rel ? `${rel}/${e.name}` : e.name;
      let isDir = e.isDirectory();
      let isFile = e.isFile();
      if (e.isSymbolicLink()) {
        const st = await stat(abs).catch(() => undefined);
        isDir = st?.isDirectory() ?? false;
        isFile = st?.isFile() ?? false;
      }
      if (isDir) {
        dirs.push(r);
        await walk(abs, r, depth + 1);
      } else if (isFile) {
        files.push(r);
      }
    }
  };
  await walk(root, '', 0);
  const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  return { files: files.sort(byCodePoint), dirs: dirs.sort(byCodePoint) };
}

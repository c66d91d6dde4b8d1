import { createHash, hash, randomBytes } from 'node:crypto';
import { constants as fsConstants, type Stats } from 'node:fs';
import { lstat, mkdir, open, readdir, readlink, rename, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { ConfigurationError } from './errors.ts';

/**
 * Writes a file so that readers see the old content or the new, never a torn one:
 * a temporary file beside it, fsync, rename.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

export async function writeJsonAtomic(file: string, value: unknown): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Builds a folder in a temporary sibling and renames it into place when `build` succeeds, so a
 * failure leaves nothing half-written and an existing folder untouched until the new one is whole.
 */
export async function buildDirAtomic<T>(dir: string, build: (tmpDir: string) => Promise<T>): Promise<T> {
  const parent = path.dirname(path.resolve(dir));
  await mkdir(parent, { recursive: true });
  const tmp = path.join(parent, `.${path.basename(dir)}.${process.pid}.${randomBytes(4).toString('hex')}.partial`);
  await mkdir(tmp, { recursive: true });
  try {
    const result = await build(tmp);
    const old = `${tmp}.old`;
    let moved = false;
    try {
      await rename(dir, old);
      moved = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    await rename(tmp, dir);
    if (moved) await rm(old, { recursive: true, force: true });
    return result;
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function sha256File(file: string): Promise<{ hex: string; size: number }> {
  const fh = await open(file, 'r');
  try {
    return await sha256Handle(fh);
  } finally {
    await fh.close();
  }
}

/** True when `child` is `parent` or lies inside it (after resolving both). */
export function isInside(parent: string, child: string): boolean {
  const rel = path.relative(path.resolve(parent), path.resolve(child));
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

// ---- reading folders safely ---------------------------------------------------------------------

/**
 * A folder whose files are read: model folders, checkpoints, data set folders, source folders.
 * `label` names it in errors ("model folder 'out/model'"); `shown` is how its path is printed.
 */
export interface Folder {
  readonly root: string;
  readonly label: string;
  readonly shown: string;
}

/** A folder to read, named for errors as `<what> '<shown>'`. */
export function folder(root: string, what: string, shown: string = root): Folder {
  return { root: path.resolve(root), label: `${what} '${shown}'`, shown };
}

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK } = fsConstants;
/** Never follows a link in the last component, and never blocks on a FIFO (it is refused after fstat). */
const SAFE_OPEN = O_RDONLY | (O_NOFOLLOW ?? 0) | (O_NONBLOCK ?? 0);

/** What a directory entry is, for people: 'a symbolic link', 'a named pipe (FIFO)' … */
export function fileKind(
  st: Pick<Stats, 'isFile' | 'isDirectory' | 'isSymbolicLink' | 'isFIFO' | 'isSocket' | 'isCharacterDevice' | 'isBlockDevice'>,
): string {
  if (st.isFile()) return 'a regular file';
  if (st.isDirectory()) return 'a folder';
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'a special file';
}

/** The refusal of an entry that is not a regular file (or, for `dir`, a folder) inside `f`. */
export async function notRegular(f: Folder, rel: string, st: Stats, want: 'file' | 'folder' = 'file'): Promise<ConfigurationError> {
  const abs = path.join(f.root, rel);
  const shownPath = path.join(f.shown, rel);
  let kind = fileKind(st);
  if (st.isSymbolicLink()) {
    const target = await readlink(abs).catch(() => undefined);
    if (target !== undefined) kind += ` (to ${target})`;
  }
  const link = st.isSymbolicLink();
  return new ConfigurationError(
    `${f.label} has '${rel}', ${kind}; only regular files inside the folder are read${link ? ', never what a link points to' : ''}.`,
    link
      ? `Replace ${shownPath} with the ${want} itself (copy it in place of the link), or remove it.`
      : `Remove ${shownPath}, or replace it with a regular ${want}.`,
  );
}

function checkRelative(f: Folder, rel: string): string[] {
  const parts = rel.split(/[\\/]/).filter((p) => p !== '' && p !== '.');
  if (path.isAbsolute(rel) || parts.includes('..') || parts.length === 0) {
    throw new ConfigurationError(
      `${f.label}: '${rel}' is not a path inside the folder.`,
      `Name files inside ${f.shown} by relative paths.`,
    );
  }
  return parts;
}

/**
 * The lstat of `rel` inside the folder, after checking that no folder on the way is a link.
 * Undefined when it does not exist; a ConfigurationError when something on the way is not a folder.
 */
async function lstatInside(f: Folder, rel: string): Promise<Stats | undefined> {
  const parts = checkRelative(f, rel);
  let at = f.root;
  for (let i = 0; i < parts.length; i++) {
    at = path.join(at, parts[i]);
    let st: Stats;
    try {
      st = await lstat(at);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
      throw err;
    }
    if (i === parts.length - 1) return st;
    if (!st.isDirectory()) throw await notRegular(f, parts.slice(0, i + 1).join('/'), st, 'folder');
  }
  return undefined;
}

/**
 * Checks `rel` is a regular file inside the folder (no link on the way, no special file) and
 * returns its lstat, or undefined when it does not exist.
 */
export async function statInside(f: Folder, rel: string): Promise<Stats | undefined> {
  const st = await lstatInside(f, rel);
  if (st && !st.isFile()) throw await notRegular(f, rel, st);
  return st;
}

/** Opens a file for reading without following a link and refuses anything but a regular file. */
async function openRegular(abs: string, onRefused: (st: Stats) => Promise<Error>): Promise<FileHandle> {
  let fh: FileHandle;
  try {
    fh = await open(abs, SAFE_OPEN);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') throw await onRefused(await lstat(abs));
    throw err;
  }
  const st = await fh.stat();
  if (!st.isFile()) {
    await fh.close();
    throw await onRefused(st);
  }
  return fh;
}

/**
 * Opens `rel` inside the folder for reading: a regular file, reached through no link. A missing
 * file throws the usual ENOENT error; a link or a special file a ConfigurationError naming it.
 */
export async function openInside(f: Folder, rel: string): Promise<FileHandle> {
  const st = await statInside(f, rel);
  const abs = path.join(f.root, ...checkRelative(f, rel));
  if (!st) {
    const err = new Error(`ENOENT: no such file, open '${abs}'`) as NodeJS.ErrnoException;
    err.code = 'ENOENT';
    throw err;
  }
  return openRegular(abs, (s) => notRegular(f, rel, s));
}

/** The bytes of a regular file inside the folder (see openInside). */
export async function readFileInside(f: Folder, rel: string): Promise<Buffer> {
  const fh = await openInside(f, rel);
  try {
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

/** The text of a regular file inside the folder (see openInside). */
export async function readTextInside(f: Folder, rel: string): Promise<string> {
  return (await readFileInside(f, rel)).toString('utf8');
}

/** sha256 and size of a regular file inside the folder, streamed (see openInside). */
export async function sha256Inside(f: Folder, rel: string): Promise<{ hex: string; size: number }> {
  const fh = await openInside(f, rel);
  try {
    return await sha256Handle(fh);
  } finally {
    await fh.close();
  }
}

/** Bytes read per call when hashing: large reads keep the hash, not the syscalls, the bottleneck. */
export const HASH_READ_SIZE = 4 << 20;

/**
 * sha256 and size of an open file, from its current position: a file smaller than one block in
 * one read and a one-shot hash (many small images), a larger one in HASH_READ_SIZE blocks through
 * one reused buffer.
 */
export async function sha256Handle(fh: FileHandle): Promise<{ hex: string; size: number }> {
  const { size: statSize } = await fh.stat();
  if (statSize < HASH_READ_SIZE) {
    const data = await fh.readFile();
    return { hex: hash('sha256', data), size: data.length };
  }
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(HASH_READ_SIZE);
  let size = 0;
  for (;;) {
    const { bytesRead } = await fh.read(buf, 0, buf.length, null);
    if (bytesRead === 0) break;
    h.update(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
    size += bytesRead;
  }
  return { hex: h.digest('hex'), size };
}

/**
 * Opens a file named by absolute path (one a listing of its folder found regular) without
 * following a link, refusing a special file: the check for files read in bulk.
 */
export async function openRegularFile(abs: string, f?: Folder): Promise<FileHandle> {
  return openRegular(abs, async (st) =>
    f
      ? notRegular(f, path.relative(f.root, abs), st)
      : new ConfigurationError(`'${abs}' is ${fileKind(st)}; only regular files are read.`, `Replace it with a regular file.`),
  );
}

export interface FolderListing {
  /** Regular files, relative with '/' separators, sorted by code point. */
  readonly files: string[];
  /** Folders, likewise (empty ones included). */
  readonly dirs: string[];
}

/**
 * Every regular file and folder under the folder (entries `skip` names are left out, with what is
 * under them). Anything else (a symbolic link, a FIFO, a socket, a device) is refused with a
 * ConfigurationError naming it: a listing never leads out of the folder.
 */
export async function listInside(f: Folder, opts: { skip?: (name: string) => boolean; maxDepth?: number } = {}): Promise<FolderListing> {
  const files: string[] = [];
  const dirs: string[] = [];
  const maxDepth = opts.maxDepth ?? 64;
  const walk = async (dir: string, rel: string, depth: number): Promise<void> => {
    if (depth > maxDepth) {
      throw new ConfigurationError(`${f.label} is nested more than ${maxDepth} folders deep at '${rel}'.`, 'Flatten the folder layout.');
    }
    for (const e of await readdir(dir, { withFileTypes: true })) {
      if (opts.skip?.(e.name)) continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        dirs.push(r);
        await walk(path.join(dir, e.name), r, depth + 1);
      } else if (e.isFile()) {
        files.push(r);
      } else {
        throw await notRegular(f, r, await lstat(path.join(dir, e.name)));
      }
    }
  };
  await walk(f.root, '', 0);
  const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  return { files: files.sort(byCodePoint), dirs: dirs.sort(byCodePoint) };
}

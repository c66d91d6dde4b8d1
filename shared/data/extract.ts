/**
 * Safe archive extraction (.zip with yauzl, .tar/.tar.gz/.tgz with tar).
 *
 * Every entry is checked before anything is written: no `../` segments, no absolute paths, no
 * links (symbolic or hard) whose target leaves the destination, no device files, and the archive
 * as a whole stays under an entry count and an expanded size. The destination is built in a
 * temporary sibling and renamed into place, so a refused or broken archive leaves nothing behind.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdir, readdir, readlink, realpath, symlink } from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import yauzl from 'yauzl';
import { buildDirAtomic, ConfigurationError, formatBytes, isInside } from '../util/index.ts';

/** Largest expanded size an archive may have (20 GiB). */
export const MAX_ARCHIVE_BYTES = 20 * 2 ** 30;
/** Most entries an archive may have. */
export const MAX_ARCHIVE_ENTRIES = 1_000_000;

export interface ExtractLimits {
  readonly maxBytes: number;
  readonly maxEntries: number;
}

export const DEFAULT_LIMITS: ExtractLimits = { maxBytes: MAX_ARCHIVE_BYTES, maxEntries: MAX_ARCHIVE_ENTRIES };

export type ArchiveKind = 'zip' | 'tar' | 'tar.gz';

/** The archive kind from the file name, or undefined for a plain file. */
export function archiveKind(file: string): ArchiveKind | undefined {
  const name = file.toLowerCase();
  if (name.endsWith('.zip')) return 'zip';
  if (name.endsWith('.tar.gz') || name.endsWith('.tgz')) return 'tar.gz';
  if (name.endsWith('.tar')) return 'tar';
  return undefined;
}

function refuse(archive: string, what: string): ConfigurationError {
  return new ConfigurationError(
    `archive '${path.basename(archive)}' ${what}; nothing was extracted.`,
    'Repack the archive with plain relative paths inside one folder, or unpack it yourself and pass the folder as source.',
  );
}

/**
 * Checks an entry name: relative, no `..` segment, no NUL. Returns the normalised relative path
 * ('' for the archive root, e.g. `./`).
 */
export function checkEntryName(archive: string, name: string): string {
  if (name.includes('\0')) throw refuse(archive, `has an entry name with a NUL byte`);
  if (name.startsWith('/') || /^[a-zA-Z]:/.test(name) || name.startsWith('\\')) {
    throw refuse(archive, `has an entry with an absolute path '${name}'`);
  }
  const parts = name.split(/[/\\]/);
  if (parts.includes('..')) throw refuse(archive, `has an entry '${name}' that climbs out with '..'`);
  return parts.filter((p) => p !== '' && p !== '.').join('/');
}

/** Checks a link target: relative to the link's folder (symlink) or to the root (hardlink), staying inside. */
export function checkLinkTarget(archive: string, entry: string, target: string, hard: boolean): void {
  if (target.startsWith('/') || /^[a-zA-Z]:/.test(target) || target.startsWith('\\')) {
    throw refuse(archive, `has a link '${entry}' to an absolute path '${target}'`);
  }
  const base = hard ? '' : path.posix.dirname(entry);
  const resolved = path.posix.normalize(path.posix.join(base, target.replace(/\\/g, '/')));
  if (resolved === '..' || resolved.startsWith('../')) {
    throw refuse(archive, `has a link '${entry}' to '${target}', outside the archive`);
  }
}

interface Budget {
  entries: number;
  bytes: number;
}

function spend(archive: string, budget: Budget, limits: ExtractLimits, bytes: number): void {
  budget.entries += 1;
  budget.bytes += bytes;
  if (budget.entries > limits.maxEntries) throw refuse(archive, `has more than ${limits.maxEntries.toLocaleString('en-US')} entries`);
  if (budget.bytes > limits.maxBytes) throw refuse(archive, `expands to more than ${formatBytes(limits.maxBytes)}`);
}

/** Extracts `archive` into `dest` (replaced atomically), after checking every entry. */
export async function extractArchive(archive: string, dest: string, limits: ExtractLimits = DEFAULT_LIMITS): Promise<void> {
  const kind = archiveKind(archive);
  if (!kind) throw new ConfigurationError(`'${archive}' is not a .zip, .tar, .tar.gz or .tgz archive.`);
  await buildDirAtomic(dest, async (tmp) => {
    if (kind === 'zip') await extractZip(archive, tmp, limits);
    else await extractTar(archive, tmp, limits);
    await checkLinksInside(archive, tmp);
  });
}

// ---- tar ---------------------------------------------------------------------------------------

const TAR_ALLOWED = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory', 'SymbolicLink', 'Link']);

async function scanTar(archive: string, limits: ExtractLimits): Promise<void> {
  const budget: Budget = { entries: 0, bytes: 0 };
  let problem: ConfigurationError | undefined;
  const parser = new tar.Parser({
    strict: true,
    onReadEntry: (entry) => {
      try {
        if (problem === undefined) {
          const name = checkEntryName(archive, entry.path);
          if (!TAR_ALLOWED.has(entry.type))
            throw refuse(archive, `has a ${entry.type} entry '${entry.path}' (only files, folders and links are allowed)`);
          if (entry.type === 'SymbolicLink' || entry.type === 'Link') {
            checkLinkTarget(archive, name, entry.linkpath ?? '', entry.type === 'Link');
          }
          spend(archive, budget, limits, entry.type === 'Directory' ? 0 : entry.size);
        }
      } catch (err) {
        problem = err instanceof ConfigurationError ? err : brokenArchive(archive, err);
        input.destroy(problem);
      }
      entry.resume();
    },
  });
  const input = createReadStream(archive);
  try {
    await pipeline(input, parser);
  } catch (err) {
    throw problem ?? brokenArchive(archive, err);
  }
  if (problem) throw problem;
}

function brokenArchive(archive: string, err: unknown): ConfigurationError {
  return new ConfigurationError(
    `archive '${path.basename(archive)}' cannot be read (${(err as Error).message}); nothing was extracted.`,
    'Check that the file is a complete, uncorrupted archive (download it again).',
    { cause: err },
  );
}

async function extractTar(archive: string, dest: string, limits: ExtractLimits): Promise<void> {
  await scanTar(archive, limits);
  try {
    await tar.x({
      file: archive,
      cwd: dest,
      strict: true,
      preservePaths: false,
      preserveOwner: false,
      filter: (_p, entry) => 'type' in entry && TAR_ALLOWED.has(entry.type),
    });
  } catch (err) {
    if ((err as { code?: string }).code === 'TAR_SYMLINK_ERROR') {
      throw refuse(archive, 'has an entry that would be written through a link');
    }
    throw brokenArchive(archive, err);
  }
}

// ---- zip ---------------------------------------------------------------------------------------

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

function zipEntryName(entry: yauzl.Entry): string {
  return yauzl.getFileNameLowLevel(entry.generalPurposeBitFlag, entry.fileNameRaw, entry.extraFields, false);
}

function isZipSymlink(entry: yauzl.Entry): boolean {
  const madeBy = entry.versionMadeBy >> 8;
  return madeBy === 3 && ((entry.externalFileAttributes >>> 16) & S_IFMT) === S_IFLNK;
}

async function openZip(archive: string): Promise<yauzl.ZipFile> {
  try {
    return await yauzl.openPromise(archive, { lazyEntries: true, decodeStrings: false, validateEntrySizes: true, autoClose: true });
  } catch (err) {
    throw brokenArchive(archive, err);
  }
}

async function extractZip(archive: string, dest: string, limits: ExtractLimits): Promise<void> {
  // Pass 1 reads only the central directory: names, kinds and declared sizes (yauzl checks the
  // real sizes against these while inflating, so a lying header fails the extraction).
  const scan = await openZip(archive);
  if (scan.entryCount > limits.maxEntries) {
    scan.close();
    throw refuse(archive, `has more than ${limits.maxEntries.toLocaleString('en-US')} entries`);
  }
  const budget: Budget = { entries: 0, bytes: 0 };
  try {
    for await (const entry of scan.eachEntry()) {
      checkEntryName(archive, zipEntryName(entry));
      spend(archive, budget, limits, entry.uncompressedSize);
    }
  } catch (err) {
    if (err instanceof ConfigurationError) throw err;
    throw brokenArchive(archive, err);
  } finally {
    scan.close();
  }
  // Pass 2 writes files and folders; links are made last, once every file is in place, so nothing
  // is ever written through a link (a chain of links that each look inside can still lead out).
  const links: { name: string; target: string; link: string }[] = [];
  const zip = await openZip(archive);
  try {
    for await (const entry of zip.eachEntry()) {
      const name = checkEntryName(archive, zipEntryName(entry));
      if (name === '') continue;
      const target = path.join(dest, name);
      if (!isInside(dest, target)) throw refuse(archive, `has an entry '${name}' outside the destination`);
      if (/\/$/.test(zipEntryName(entry))) {
        await mkdir(target, { recursive: true });
        continue;
      }
      await mkdir(path.dirname(target), { recursive: true });
      const stream = await zip.openReadStreamPromise(entry);
      if (isZipSymlink(entry)) {
        const chunks: Buffer[] = [];
        for await (const c of stream) chunks.push(c as Buffer);
        const link = Buffer.concat(chunks).toString('utf8');
        checkLinkTarget(archive, name, link, false);
        links.push({ name, target, link });
      } else {
        let written = 0;
        const guard = new Transform({
          transform(chunk: Buffer, _enc, cb) {
            written += chunk.length;
            if (written > entry.uncompressedSize) cb(refuse(archive, `has an entry '${name}' larger than its header says`));
            else cb(null, chunk);
          },
        });
        await pipeline(stream, guard, createWriteStream(target, { flags: 'wx' }));
      }
    }
  } catch (err) {
    if (err instanceof ConfigurationError) throw err;
    throw brokenArchive(archive, err);
  } finally {
    zip.close();
  }
  for (const { name, target, link } of links) {
    try {
      await symlink(link, target);
    } catch (err) {
      throw refuse(archive, `has a link '${name}' that clashes with another entry (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
}

// ---- after extraction --------------------------------------------------------------------------

/** Belt and braces: every link in the extracted tree must resolve inside it. */
async function checkLinksInside(archive: string, root: string): Promise<void> {
  const realRoot = await realpath(root);
  const walk = async (dir: string): Promise<void> => {
    for (const ent of await readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, ent.name);
      if (ent.isSymbolicLink()) {
        let real: string;
        try {
          real = await realpath(p);
        } catch {
          throw refuse(archive, `has a link '${path.relative(root, p)}' to '${await readlink(p)}', which does not resolve`);
        }
        if (!isInside(realRoot, real)) throw refuse(archive, `has a link '${path.relative(root, p)}' that leaves the destination`);
      } else if (ent.isDirectory()) {
        await walk(p);
      } else if (!ent.isFile()) {
        const st = await lstat(p);
        throw refuse(archive, `has a special file '${path.relative(root, p)}' (mode ${st.mode.toString(8)})`);
      }
    }
  };
  await walk(root);
}

/**
 * Safe archive extraction (.zip with yauzl, .tar/.tar.gz/.tgz with tar).
 *
 * Every entry is checked before anything is written: no `../` segments, no absolute paths, no
 * symbolic links (setup-data reads regular files only, see util/fs.ts), no hard links whose
 * target leaves the destination, no device files. The archive as a whole stays under an entry
 * count, an expanded size and an expansion ratio (limits.ts), counted as it streams: a zip's
 * central directory is checked before anything is inflated, a tar's stream is metered as it is
 * decompressed, and the first limit crossed stops the work at once. The destination is built in a
 * temporary sibling and renamed into place, so a refused or broken archive leaves nothing behind.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdir, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar';
import yauzl from 'yauzl';
import { buildDirAtomic, ConfigurationError, fileKind, formatBytes, isInside } from '../util/index.ts';
import { DEFAULT_DATA_LIMITS, LIMIT_INPUTS, RATIO_GRACE_BYTES, suggestSize } from './limits.ts';

export interface ExtractLimits {
  /** Largest total expanded size, in bytes (input max-expanded-size). */
  readonly maxBytes: number;
  /** Most entries (input max-entries). */
  readonly maxEntries: number;
  /** Largest expanded size over archive size (input max-expansion-ratio). */
  readonly maxRatio: number;
}

export const DEFAULT_LIMITS: ExtractLimits = {
  maxBytes: DEFAULT_DATA_LIMITS.maxExpandedSize,
  maxEntries: DEFAULT_DATA_LIMITS.maxEntries,
  maxRatio: DEFAULT_DATA_LIMITS.maxExpansionRatio,
};

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

/** A hard link's target (relative to the archive root) must stay inside the archive. */
export function checkLinkTarget(archive: string, entry: string, target: string): void {
  if (target.startsWith('/') || /^[a-zA-Z]:/.test(target) || target.startsWith('\\')) {
    throw refuse(archive, `has a link '${entry}' to an absolute path '${target}'`);
  }
  const resolved = path.posix.normalize(target.replace(/\\/g, '/'));
  if (resolved === '..' || resolved.startsWith('../')) {
    throw refuse(archive, `has a link '${entry}' to '${target}', outside the archive`);
  }
}

/** A symbolic link in an archive: refused, as everywhere setup-data reads (util/fs.ts). */
function symlinkRefused(archive: string, entry: string, target?: string): ConfigurationError {
  return new ConfigurationError(
    `archive '${path.basename(archive)}' has a symbolic link '${entry}'${target !== undefined ? ` (to '${target}')` : ''}; setup-data reads regular files only, never what a link points to; nothing was extracted.`,
    'Repack the archive with the files themselves in place of links (tar --dereference, or zip without -y).',
  );
}

/** Entries and bytes spent so far, against the limits. */
interface Budget {
  entries: number;
  bytes: number;
  /** The size the ratio allows (at least RATIO_GRACE_BYTES). */
  readonly ratioBytes: number;
  readonly archiveSize: number;
}

function budgetFor(archiveSize: number, limits: ExtractLimits): Budget {
  return { entries: 0, bytes: 0, ratioBytes: Math.max(RATIO_GRACE_BYTES, limits.maxRatio * archiveSize), archiveSize };
}

function overLimit(archive: string, what: string, input: string, value: string): ConfigurationError {
  return new ConfigurationError(
    `archive '${path.basename(archive)}' ${what} (input '${input}'); it was refused as soon as it got there, and nothing was extracted.`,
    `If the data set is really that large, raise ${input} (e.g. ${input}: ${value}); otherwise the archive is not what it claims to be (an archive bomb).`,
  );
}

/** Checks the bytes counted so far (declared sizes, or bytes decompressed) against the size and ratio limits. */
function checkBytes(archive: string, budget: Budget, limits: ExtractLimits, bytes: number): void {
  if (bytes > limits.maxBytes) {
    throw overLimit(
      archive,
      `expands to more than ${formatBytes(limits.maxBytes)}`,
      LIMIT_INPUTS.maxExpandedSize,
      suggestSize(limits.maxBytes * 2),
    );
  }
  if (bytes > budget.ratioBytes) {
    throw overLimit(
      archive,
      `expands past ${formatBytes(budget.ratioBytes)}, more than ${limits.maxRatio} times its own ${formatBytes(budget.archiveSize)}`,
      LIMIT_INPUTS.maxExpansionRatio,
      String(limits.maxRatio * 10),
    );
  }
}

function checkEntries(archive: string, limits: ExtractLimits, entries: number): void {
  if (entries > limits.maxEntries) {
    throw overLimit(
      archive,
      `has more than ${limits.maxEntries.toLocaleString('en-US')} entries`,
      LIMIT_INPUTS.maxEntries,
      String(Math.max(limits.maxEntries * 2, entries)),
    );
  }
}

function spend(archive: string, budget: Budget, limits: ExtractLimits, bytes: number): void {
  budget.entries += 1;
  budget.bytes += bytes;
  checkEntries(archive, limits, budget.entries);
  checkBytes(archive, budget, limits, budget.bytes);
}

/** Extracts `archive` into `dest` (replaced atomically), after checking every entry. */
export async function extractArchive(archive: string, dest: string, limits: ExtractLimits = DEFAULT_LIMITS): Promise<void> {
  const kind = archiveKind(archive);
  if (!kind) throw new ConfigurationError(`'${archive}' is not a .zip, .tar, .tar.gz or .tgz archive.`);
  const size = (await stat(archive)).size;
  await buildDirAtomic(dest, async (tmp) => {
    if (kind === 'zip') await extractZip(archive, tmp, limits, size);
    else await extractTar(archive, kind, tmp, limits, size);
    await checkRegularInside(archive, tmp);
  });
}

// ---- tar ---------------------------------------------------------------------------------------

const TAR_ALLOWED = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory', 'Link']);

/**
 * Pass 1: every header, before anything is written. The decompressed stream is metered as it flows
 * (so a gzip bomb of empty blocks stops too), and the declared entry sizes are summed; the first
 * limit crossed destroys the stream.
 */
async function scanTar(archive: string, kind: ArchiveKind, limits: ExtractLimits, size: number): Promise<void> {
  const budget = budgetFor(size, limits);
  let problem: ConfigurationError | undefined;
  const input = createReadStream(archive);
  const stop = (err: unknown): void => {
    problem ??= err instanceof ConfigurationError ? err : brokenArchive(archive, err);
    input.destroy(problem);
  };
  const parser = new tar.Parser({
    strict: true,
    onReadEntry: (entry) => {
      try {
        if (problem === undefined) {
          const name = checkEntryName(archive, entry.path);
          if (entry.type === 'SymbolicLink') throw symlinkRefused(archive, name, entry.linkpath ?? '');
          if (!TAR_ALLOWED.has(entry.type))
            throw refuse(archive, `has a ${entry.type} entry '${entry.path}' (only files, folders and hard links are allowed)`);
          if (entry.type === 'Link') checkLinkTarget(archive, name, entry.linkpath ?? '');
          spend(archive, budget, limits, entry.type === 'Directory' ? 0 : entry.size);
        }
      } catch (err) {
        stop(err);
      }
      entry.resume();
    },
  });
  let raw = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      raw += chunk.length;
      try {
        checkBytes(archive, budget, limits, raw);
        cb(null, chunk);
      } catch (err) {
        stop(err);
        cb(problem);
      }
    },
  });
  try {
    if (kind === 'tar.gz') await pipeline(input, createGunzip(), meter, parser);
    else await pipeline(input, meter, parser);
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

async function extractTar(archive: string, kind: ArchiveKind, dest: string, limits: ExtractLimits, size: number): Promise<void> {
  await scanTar(archive, kind, limits, size);
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

async function extractZip(archive: string, dest: string, limits: ExtractLimits, size: number): Promise<void> {
  // Pass 1 reads only the central directory: the entry count (from its end record, before any
  // entry), names, kinds and declared sizes. yauzl checks the real sizes against these while
  // inflating, so a header that lies fails the extraction; nothing is inflated until all fit.
  const scan = await openZip(archive);
  try {
    checkEntries(archive, limits, scan.entryCount);
    const budget = budgetFor(size, limits);
    for await (const entry of scan.eachEntry()) {
      const name = checkEntryName(archive, zipEntryName(entry));
      if (isZipSymlink(entry)) throw symlinkRefused(archive, name);
      spend(archive, budget, limits, entry.uncompressedSize);
    }
  } catch (err) {
    if (err instanceof ConfigurationError) throw err;
    throw brokenArchive(archive, err);
  } finally {
    scan.close();
  }
  // Pass 2 writes files and folders, each created fresh ('wx': never through an existing entry).
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
      if (isZipSymlink(entry)) throw symlinkRefused(archive, name);
      await mkdir(path.dirname(target), { recursive: true });
      const stream = await zip.openReadStreamPromise(entry);
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
  } catch (err) {
    if (err instanceof ConfigurationError) throw err;
    throw brokenArchive(archive, err);
  } finally {
    zip.close();
  }
}

// ---- after extraction --------------------------------------------------------------------------

/** Belt and braces: the extracted tree holds regular files and folders only. */
async function checkRegularInside(archive: string, root: string): Promise<void> {
  const walk = async (dir: string): Promise<void> => {
    for (const ent of await readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, ent.name);
      if (ent.isDirectory()) await walk(p);
      else if (!ent.isFile()) {
        throw refuse(archive, `has '${path.relative(root, p)}', ${fileKind(await lstat(p))}, where only files and folders may be`);
      }
    }
  };
  await walk(root);
}

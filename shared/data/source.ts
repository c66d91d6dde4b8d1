/**
 * Where the data comes from: a folder, a single file, an archive or an https:// URL. Downloads are
 * streamed to disk and verified; archives are extracted safely into a work folder keyed by their
 * sha256, so a second run with the same archive reuses the extraction.
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { lstat, readdir, realpath, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ConfigurationError, fileKind, formatBytes, type Logger, ModelshipError } from '../util/index.ts';
import { archiveKind, extractArchive } from './extract.ts';
import { DEFAULT_DATA_LIMITS, LIMIT_INPUTS, suggestSize, type DataLimits } from './limits.ts';
import type { StatCache } from './state.ts';
import type { Undo } from './undo.ts';

export type FetchLike = (url: string, init?: { signal?: AbortSignal }) => Promise<Response>;

export interface ResolvedSource {
  /** The source as recorded in the manifest (URLs without credentials or query). */
  readonly uri: string;
  /** A folder or a single file holding the data. */
  readonly root: string;
  readonly isFile: boolean;
  /** sha256 of the downloaded file or archive, when there was one. */
  readonly sha256?: string;
}

export interface ResolveOptions {
  readonly source: string;
  readonly checksum?: string;
  readonly cwd: string;
  /** Where downloads and extractions are kept between runs. */
  readonly workDir: string;
  readonly stats: StatCache;
  readonly log: Logger;
  readonly fetch?: FetchLike;
  readonly limits?: DataLimits;
  /** Records what this attempt writes, so a failure removes it. */
  readonly undo: Undo;
}

/** Strips credentials, query and fragment from a URL for logs and the manifest. */
export function publicUri(source: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(source)) return source;
  try {
    const u = new URL(source);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return source.replace(/[?#].*$/, '');
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '127.0.0.1' || host === '[::1]';
}

export async function resolveSource(opts: ResolveOptions): Promise<ResolvedSource> {
  const { source } = opts;
  const uri = publicUri(source);
  let file: string;
  let sha: string | undefined;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source)) {
    const url = parseUrl(source);
    if (url.username || url.password) opts.log.secret(decodeURIComponent(url.password || url.username));
    const d = await download(url, opts);
    file = d.file;
    sha = d.sha256;
  } else {
    let abs = path.resolve(opts.cwd, source);
    let st;
    try {
      // The path named as source may itself be a link (to a data folder elsewhere: the user chose
      // it); everything read inside it must be a regular file (util/fs.ts).
      if ((await lstat(abs)).isSymbolicLink()) abs = await realpath(abs);
      st = await lstat(abs);
    } catch {
      throw new ConfigurationError(
        `input 'source': '${source}' does not exist.`,
        'Set source to a folder, a file, an archive (.zip, .tar.gz) or an https:// URL.',
      );
    }
    if (!st.isDirectory() && !st.isFile()) {
      throw new ConfigurationError(
        `input 'source': '${source}' is ${fileKind(st)}; setup-data reads regular files and folders only.`,
        'Set source to a folder, a file, an archive (.zip, .tar.gz) or an https:// URL.',
      );
    }
    if (st.isDirectory()) {
      if (opts.checksum) {
        throw new ConfigurationError(
          `input 'checksum' is set but source '${source}' is a folder.`,
          'A checksum applies to a downloaded file or an archive: remove it, or point source at the archive.',
        );
      }
      return { uri, root: abs, isFile: false };
    }
    file = abs;
    sha = (await opts.stats.digest(abs)).sha256;
    verifyChecksum(source, sha, opts.checksum);
  }
  if (!archiveKind(file)) return { uri, root: file, isFile: true, ...(sha ? { sha256: sha } : {}) };
  const dest = path.join(opts.workDir, 'extracted', sha);
  if (!(await isDir(dest))) {
    const limits = opts.limits ?? DEFAULT_DATA_LIMITS;
    await opts.undo.mkdir(path.dirname(dest));
    await opts.log.group(`Extracting ${path.basename(file)}`, () =>
      extractArchive(file, dest, { maxBytes: limits.maxExpandedSize, maxEntries: limits.maxEntries, maxRatio: limits.maxExpansionRatio }),
    );
    opts.undo.made(dest);
  } else {
    opts.log.info(`Reusing the extraction of ${path.basename(file)} (sha256 ${sha.slice(0, 12)}…)`);
  }
  return { uri, root: await singleTopFolder(dest), isFile: false, sha256: sha };
}

function parseUrl(source: string): URL {
  let url: URL;
  try {
    url = new URL(source);
  } catch {
    throw new ConfigurationError(`input 'source': '${publicUri(source)}' is not a valid URL.`, 'Write it as https://host/path/file.');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopback(url.hostname))) {
    throw new ConfigurationError(
      `input 'source': '${publicUri(source)}' uses ${url.protocol.replace(':', '')}; only https:// downloads are allowed.`,
      'Use an https:// URL (plain http is accepted only for localhost).',
    );
  }
  return url;
}

export function verifyChecksum(what: string, actual: string, expected: string | undefined): void {
  if (expected && actual !== expected) {
    throw new ConfigurationError(
      `input 'checksum' does not match: '${publicUri(what)}' has sha256 ${actual}, expected ${expected}.`,
      'The file changed or the download was corrupted: check the URL, or update checksum if the new file is the one you want.',
    );
  }
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/** An archive that holds one top folder (`fashion/…`) is read from inside that folder. */
async function singleTopFolder(dir: string): Promise<string> {
  const entries = (await readdir(dir, { withFileTypes: true })).filter((e) => !e.name.startsWith('.') && e.name !== '__MACOSX');
  if (entries.length === 1 && entries[0].isDirectory()) {
    const inner = path.join(dir, entries[0].name);
    // Only descend when the single folder is not itself a split or class folder layout root.
    const innerEntries = await readdir(inner, { withFileTypes: true });
    if (innerEntries.some((e) => e.isDirectory() || /\.(csv|gz|ubyte)$/i.test(e.name))) return inner;
  }
  return dir;
}

/**
 * Streams the URL to disk while hashing it. With a checksum, an earlier download with that
 * checksum is reused without touching the network.
 */
async function download(url: URL, opts: ResolveOptions): Promise<{ file: string; sha256: string }> {
  const publicUrl = publicUri(url.href);
  const key = createHash('sha256').update(publicUrl).digest('hex').slice(0, 32);
  const name = decodeURIComponent(path.posix.basename(url.pathname)).replace(/[^\w.-]/g, '_') || 'download';
  const dir = path.join(opts.workDir, 'downloads', key);
  const file = path.join(dir, name);
  if (opts.checksum) {
    try {
      const d = await opts.stats.digest(file);
      if (d.sha256 === opts.checksum) {
        opts.log.info(`Reusing the earlier download of ${publicUrl} (checksum matches).`);
        return { file, sha256: d.sha256 };
      }
    } catch {
      // not downloaded yet
    }
  }
  const max = (opts.limits ?? DEFAULT_DATA_LIMITS).maxDownloadSize;
  const tooLarge = (): ConfigurationError =>
    new ConfigurationError(
      `input 'source': ${publicUrl} is larger than ${formatBytes(max)} (input '${LIMIT_INPUTS.maxDownloadSize}'); the download was stopped there and nothing was kept.`,
      `If the data set is really that large, raise ${LIMIT_INPUTS.maxDownloadSize} (e.g. ${LIMIT_INPUTS.maxDownloadSize}: ${suggestSize(max * 2)}); otherwise check the URL.`,
    );
  await opts.undo.mkdir(dir);
  const tmp = `${file}.${process.pid}.partial`;
  const fetchImpl: FetchLike = opts.fetch ?? ((u, init) => fetch(u, init));
  const sha256 = await opts.log.group(`Downloading ${publicUrl}`, async () => {
    let res: Response;
    try {
      res = await fetchImpl(url.href);
    } catch (err) {
      throw new ModelshipError(
        `download of ${publicUrl} failed: ${(err as Error).message}.`,
        'Check the URL and the network, then run again.',
        {
          cause: err,
        },
      );
    }
    if (res.url && res.url !== url.href) {
      const final = new URL(res.url);
      if (final.protocol !== 'https:' && !(final.protocol === 'http:' && isLoopback(final.hostname))) {
        throw new ConfigurationError(
          `input 'source': ${publicUrl} redirects to plain ${final.protocol.replace(':', '')}.`,
          'Use a URL that stays on https://.',
        );
      }
    }
    if (!res.ok || !res.body) {
      throw new ConfigurationError(
        `input 'source': download of ${publicUrl} answered HTTP ${res.status}.`,
        'Check that the URL is right and public (or reachable from the runner).',
      );
    }
    const declared = Number(res.headers.get('content-length') ?? NaN);
    if (declared > max) {
      await res.body.cancel().catch(() => undefined);
      throw tooLarge();
    }
    const hash = createHash('sha256');
    let bytes = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        bytes += chunk.length;
        if (bytes > max) {
          cb(tooLarge());
          return;
        }
        hash.update(chunk);
        cb(null, chunk);
      },
    });
    try {
      await pipeline(Readable.fromWeb(res.body), meter, createWriteStream(tmp));
    } catch (err) {
      await rm(tmp, { force: true });
      if (err instanceof ConfigurationError) throw err;
      throw new ModelshipError(
        `download of ${publicUrl} broke off: ${(err as Error).message}.`,
        'Run again; if it keeps failing, check the server.',
        { cause: err },
      );
    }
    const hex = hash.digest('hex');
    try {
      verifyChecksum(url.href, hex, opts.checksum);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    await rename(tmp, file);
    opts.undo.made(file);
    opts.log.info(`Downloaded ${formatBytes(bytes)}, sha256 ${hex}`);
    return hex;
  });
  // Record the fresh file in the state so the next run recognises it by stat.
  await opts.stats.record(file, sha256);
  return { file, sha256 };
}

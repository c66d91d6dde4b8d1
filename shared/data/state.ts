/**
 * The re-run fast path, as DVC does it: a state file remembers each source file's size, mtime
 * (nanoseconds) and inode together with its sha256, so an unchanged file is recognised by one
 * `stat` instead of a full read. A file whose stat differs in any field is hashed again.
 *
 * It also remembers the output folder's own files as they were written (size, mtime, ctime and
 * inode): an output whose files all still match is reused without reading it; one edited since
 * (an edit in place changes ctime, which no user-space call can set back) is verified in full.
 */
import { lstat, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { writeJsonAtomic } from '../util/index.ts';
import type { FileDigest, Hasher } from './hash.ts';

export const STATE_FILE = '.modelship-state.json';
const STATE_VERSION = 1;

export interface StatEntry {
  readonly size: number;
  /** mtime in nanoseconds, as a decimal string (bigint stat). */
  readonly mtimeNs: string;
  readonly ino: string;
  readonly sha256: string;
}

export interface DataState {
  readonly version: typeof STATE_VERSION;
  /** The source key (files + options) the output in this folder was built from. */
  readonly key?: string;
  /** The data set digest of that output. */
  readonly digest?: string;
  /** Absolute path → what it looked like when hashed. */
  readonly files: Readonly<Record<string, StatEntry>>;
  /** The output folder's files (relative) as setup-data wrote them. */
  readonly outputs?: Readonly<Record<string, OutputStat>>;
}

/** What an output file looked like when written: any change to it changes one of these. */
export interface OutputStat {
  readonly size: number;
  readonly mtimeNs: string;
  readonly ctimeNs: string;
  readonly ino: string;
}

/** The stat of each of `files` inside `dir`. */
export async function statOutputs(dir: string, files: readonly string[]): Promise<Record<string, OutputStat>> {
  const out: Record<string, OutputStat> = {};
  for (const f of files) {
    const st = await lstat(path.join(dir, f), { bigint: true });
    out[f] = { size: Number(st.size), mtimeNs: st.mtimeNs.toString(), ctimeNs: st.ctimeNs.toString(), ino: st.ino.toString() };
  }
  return out;
}

/** True when every recorded output file is still exactly as it was written (a regular file, same stat). */
export async function outputsUnchanged(
  dir: string,
  recorded: Readonly<Record<string, OutputStat>> | undefined,
  files: readonly string[],
): Promise<boolean> {
  if (!recorded) return false;
  try {
    for (const f of files) {
      const st = await lstat(path.join(dir, f), { bigint: true });
      const r = recorded[f];
      if (
        !r ||
        !st.isFile() ||
        Number(st.size) !== r.size ||
        st.mtimeNs.toString() !== r.mtimeNs ||
        st.ctimeNs.toString() !== r.ctimeNs ||
        st.ino.toString() !== r.ino
      )
        return false;
    }
    return true;
  } catch {
    return false;
  }
}

export const emptyState = (): DataState => ({ version: STATE_VERSION, files: {} });

/** Reads the state file in `dir`; a missing or unreadable one is an empty state (it is only a cache). */
export async function readState(dir: string): Promise<DataState> {
  try {
    const parsed = JSON.parse(await readFile(path.join(dir, STATE_FILE), 'utf8')) as Partial<DataState>;
    if (parsed.version !== STATE_VERSION || typeof parsed.files !== 'object' || parsed.files === null) return emptyState();
    return parsed as DataState;
  } catch {
    return emptyState();
  }
}

export async function writeState(dir: string, state: DataState): Promise<void> {
  await writeJsonAtomic(path.join(dir, STATE_FILE), state);
}

/**
 * Hashes files through the state: unchanged files (same size, mtime and inode) take the recorded
 * sha256; the others are hashed (a few at a time) and recorded. Returns digests in input order.
 */
export class StatCache {
  readonly #hasher: Hasher;
  readonly #old: Readonly<Record<string, StatEntry>>;
  readonly #next: Record<string, StatEntry> = {};
  /** Files whose bytes were read this run (the rest came from the state). */
  hashed = 0;
  reused = 0;

  constructor(hasher: Hasher, previous: DataState) {
    this.#hasher = hasher;
    this.#old = previous.files;
  }

  async digest(file: string): Promise<FileDigest> {
    const abs = path.resolve(file);
    const st = await stat(abs, { bigint: true });
    const probe = { size: Number(st.size), mtimeNs: st.mtimeNs.toString(), ino: st.ino.toString() };
    const same = (e: StatEntry | undefined): e is StatEntry =>
      e !== undefined && e.size === probe.size && e.mtimeNs === probe.mtimeNs && e.ino === probe.ino;
    const seen = this.#next[abs];
    if (same(seen)) return { sha256: seen.sha256, size: seen.size };
    const old = this.#old[abs];
    if (same(old)) {
      this.#next[abs] = old;
      this.reused += 1;
      return { sha256: old.sha256, size: old.size };
    }
    const d = await this.#hasher.hashFile(abs);
    this.hashed += 1;
    this.#next[abs] = { ...probe, sha256: d.sha256 };
    return d;
  }

  /** Records a file whose sha256 is already known (e.g. hashed while it was downloaded). */
  async record(file: string, sha256: string): Promise<void> {
    const abs = path.resolve(file);
    const st = await stat(abs, { bigint: true });
    this.#next[abs] = { size: Number(st.size), mtimeNs: st.mtimeNs.toString(), ino: st.ino.toString(), sha256 };
  }

  async digestAll(files: readonly string[], concurrency = 4): Promise<FileDigest[]> {
    const out = new Array<FileDigest>(files.length);
    let i = 0;
    const worker = async (): Promise<void> => {
      while (i < files.length) {
        const k = i++;
        out[k] = await this.digest(files[k]);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker));
    return out;
  }

  /** True when every file came from the state (nothing was re-read). */
  get unchanged(): boolean {
    return this.hashed === 0;
  }

  toState(key: string | undefined, digest: string | undefined, outputs?: Readonly<Record<string, OutputStat>>): DataState {
    return {
      version: STATE_VERSION,
      ...(key ? { key } : {}),
      ...(digest ? { digest } : {}),
      files: { ...this.#next },
      ...(outputs ? { outputs } : {}),
    };
  }
}

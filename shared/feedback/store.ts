/**
 * The feedback store: an append-only folder of JSON Lines segment files, never a database.
 *
 *   <dir>/feedback-20261201T111148123Z-<host>-<pid>-000001.jsonl
 *
 * - Each process writes segments of its own (the name carries its start time, host and pid), and
 *   never appends to a file it did not create, so two servers sharing a folder never interleave,
 *   and a line torn by a crash stays at the end of a segment nobody writes any more.
 * - An append is one `write(2)` of whole lines to a file opened O_APPEND, then `fdatasync` (unless
 *   fsync is off) before it resolves: once the server has answered a feedback request, its records
 *   are in the file and survive the process being killed (SIGKILL included), and with fsync a
 *   power loss too. A kill during the write can leave a partial last line; readers skip it (it was
 *   never acknowledged) and count it as torn.
 * - Rotation: a segment is closed once it would pass `segmentBytes`; when the folder passes
 *   `maxBytes`, the oldest closed segments are deleted (a warning says how many), as log rotation
 *   does. Nothing else ever removes or rewrites a record.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rm, stat, type FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { folder, formatBytes, listInside, readFileInside, silentLogger, type Logger } from '../util/index.ts';
import { recordLine, recordProblem, type FeedbackRecord } from './record.ts';

const MiB = 1024 * 1024;
export const DEFAULT_SEGMENT_BYTES = 16 * MiB;
export const DEFAULT_MAX_BYTES = 1024 * MiB;

/** Segment file names: feedback-<UTC start time>-<writer>-<sequence>.jsonl. */
export const SEGMENT_RE = /^feedback-(\d{8}T\d{9}Z)-([A-Za-z0-9._-]+)-(\d{6})\.jsonl$/;

export interface StoreOptions {
  readonly dir: string;
  /** A segment is closed once it would pass this many bytes (default 16 MiB). */
  readonly segmentBytes?: number;
  /** Past this many bytes in the folder, the oldest segments are deleted (default 1 GiB). */
  readonly maxBytes?: number;
  /** fdatasync after every append (default true). */
  readonly fsync?: boolean;
  readonly log?: Logger;
  readonly now?: () => Date;
  /** Names this writer's segments (default <host>-<pid>-<random>). */
  readonly writer?: string;
}

export interface AppendResult {
  /** The segment file written (its name). */
  readonly segment: string;
  readonly records: number;
  readonly bytes: number;
}

export interface StoreStats {
  readonly appends: number;
  readonly records: number;
  readonly bytes: number;
  readonly segmentsOpened: number;
  readonly segmentsDeleted: number;
}

function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace('.', '');
}

function safeName(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 40) || 'host';
}

/** Appends records to a store folder (see the module comment). Created on the first append. */
export class FeedbackStore {
  readonly dir: string;
  private readonly segmentBytes: number;
  private readonly maxBytes: number;
  private readonly fsync: boolean;
  private readonly log: Logger;
  private readonly now: () => Date;
  private readonly writer: string;
  private readonly started: string;
  private seq = 0;
  private fh: FileHandle | undefined;
  private segment = '';
  private size = 0;
  private chain: Promise<unknown> = Promise.resolve();
  private closed = false;
  private counts = { appends: 0, records: 0, bytes: 0, segmentsOpened: 0, segmentsDeleted: 0 };

  constructor(opts: StoreOptions) {
    this.dir = path.resolve(opts.dir);
    this.segmentBytes = opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    this.maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
    if (!(this.segmentBytes >= 1024)) throw new RangeError('segmentBytes must be at least 1 KiB');
    if (!(this.maxBytes >= 2 * this.segmentBytes)) throw new RangeError('maxBytes must hold at least two segments');
    this.fsync = opts.fsync ?? true;
    this.log = opts.log ?? silentLogger;
    this.now = opts.now ?? (() => new Date());
    this.writer = safeName(opts.writer ?? `${os.hostname()}-${process.pid}-${randomBytes(2).toString('hex')}`);
    this.started = stamp(this.now());
  }

  /**
   * Appends the records as whole lines in one write, synced before it resolves. Appends run one at
   * a time in the order called.
   */
  append(records: readonly FeedbackRecord[]): Promise<AppendResult> {
    const run = this.chain.then(() => this.write(records));
    this.chain = run.catch(() => undefined);
    return run;
  }

  stats(): StoreStats {
    return { ...this.counts };
  }

  /** Waits for the appends in flight, then closes the segment. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    await this.chain;
    await this.closeSegment();
  }

  private async write(records: readonly FeedbackRecord[]): Promise<AppendResult> {
    if (this.closed) throw new Error('the feedback store is closed');
    const buf = Buffer.from(records.map(recordLine).join(''));
    if (!this.fh || (this.size > 0 && this.size + buf.length > this.segmentBytes)) await this.rotate();
    const fh = this.fh!;
    try {
      let done = 0;
      while (done < buf.length) {
        const { bytesWritten } = await fh.write(buf, done, buf.length - done, null);
        done += bytesWritten;
      }
      if (this.fsync) await fh.datasync();
    } catch (err) {
      // The segment may end in a partial line now: never write to it again.
      await this.closeSegment().catch(() => undefined);
      throw err;
    }
    this.size += buf.length;
    this.counts.appends++;
    this.counts.records += records.length;
    this.counts.bytes += buf.length;
    return { segment: this.segment, records: records.length, bytes: buf.length };
  }

  private async closeSegment(): Promise<void> {
    const fh = this.fh;
    this.fh = undefined;
    if (fh) await fh.close();
  }

  private async rotate(): Promise<void> {
    await this.closeSegment();
    await mkdir(this.dir, { recursive: true });
    this.seq++;
    this.segment = `feedback-${this.started}-${this.writer}-${String(this.seq).padStart(6, '0')}.jsonl`;
    // 'ax': append, and fail rather than share a file another writer made.
    this.fh = await open(path.join(this.dir, this.segment), 'ax', 0o644);
    this.size = 0;
    this.counts.segmentsOpened++;
    if (this.fsync) await syncDir(this.dir);
    await this.enforceCap();
  }

  /** Deletes the oldest segments (never the one being written) while the folder is over the cap. */
  private async enforceCap(): Promise<void> {
    const segments = await listSegments(this.dir);
    let total = segments.reduce((a, s) => a + s.size, 0);
    const deleted: string[] = [];
    let freed = 0;
    for (const s of segments) {
      if (total <= this.maxBytes - this.segmentBytes) break;
      if (s.name === this.segment) continue;
      await rm(path.join(this.dir, s.name), { force: true });
      total -= s.size;
      freed += s.size;
      deleted.push(s.name);
    }
    if (deleted.length) {
      this.counts.segmentsDeleted += deleted.length;
      this.log.warning(
        `feedback store ${this.dir} is over its cap of ${formatBytes(this.maxBytes)}: deleted the ${deleted.length} oldest segment(s) (${formatBytes(freed)}, from ${deleted[0]}). Export feedback more often, or raise the cap.`,
      );
    }
  }
}

async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } catch {
    // some file systems cannot fsync a directory; the file itself is synced
  } finally {
    await d.close();
  }
}

export interface SegmentInfo {
  readonly name: string;
  readonly size: number;
}

/** The segment files of a store folder, oldest first (by name: start time, writer, sequence). */
export async function listSegments(dir: string): Promise<SegmentInfo[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => SEGMENT_RE.test(n)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const out: SegmentInfo[] = [];
  for (const name of names) {
    const st = await stat(path.join(dir, name)).catch(() => undefined);
    if (st?.isFile()) out.push({ name, size: st.size });
  }
  return out;
}

/** Where a record was read from. */
export interface RecordLocation {
  readonly segment: string;
  /** 1-based line number. */
  readonly line: number;
}

export interface StoredRecord extends RecordLocation {
  readonly record: FeedbackRecord;
}

export interface ReadProblem extends RecordLocation {
  readonly kind: 'torn' | 'corrupt';
  readonly reason: string;
}

export interface StoreContents {
  readonly records: StoredRecord[];
  readonly segments: number;
  readonly bytes: number;
  /** Partial last lines (a write cut short by a crash; never acknowledged). */
  readonly torn: readonly ReadProblem[];
  /** Whole lines that are not records. */
  readonly corrupt: readonly ReadProblem[];
}

/**
 * Reads every record of a store folder, segment by segment, through the safe folder reader (no
 * links, regular files only). A missing folder is an empty store.
 */
export async function readStore(dir: string): Promise<StoreContents> {
  const f = folder(dir, 'feedback store');
  let files: string[];
  try {
    files = (await listInside(f, { skip: (name) => !SEGMENT_RE.test(name) })).files.filter((n) => !n.includes('/')).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], segments: 0, bytes: 0, torn: [], corrupt: [] };
    throw err;
  }
  const records: StoredRecord[] = [];
  const torn: ReadProblem[] = [];
  const corrupt: ReadProblem[] = [];
  let bytes = 0;
  for (const segment of files) {
    const buf = await readFileInside(f, segment);
    bytes += buf.length;
    let start = 0;
    let line = 0;
    while (start < buf.length) {
      line++;
      const nl = buf.indexOf(0x0a, start);
      if (nl < 0) {
        torn.push({ segment, line, kind: 'torn', reason: `a partial line of ${buf.length - start} bytes at the end` });
        break;
      }
      const text = buf.subarray(start, nl).toString('utf8');
      start = nl + 1;
      if (text.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        corrupt.push({ segment, line, kind: 'corrupt', reason: `not JSON (${(err as Error).message})` });
        continue;
      }
      const problem = recordProblem(value);
      if (problem) corrupt.push({ segment, line, kind: 'corrupt', reason: problem });
      else records.push({ segment, line, record: value as FeedbackRecord });
    }
  }
  return { records, segments: files.length, bytes, torn, corrupt };
}

/** The key of one prediction: the same model, version, request id, example index and prediction time. */
export function predictionKey(r: FeedbackRecord): string {
  return JSON.stringify([r.model, r.version, r.id, r.index, r.predictedAt]);
}

/**
 * One record per prediction: feedback given twice for one prediction (a corrected label) keeps the
 * one that arrived later. Order of first appearance is kept.
 */
export function latestPerPrediction(records: readonly StoredRecord[]): { readonly kept: StoredRecord[]; readonly duplicates: number } {
  const byKey = new Map<string, StoredRecord>();
  let duplicates = 0;
  for (const s of records) {
    const k = predictionKey(s.record);
    const prev = byKey.get(k);
    if (prev) {
      duplicates++;
      if (Date.parse(prev.record.time) > Date.parse(s.record.time)) continue;
      byKey.delete(k);
    }
    byKey.set(k, s);
  }
  return { kept: [...byKey.values()], duplicates };
}

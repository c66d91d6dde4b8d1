/**
 * The inputs of recent predictions, by request id, so that feedback arriving later (`:feedback`
 * with `{"id", "label"}`) can be stored with the input it is about. Bounded by bytes and by age,
 * both settings; oldest first out.
 *
 * An id that is asked for and not here is either expired (it was here: evicted by age or by size,
 * remembered as a small tombstone) or never seen (by this server since it started, or so long ago
 * that even the tombstone is gone). The answer says which.
 */
import type { InputDtype } from './signature.ts';

export interface RecentEntry {
  readonly id: string;
  readonly model: string;
  readonly version: string;
  readonly digest: string;
  readonly classes: readonly string[];
  readonly dtype: InputDtype;
  /** Shape of one example. */
  readonly shape: readonly number[];
  readonly features?: readonly string[];
  readonly count: number;
  /** count × perExample raw input values. */
  readonly x: Uint8Array | Float32Array;
  /** The predicted class (argmax) of each example. */
  readonly predicted: Int32Array;
  /** When it was predicted (epoch ms). */
  readonly at: number;
  /** Per example: the time feedback arrived (epoch ms), or 0; -1 while it is being stored. */
  readonly feedback: Float64Array;
}

export type Lookup =
  | { readonly kind: 'found'; readonly entry: RecentEntry }
  | { readonly kind: 'expired'; readonly by: 'age' | 'size'; readonly predictedAt: number; readonly evictedAt: number }
  | { readonly kind: 'never-seen'; readonly forgetting: boolean };

export interface RecentOptions {
  /** Bytes of inputs kept at most (0: nothing is kept, feedback by id is off). */
  readonly maxBytes: number;
  /** Milliseconds an entry is kept. */
  readonly maxAgeMs: number;
  /** Evicted ids remembered (to say "expired" rather than "never seen"). Default 100,000. */
  readonly tombstones?: number;
  readonly now?: () => number;
}

/** Per-entry bookkeeping counted against the byte bound besides the inputs. */
const ENTRY_OVERHEAD = 256;

function sizeOf(e: RecentEntry): number {
  return e.x.byteLength + e.predicted.byteLength + e.feedback.byteLength + e.id.length * 2 + ENTRY_OVERHEAD;
}

export class RecentRequests {
  readonly maxBytes: number;
  readonly maxAgeMs: number;
  readonly startedAt: number;
  private readonly maxTombstones: number;
  private readonly now: () => number;
  /** Insertion order is time order: the first entry is the oldest. */
  private readonly entries = new Map<string, RecentEntry>();
  private readonly tombstones = new Map<string, { by: 'age' | 'size'; predictedAt: number; evictedAt: number }>();
  private bytes = 0;
  private forgotten = false;

  constructor(opts: RecentOptions) {
    this.maxBytes = opts.maxBytes;
    this.maxAgeMs = opts.maxAgeMs;
    this.maxTombstones = opts.tombstones ?? 100_000;
    this.now = opts.now ?? Date.now;
    this.startedAt = this.now();
  }

  get enabled(): boolean {
    return this.maxBytes > 0;
  }

  /** Entries and bytes held. */
  size(): { readonly entries: number; readonly bytes: number } {
    return { entries: this.entries.size, bytes: this.bytes };
  }

  /** Keeps an entry (a newer one with the same id replaces it); evicts what is over the bounds. */
  put(e: RecentEntry): void {
    if (!this.enabled) return;
    const old = this.entries.get(e.id);
    if (old) {
      this.entries.delete(e.id);
      this.bytes -= sizeOf(old);
    }
    this.tombstones.delete(e.id);
    const size = sizeOf(e);
    if (size > this.maxBytes) {
      this.bury(e, 'size');
      return;
    }
    this.entries.set(e.id, e);
    this.bytes += size;
    this.evict();
  }

  get(id: string): Lookup {
    this.evict();
    const e = this.entries.get(id);
    if (e) return { kind: 'found', entry: e };
    const t = this.tombstones.get(id);
    if (t) return { kind: 'expired', ...t };
    return { kind: 'never-seen', forgetting: this.forgotten };
  }

  private evict(): void {
    const now = this.now();
    for (const e of this.entries.values()) {
      const byAge = now - e.at > this.maxAgeMs;
      if (!byAge && this.bytes <= this.maxBytes) break;
      this.entries.delete(e.id);
      this.bytes -= sizeOf(e);
      this.bury(e, byAge ? 'age' : 'size');
    }
  }

  private bury(e: RecentEntry, by: 'age' | 'size'): void {
    this.tombstones.set(e.id, { by, predictedAt: e.at, evictedAt: this.now() });
    while (this.tombstones.size > this.maxTombstones) {
      const first = this.tombstones.keys().next().value as string;
      this.tombstones.delete(first);
      this.forgotten = true;
    }
  }
}

/**
 * The inputs of recent predictions, by request id, so that feedback arriving later (`:feedback`
 * with `{"id", "label"}`) can be stored with the input it is about. Bounded by bytes and by age,
 * both settings; oldest first out.
 *
 * An id that is asked for and not here is either expired (it was here: evicted by age or by size,
 * remembered as a small tombstone) or never seen (by this server since it started, or so long ago
 * that even the tombstone is gone). The answer says which.
 *
 * Kept off the JavaScript heap, since a server answering thousands of requests a second holds tens
 * of thousands of them for minutes, and that many medium-lived objects made every major garbage
 * collection of the main thread long (p99 latency at half load 37–64 ms with the 64 MiB default,
 * 7 ms with no cache; bench/serve.bench.ts). Each entry's inputs, predictions and feedback times
 * are one record in a ring arena (one ArrayBuffer of maxBytes, written in time order, oldest first
 * out); its times and places are numbers in typed arrays indexed by its sequence number; the
 * model, version and classes are shared by every entry of a version. Tombstones are a ring of
 * numbers too. What stays on the heap per entry is its id, the key of one Map.
 *
 * An entry from `get` is a view of the arena: read it at once, and write feedback times through
 * `mark`, which does nothing once the entry has left (its bytes may hold a newer one).
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
  /** Set on entries `get` returns: the entry's sequence number in the cache. */
  readonly seq?: number;
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

const align8 = (n: number): number => (n + 7) & ~7;

/** What the entries of one model version share. */
type Kind = Pick<RecentEntry, 'model' | 'version' | 'digest' | 'classes' | 'dtype' | 'shape' | 'features'>;

const BY = ['age', 'size'] as const;

export class RecentRequests {
  readonly maxBytes: number;
  readonly maxAgeMs: number;
  readonly startedAt: number;
  private readonly maxTombstones: number;
  private readonly now: () => number;
  private readonly arena: ArrayBuffer | undefined;
  /** Where the next record goes in the arena. */
  private writeAt = 0;
  /** id → sequence number of its live entry. */
  private readonly index = new Map<string, number>();
  /** Sequence numbers [oldest, next) may be live; the others are gone. */
  private oldest = 0;
  private next = 0;
  private cap = 0;
  private ids: (string | undefined)[] = [];
  private at = new Float64Array(0);
  private offset = new Float64Array(0);
  private bytesOf = new Float64Array(0);
  private count = new Uint32Array(0);
  /** Input values (elements of x). */
  private xLen = new Float64Array(0);
  private kindOf = new Uint32Array(0);
  private float = new Uint8Array(0);
  private readonly kinds: Kind[] = [];
  private readonly kindIndex = new Map<string, number>();
  /** Tombstones: id → ring position; the ring holds when the entry was predicted and evicted, and why. */
  private readonly tombIndex = new Map<string, number>();
  private readonly tombIds: (string | undefined)[];
  private readonly tombPredicted: Float64Array;
  private readonly tombEvicted: Float64Array;
  private readonly tombBy: Uint8Array;
  private tombNext = 0;
  private bytes = 0;
  private forgotten = false;

  constructor(opts: RecentOptions) {
    this.maxBytes = opts.maxBytes;
    this.maxAgeMs = opts.maxAgeMs;
    this.maxTombstones = opts.tombstones ?? 100_000;
    this.now = opts.now ?? Date.now;
    this.startedAt = this.now();
    this.arena = opts.maxBytes > 0 ? new ArrayBuffer(opts.maxBytes) : undefined;
    const t = opts.maxBytes > 0 ? this.maxTombstones : 0;
    this.tombIds = new Array<string | undefined>(t);
    this.tombPredicted = new Float64Array(t);
    this.tombEvicted = new Float64Array(t);
    this.tombBy = new Uint8Array(t);
    this.grow(64);
  }

  get enabled(): boolean {
    return this.maxBytes > 0;
  }

  /** Entries and bytes held. */
  size(): { readonly entries: number; readonly bytes: number } {
    return { entries: this.index.size, bytes: this.bytes };
  }

  /** Keeps a copy of an entry (a newer one with the same id replaces it); evicts what is over the bounds. */
  put(e: RecentEntry): void {
    if (!this.enabled || !this.arena) return;
    const old = this.index.get(e.id);
    if (old !== undefined) this.drop(old);
    this.unbury(e.id);
    const size = sizeOf(e);
    if (size > this.maxBytes) {
      this.bury(e.id, e.at, 'size');
      return;
    }
    const xBytes = align8(e.x.byteLength);
    const record = xBytes + align8(4 * e.count) + 8 * e.count;
    // The ring: a record that does not fit before the end starts again at 0, and what it is
    // written over (the oldest entries) leaves first.
    let from = this.writeAt;
    if (from + record > this.maxBytes) {
      while (this.live(this.oldest) && this.offset[this.slot(this.oldest)] >= from) this.evictOldest('size');
      from = 0;
    }
    while (this.live(this.oldest)) {
      const k = this.slot(this.oldest);
      const o = this.offset[k];
      if (o + this.bytesOf[k] <= from || o >= from + record) break;
      this.evictOldest('size');
    }
    if (this.next - this.oldest >= this.cap) this.grow(this.cap * 2);
    const seq = this.next++;
    const k = this.slot(seq);
    this.ids[k] = e.id;
    this.at[k] = e.at;
    this.offset[k] = from;
    this.bytesOf[k] = record;
    this.count[k] = e.count;
    this.xLen[k] = e.x.length;
    this.kindOf[k] = this.kind(e);
    this.float[k] = e.x instanceof Float32Array ? 1 : 0;
    new Uint8Array(this.arena, from, e.x.byteLength).set(new Uint8Array(e.x.buffer, e.x.byteOffset, e.x.byteLength));
    new Int32Array(this.arena, from + xBytes, e.count).set(e.predicted);
    new Float64Array(this.arena, from + xBytes + align8(4 * e.count), e.count).set(e.feedback);
    this.writeAt = from + record;
    this.index.set(e.id, seq);
    this.bytes += size;
    this.evict();
  }

  get(id: string): Lookup {
    this.evict();
    const seq = this.index.get(id);
    if (seq !== undefined) return { kind: 'found', entry: this.view(seq) };
    const t = this.tombIndex.get(id);
    if (t !== undefined)
      return { kind: 'expired', by: BY[this.tombBy[t]], predictedAt: this.tombPredicted[t], evictedAt: this.tombEvicted[t] };
    return { kind: 'never-seen', forgetting: this.forgotten };
  }

  /** Sets example `index`'s feedback time on an entry, unless it has left the cache meanwhile. */
  mark(e: RecentEntry, index: number, value: number): void {
    if (e.seq === undefined) {
      e.feedback[index] = value;
      return;
    }
    if (this.index.get(e.id) === e.seq) this.view(e.seq).feedback[index] = value;
  }

  private slot(seq: number): number {
    return seq % this.cap;
  }

  private live(seq: number): boolean {
    return seq < this.next;
  }

  /** The entry at `seq`, its arrays viewing the arena. */
  private view(seq: number): RecentEntry {
    const k = this.slot(seq);
    const kind = this.kinds[this.kindOf[k]];
    const n = this.count[k];
    const per = this.xLen[k];
    const from = this.offset[k];
    const xBytes = align8(per * (this.float[k] ? 4 : 1));
    return {
      ...kind,
      id: this.ids[k]!,
      count: n,
      x: this.float[k] ? new Float32Array(this.arena!, from, per) : new Uint8Array(this.arena!, from, per),
      predicted: new Int32Array(this.arena!, from + xBytes, n),
      feedback: new Float64Array(this.arena!, from + xBytes + align8(4 * n), n),
      at: this.at[k],
      seq,
    };
  }

  private kind(e: RecentEntry): number {
    const key = `${e.model}\u0000${e.version}\u0000${e.digest}\u0000${e.dtype}\u0000${e.shape.join(',')}\u0000${e.classes.join('\u0001')}\u0000${e.features?.join('\u0001') ?? ''}`;
    let i = this.kindIndex.get(key);
    if (i === undefined) {
      i = this.kinds.length;
      this.kinds.push({
        model: e.model,
        version: e.version,
        digest: e.digest,
        classes: e.classes,
        dtype: e.dtype,
        shape: e.shape,
        ...(e.features ? { features: e.features } : {}),
      });
      this.kindIndex.set(key, i);
    }
    return i;
  }

  /** Room for `cap` entries in the window, each at seq % cap. */
  private grow(cap: number): void {
    const old = {
      cap: this.cap,
      ids: this.ids,
      at: this.at,
      offset: this.offset,
      bytesOf: this.bytesOf,
      count: this.count,
      xLen: this.xLen,
      kindOf: this.kindOf,
      float: this.float,
    };
    this.cap = cap;
    this.ids = new Array<string | undefined>(cap);
    this.at = new Float64Array(cap);
    this.offset = new Float64Array(cap);
    this.bytesOf = new Float64Array(cap);
    this.count = new Uint32Array(cap);
    this.xLen = new Float64Array(cap);
    this.kindOf = new Uint32Array(cap);
    this.float = new Uint8Array(cap);
    for (let seq = this.oldest; seq < this.next; seq++) {
      const a = seq % old.cap;
      const b = seq % cap;
      this.ids[b] = old.ids[a];
      this.at[b] = old.at[a];
      this.offset[b] = old.offset[a];
      this.bytesOf[b] = old.bytesOf[a];
      this.count[b] = old.count[a];
      this.xLen[b] = old.xLen[a];
      this.kindOf[b] = old.kindOf[a];
      this.float[b] = old.float[a];
    }
  }

  /** Takes an entry out (replaced by a newer one with its id): its slot stays, dead, until the window passes it. */
  private drop(seq: number): void {
    const k = this.slot(seq);
    const id = this.ids[k]!;
    this.index.delete(id);
    this.bytes -= this.accounted(k, id);
    this.ids[k] = undefined;
    this.skipDead();
  }

  private accounted(k: number, id: string): number {
    const n = this.count[k];
    const per = this.xLen[k];
    return per * (this.float[k] ? 4 : 1) + 4 * n + 8 * n + id.length * 2 + ENTRY_OVERHEAD;
  }

  private skipDead(): void {
    while (this.oldest < this.next && this.ids[this.slot(this.oldest)] === undefined) this.oldest++;
  }

  private evictOldest(by: 'age' | 'size'): void {
    const k = this.slot(this.oldest);
    const id = this.ids[k]!;
    this.index.delete(id);
    this.bytes -= this.accounted(k, id);
    this.ids[k] = undefined;
    this.bury(id, this.at[k], by);
    this.oldest++;
    this.skipDead();
  }

  private evict(): void {
    const now = this.now();
    while (this.oldest < this.next) {
      const byAge = now - this.at[this.slot(this.oldest)] > this.maxAgeMs;
      if (!byAge && this.bytes <= this.maxBytes) break;
      this.evictOldest(byAge ? 'age' : 'size');
    }
    if (this.oldest === this.next) this.writeAt = 0;
  }

  private unbury(id: string): void {
    const t = this.tombIndex.get(id);
    if (t === undefined) return;
    this.tombIndex.delete(id);
    this.tombIds[t] = undefined;
  }

  private bury(id: string, predictedAt: number, by: 'age' | 'size'): void {
    if (this.maxTombstones === 0) {
      this.forgotten = true;
      return;
    }
    this.unbury(id);
    const t = this.tombNext;
    this.tombNext = (t + 1) % this.maxTombstones;
    const gone = this.tombIds[t];
    if (gone !== undefined) {
      this.tombIndex.delete(gone);
      this.forgotten = true;
    }
    this.tombIds[t] = id;
    this.tombPredicted[t] = predictedAt;
    this.tombEvicted[t] = this.now();
    this.tombBy[t] = by === 'age' ? 0 : 1;
    this.tombIndex.set(id, t);
  }
}

/**
 * The work queue every controller here runs on, as client-go's: keys (`namespace/name`) are
 * coalesced while pending, synced one at a time after the current event has been delivered, and
 * requeued with a growing delay when a sync throws (a conflict, a validation error).
 */
import type { Store, StoreEvent } from '../store.ts';

export abstract class Reconciler {
  protected readonly store: Store;
  private readonly pending = new Set<string>();
  private readonly timers = new Map<string, { timer: NodeJS.Timeout; at: number }>();
  private readonly failures = new Map<string, number>();
  private unsubscribe: (() => void) | undefined;
  private stopped = false;

  constructor(store: Store) {
    this.store = store;
  }

  start(): void {
    this.unsubscribe = this.store.subscribe((e) => this.observe(e));
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    for (const t of this.timers.values()) clearTimeout(t.timer);
    this.timers.clear();
  }

  /** Sees every store change (synchronously): enqueue what needs a sync. */
  protected abstract observe(e: StoreEvent): void;

  /** Reconciles one key against the store's current state. */
  protected abstract sync(key: string): void;

  protected enqueue(key: string): void {
    if (this.pending.has(key) || this.stopped) return;
    this.pending.add(key);
    setImmediate(() => {
      this.pending.delete(key);
      if (this.stopped) return;
      try {
        this.sync(key);
        this.failures.delete(key);
      } catch {
        const n = (this.failures.get(key) ?? 0) + 1;
        this.failures.set(key, n);
        this.enqueueAfter(key, Math.min(1000, 5 * 2 ** Math.min(n, 8)));
      }
    });
  }

  /** Syncs `key` after `ms` (the earliest of several requests wins). */
  protected enqueueAfter(key: string, ms: number): void {
    if (this.stopped) return;
    const at = Date.now() + ms;
    const existing = this.timers.get(key);
    if (existing && existing.at <= at) return;
    if (existing) clearTimeout(existing.timer);
    const timer = setTimeout(
      () => {
        this.timers.delete(key);
        this.enqueue(key);
      },
      Math.max(0, ms),
    );
    this.timers.set(key, { timer, at });
  }
}

export const keyOf = (ns: string | undefined, name: string | undefined): string => `${ns ?? ''}/${name ?? ''}`;

export function splitKey(key: string): [string, string] {
  const i = key.indexOf('/');
  return [key.slice(0, i), key.slice(i + 1)];
}

/**
 * The Event recorder the controllers and the kubelet use: one Event per (object, reason, message),
 * its `count` and `lastTimestamp` bumped when it repeats, as client-go's recorder does.
 */
import { randomBytes } from 'node:crypto';
import { eventType } from '../resources/index.ts';
import { rfc3339, type Store } from '../store.ts';
import type { KubeObject } from '../types.ts';

export interface EventSource {
  readonly component: string;
  readonly host?: string;
}

/**
 * Records Events about objects. As client-go's EventCorrelator: a repeated event bumps the
 * existing one's count, and a spam filter lets each (source, object) record a burst of 25, then
 * one per 5 minutes (scaled by timeScale).
 */
export class EventRecorder {
  private readonly store: Store;
  private readonly seen = new Map<string, string>();
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly refillMs: number;

  constructor(store: Store, timeScale = 1) {
    this.store = store;
    this.refillMs = 300_000 * timeScale;
  }

  private allowed(source: EventSource, uid: string | undefined): boolean {
    const k = `${source.component}\u0000${source.host ?? ''}\u0000${uid ?? ''}`;
    const now = Date.now();
    const b = this.buckets.get(k) ?? { tokens: 25, at: now };
    b.tokens = Math.min(25, b.tokens + (now - b.at) / this.refillMs);
    b.at = now;
    this.buckets.set(k, b);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  record(source: EventSource, about: KubeObject, type: 'Normal' | 'Warning', reason: string, message: string, fieldPath?: string): void {
    if (!this.allowed(source, about.metadata.uid)) return;
    const ns = about.metadata.namespace ?? 'default';
    const key = `${about.metadata.uid}\u0000${reason}\u0000${message}\u0000${fieldPath ?? ''}`;
    const now = rfc3339(this.store.now());
    const existing = this.seen.get(key);
    if (existing && this.store.find(eventType, ns, existing)) {
      this.store.mutate(eventType, ns, existing, (e) => {
        e['count'] = ((e['count'] as number | undefined) ?? 1) + 1;
        e['lastTimestamp'] = now;
      });
      return;
    }
    const name = `${about.metadata.name}.${randomBytes(8).toString('hex')}`;
    this.seen.set(key, name);
    this.store.create(eventType, ns, {
      metadata: { name, namespace: ns },
      involvedObject: {
        kind: about.kind,
        namespace: ns,
        name: about.metadata.name,
        uid: about.metadata.uid,
        apiVersion: about.apiVersion,
        resourceVersion: about.metadata.resourceVersion,
        ...(fieldPath ? { fieldPath } : {}),
      },
      reason,
      message,
      source: { component: source.component, ...(source.host ? { host: source.host } : {}) },
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
      type,
      eventTime: null,
      reportingComponent: source.component,
      reportingInstance: source.host ?? '',
    });
  }
}

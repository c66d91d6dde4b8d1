/**
 * Watching until something happens, through the watch API, surviving what real clusters do to
 * watches: the server closes them (timeouts, API server restarts), the client's inactivity timer
 * cuts them, and an old resourceVersion expires (410 Gone). Each reconnect resumes from the last
 * resourceVersion seen; after 410 it starts over with a fresh listing (synthetic ADDED events).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import { ModelshipError, errorMessage } from '../util/index.ts';
import { apiStatus, kubeError } from './errors.ts';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface WatchUntilOptions<T, R> {
  /** A collection path: `/apis/batch/v1/namespaces/ml/jobs`. */
  readonly path: string;
  /** labelSelector, fieldSelector. */
  readonly query?: Readonly<Record<string, string | undefined>>;
  readonly signal?: AbortSignal;
  /** Called for every event in order; return a value to stop with it, throw to stop with an error. */
  onEvent(type: WatchEventType, object: T): R | undefined;
  /** Told about every reconnection (for a debug line). */
  readonly onReconnect?: (reason: string, resourceVersion: string | undefined) => void;
  /** Consecutive failed connections tolerated before giving up (default 5). */
  readonly maxFailures?: number;
  /** Wait before reconnecting after a failure, multiplied by the failure count (default 200 ms). */
  readonly retryDelayMs?: number;
  /**
   * The client cuts a watch that has been silent this long and this function reconnects
   * (default: the client's 30 s).
   */
  readonly idleTimeoutMs?: number;
  /** What is being watched, for error messages: "watch Job x". */
  readonly what?: string;
}

interface Meta {
  metadata?: { resourceVersion?: string };
}

/** An AbortError carrying the signal's reason, as fetch and timers throw it. */
export function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new DOMException('The operation was aborted', 'AbortError');
}

const RETRYABLE = (code: number): boolean => code === 429 || code >= 500;

export function watchUntil<T extends Meta, R>(kc: KubeConfig, opts: WatchUntilOptions<T, R>): Promise<R> {
  const maxFailures = opts.maxFailures ?? 5;
  const retryDelay = opts.retryDelayMs ?? 200;
  const what = opts.what ?? `watch ${opts.path}`;
  return new Promise<R>((resolve, reject) => {
    let rv: string | undefined;
    let settled = false;
    let current: AbortController | undefined;
    let failures = 0;
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      opts.signal?.removeEventListener('abort', onAbort);
      current?.abort();
      fn();
    };
    const onAbort = (): void => finish(() => reject(abortError(opts.signal!)));
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    const connect = async (): Promise<void> => {
      if (settled) return;
      let sawEvent = false;
      let expired = false;
      let failed: Error | undefined;
      const query: Record<string, string> = { allowWatchBookmarks: 'true' };
      for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) query[k] = v;
      if (rv) query.resourceVersion = rv;
      const done = (err: unknown): void => {
        if (settled) return;
        current = undefined;
        const fatal = failed;
        if (fatal) return finish(() => reject(fatal));
        if (expired) {
          rv = undefined;
          opts.onReconnect?.('resourceVersion expired (410 Gone): listing again', rv);
          void connect();
          return;
        }
        if (err) {
          const status = apiStatus(err);
          if (status && !RETRYABLE(status.code)) return finish(() => reject(kubeError(what, err)));
          failures = sawEvent ? 1 : failures + 1;
          if (failures > maxFailures) return finish(() => reject(kubeError(what, err)));
          opts.onReconnect?.(`watch failed (${errorMessage(err)})`, rv);
          sleep(retryDelay * failures).then(connect, () => undefined);
          return;
        }
        // A clean close by the server: resume from the last resourceVersion.
        if (sawEvent) failures = 0;
        opts.onReconnect?.('watch closed by the server', rv);
        if (sawEvent) void connect();
        else sleep(retryDelay).then(connect, () => undefined);
      };
      const onEvent = (type: string, obj: unknown): void => {
        if (settled) return;
        sawEvent = true;
        if (type === 'ERROR') {
          const st = obj as { code?: number; message?: string; reason?: string };
          if (st.code === 410) expired = true;
          else
            failed = new ModelshipError(
              `cannot ${what}: the API server ended the watch with ${st.code ?? '?'} ${st.reason ?? ''}: ${st.message ?? ''}`.trim(),
            );
          return;
        }
        const o = obj as T;
        const v = o?.metadata?.resourceVersion;
        if (v) rv = v;
        if (type === 'BOOKMARK') return;
        try {
          const r = opts.onEvent(type as WatchEventType, o);
          if (r !== undefined) finish(() => resolve(r));
        } catch (e) {
          finish(() => reject(e instanceof Error ? e : new Error(errorMessage(e))));
        }
      };
      try {
        const watch = new Watch(kc);
        // `requestTimeoutMs` is the client's (private) inactivity timer.
        if (opts.idleTimeoutMs !== undefined) Object.assign(watch, { requestTimeoutMs: opts.idleTimeoutMs });
        const ctrl = await watch.watch(opts.path, query, onEvent, done);
        if (settled) ctrl.abort();
        else current = ctrl;
      } catch (err) {
        done(err);
      }
    };
    void connect();
  });
}

/**
 * Fault injection a test switches on and off: API errors on the next N matching requests
 * (5xx and 429 with the API server's Status bodies, 409 Conflict on writes), `410 Gone` on the
 * next watch (an ERROR event with an Expired Status, as the API server sends for a compacted
 * resourceVersion, or an HTTP 410), requests whose connection is cut before any answer, open
 * watches cut mid-stream, and container faults (crash loops, readiness that never comes, image
 * pull errors, OOMKilled, liveness failures) as kubelet rules.
 *
 *   const f = sim.faults.fail({ path: '/deployments', method: 'PATCH', code: 503, count: 2 });
 *   ...
 *   f.off();   // or let the count run out
 */
import { behaviours, type Kubelet, type Match } from './kubelet.ts';
import { conflict, serverError, type ApiError } from './errors.ts';
import type { ResourceType } from './resources/index.ts';

export interface RequestMatch {
  /** HTTP method(s); any when absent. */
  readonly method?: string | readonly string[];
  /**
   * The request path: a string matches a path equal to it, ending with it or containing it
   * followed by `/` (so `/deployments` matches the collection and every Deployment under it);
   * a RegExp is tested against the path.
   */
  readonly path?: string | RegExp;
  /** Only watch requests (true) or only non-watch requests (false). */
  readonly watch?: boolean;
}

/** A switched-on fault. */
export interface FaultHandle {
  /** Switches the fault off. */
  off(): void;
  /** How many requests it has hit so far. */
  readonly hits: number;
  /** How many more it will hit (Infinity: until switched off). */
  readonly remaining: number;
}

export interface Injected {
  readonly kind: string;
  readonly method: string;
  readonly path: string;
}

interface RequestInfo {
  readonly method: string;
  readonly path: string;
  readonly watch: boolean;
}

type HttpAction = { kind: 'error'; error: ApiError; retryAfter?: number } | { kind: 'drop' } | { kind: 'delay'; ms: number };

interface Rule<A> {
  readonly test: (r: RequestInfo) => boolean;
  readonly act: (r: RequestInfo) => A;
  readonly kind: string;
  remaining: number;
  hits: number;
}

function matcher(m: RequestMatch): (r: RequestInfo) => boolean {
  const methods = m.method === undefined ? undefined : (typeof m.method === 'string' ? [m.method] : m.method).map((x) => x.toUpperCase());
  return (r) => {
    if (methods && !methods.includes(r.method)) return false;
    if (m.watch !== undefined && m.watch !== r.watch) return false;
    if (m.path === undefined) return true;
    if (typeof m.path === 'string') return r.path === m.path || r.path.endsWith(m.path) || r.path.includes(`${m.path}/`);
    return m.path.test(r.path);
  };
}

export class Faults {
  private readonly http: Rule<HttpAction>[] = [];
  private readonly conflicts: Rule<true>[] = [];
  private readonly gone: Rule<'event' | 'http'>[] = [];
  private readonly kubelet: Kubelet;
  private readonly cut: (suffix?: string) => number;
  private readonly handles = new Set<FaultHandle>();
  /** Every fault that fired, in order. */
  readonly injected: Injected[] = [];

  constructor(kubelet: Kubelet, cutWatches: (suffix?: string) => number) {
    this.kubelet = kubelet;
    this.cut = cutWatches;
  }

  private add<A>(list: Rule<A>[], kind: string, test: (r: RequestInfo) => boolean, act: (r: RequestInfo) => A, count: number): FaultHandle {
    const rule: Rule<A> = { test, act, kind, remaining: count, hits: 0 };
    list.push(rule);
    const handle: FaultHandle = {
      off: () => {
        const i = list.indexOf(rule);
        if (i >= 0) list.splice(i, 1);
        this.handles.delete(handle);
      },
      get hits() {
        return rule.hits;
      },
      get remaining() {
        return rule.remaining;
      },
    };
    this.handles.add(handle);
    return handle;
  }

  private take<A>(list: Rule<A>[], r: RequestInfo): A | undefined {
    for (const rule of list) {
      if (rule.remaining <= 0 || !rule.test(r)) continue;
      rule.remaining--;
      rule.hits++;
      if (rule.remaining <= 0) list.splice(list.indexOf(rule), 1);
      this.injected.push({ kind: rule.kind, method: r.method, path: r.path });
      return rule.act(r);
    }
    return undefined;
  }

  /** The next `count` matching requests answer `code` (500, 503, 504, 429) with the API server's Status body. */
  fail(options: RequestMatch & { code: 500 | 503 | 504 | 429; count?: number; message?: string; retryAfterSeconds?: number }): FaultHandle {
    const retry = options.retryAfterSeconds ?? (options.code === 429 ? 1 : undefined);
    return this.add(
      this.http,
      `http ${options.code}`,
      matcher(options),
      (): HttpAction => ({
        kind: 'error',
        error: serverError(options.code, options.message, retry),
        ...(retry !== undefined ? { retryAfter: retry } : {}),
      }),
      options.count ?? 1,
    );
  }

  /** The next `count` matching requests get no answer: the connection is cut (the client sees a reset socket). */
  drop(options: RequestMatch & { count?: number }): FaultHandle {
    return this.add(this.http, 'drop', matcher(options), (): HttpAction => ({ kind: 'drop' }), options.count ?? 1);
  }

  /** The next `count` matching requests are answered `ms` late. */
  delay(options: RequestMatch & { ms: number; count?: number }): FaultHandle {
    return this.add(this.http, 'delay', matcher(options), (): HttpAction => ({ kind: 'delay', ms: options.ms }), options.count ?? 1);
  }

  /**
   * The next `count` writes (PUT, PATCH, including apply) to matching objects answer 409 Conflict
   * ("the object has been modified; please apply your changes to the latest version and try again").
   */
  conflict(options: { resource?: string; name?: string; namespace?: string; count?: number } = {}): FaultHandle {
    return this.add(
      this.conflicts,
      'conflict',
      (r) => {
        const parts = r.path.split('/').filter(Boolean);
        const i = parts.indexOf('namespaces');
        const ns = i >= 0 ? parts[i + 1] : undefined;
        const rest = i >= 0 ? parts.slice(i + 2) : parts.slice(parts[0] === 'api' ? 2 : 3);
        return (
          (options.resource === undefined || rest[0] === options.resource) &&
          (options.name === undefined || rest[1] === options.name) &&
          (options.namespace === undefined || ns === options.namespace)
        );
      },
      () => true as const,
      options.count ?? 1,
    );
  }

  /**
   * The next `count` matching watches fail with 410 Gone: by default as the API server does it for
   * a too old resourceVersion (HTTP 200, then an ERROR event whose object is a 410 Expired
   * Status, then the end of the stream); `mode: 'http'` answers HTTP 410 instead.
   */
  goneOnWatch(options: { path?: string | RegExp; count?: number; mode?: 'event' | 'http' } = {}): FaultHandle {
    const mode = options.mode ?? 'event';
    return this.add(this.gone, `watch 410 (${mode})`, matcher({ path: options.path, watch: true }), () => mode, options.count ?? 1);
  }

  /** Cuts open watch connections (all, or on paths ending with `pathSuffix`) without a clean end; returns how many. */
  cutWatches(pathSuffix?: string): number {
    const n = this.cut(pathSuffix);
    if (n > 0) this.injected.push({ kind: 'cut watches', method: 'GET', path: pathSuffix ?? '*' });
    return n;
  }

  private podRule(kind: string, match: Match, b: Parameters<Kubelet['rule']>[1]): FaultHandle {
    const rule = this.kubelet.rule(match, b);
    let on = true;
    const handle: FaultHandle = {
      off: () => {
        rule.remove();
        on = false;
        this.handles.delete(handle);
      },
      hits: 0,
      get remaining() {
        return on ? Infinity : 0;
      },
    };
    this.handles.add(handle);
    this.injected.push({ kind, method: '-', path: '-' });
    return handle;
  }

  /** Matching containers crash (exit `exitCode` after writing `lines`): CrashLoopBackOff under restartPolicy Always. */
  crash(match: Match, options: { lines?: readonly string[]; exitCode?: number; afterMs?: number } = {}): FaultHandle {
    return this.podRule('crash', match, behaviours.crash(options.lines ?? [], options.exitCode ?? 1, options.afterMs ?? 0));
  }

  /** Matching containers run but their readiness probe never passes. */
  neverReady(match: Match): FaultHandle {
    return this.podRule('never ready', match, behaviours.neverReady());
  }

  /** Matching containers' images cannot be pulled (ErrImagePull, then ImagePullBackOff). */
  imagePull(match: Match, message?: string): FaultHandle {
    return this.podRule('image pull', match, behaviours.imagePullBackOff(message));
  }

  /** Matching containers are OOMKilled (exit 137) after writing `lines`. */
  oomKilled(match: Match, lines: readonly string[] = []): FaultHandle {
    return this.podRule('oom', match, behaviours.oomKilled(lines));
  }

  /** Matching containers fail their liveness probe `afterMs` after each start, and are restarted. */
  livenessFails(match: Match, afterMs = 0): FaultHandle {
    return this.podRule('liveness', match, behaviours.livenessFails(afterMs));
  }

  /** Switches every fault off. */
  clear(): void {
    for (const h of [...this.handles]) h.off();
    this.http.length = 0;
    this.conflicts.length = 0;
    this.gone.length = 0;
  }

  /** For the REST layer: what to do with this request before anything else. */
  httpAction(r: RequestInfo): HttpAction | undefined {
    return this.take(this.http, r);
  }

  /** For the REST layer: whether this write to `type`/`name` answers 409. */
  conflictFor(r: RequestInfo, type: ResourceType, name: string): ApiError | undefined {
    if (r.method !== 'PUT' && r.method !== 'PATCH') return undefined;
    return this.take(this.conflicts, r) ? conflict(type, name) : undefined;
  }

  /** For the REST layer: whether this watch fails with 410, and how. */
  goneFor(r: RequestInfo): 'event' | 'http' | undefined {
    return this.take(this.gone, r);
  }
}

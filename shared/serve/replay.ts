/**
 * A traffic generator that replays a data set's examples as `:predict` requests at a steady rate
 * (the pipeline replays the test split through the local proxy while it deploys and monitors).
 * It counts every answer by status and by the version that gave it, so a caller can say how many
 * requests failed while weights moved.
 */
import type { SplitTensors } from '../data/index.ts';

export interface ReplayOptions {
  /** The server or proxy, e.g. http://127.0.0.1:8500. */
  readonly url: string;
  readonly model: string;
  readonly examples: SplitTensors;
  /** Requests per second. */
  readonly rate: number;
  /** Examples per request. */
  readonly perRequest?: number;
  /** At most this many requests in flight (more are counted as skipped, not queued). */
  readonly maxInFlight?: number;
}

export interface ReplayStats {
  readonly sent: number;
  readonly ok: number;
  readonly failed: number;
  readonly skipped: number;
  /** Answers by the version header the proxy adds (`?` without one). */
  readonly byVersion: Readonly<Record<string, number>>;
  /** The first few failures, as people read them. */
  readonly errors: readonly string[];
}

export interface Replay {
  stats(): ReplayStats;
  /** Stops sending, waits for the requests in flight, and returns the counts. */
  stop(): Promise<ReplayStats>;
}

/** The row-format body of `perRequest` examples starting at `first` (raw values: the server preprocesses). */
export function predictBody(examples: SplitTensors, first: number, perRequest: number): string {
  const shape = examples.inputShape;
  const size = shape.reduce((a, b) => a * b, 1);
  const nest = (flat: ArrayLike<number>, offset: number, dims: readonly number[]): unknown => {
    if (dims.length === 0) return Number(flat[offset]);
    const [d, ...rest] = dims;
    const stride = rest.reduce((a, b) => a * b, 1);
    return Array.from({ length: d }, (_, i) => nest(flat, offset + i * stride, rest));
  };
  const instances = Array.from({ length: perRequest }, (_, k) => nest(examples.x, ((first + k) % examples.count) * size, shape));
  return JSON.stringify({ instances });
}

export function replayTraffic(o: ReplayOptions): Replay {
  const perRequest = o.perRequest ?? 4;
  const bodies = Array.from({ length: Math.min(64, Math.max(1, Math.ceil(o.examples.count / perRequest))) }, (_, i) =>
    predictBody(o.examples, i * perRequest, perRequest),
  );
  const url = `${o.url.replace(/\/+$/, '')}/v1/models/${encodeURIComponent(o.model)}:predict`;
  const inFlight = new Set<Promise<void>>();
  const byVersion: Record<string, number> = {};
  const errors: string[] = [];
  let sent = 0;
  let ok = 0;
  let failed = 0;
  let skipped = 0;
  let i = 0;
  const fail = (why: string): void => {
    failed++;
    if (errors.length < 10) errors.push(why);
  };
  const fire = (): void => {
    if (inFlight.size >= (o.maxInFlight ?? 16)) {
      skipped++;
      return;
    }
    sent++;
    const p = fetch(url, { method: 'POST', body: bodies[i++ % bodies.length], headers: { 'content-type': 'application/json' } })
      .then(async (res) => {
        await res.arrayBuffer();
        const v = res.headers.get('x-modelship-version') ?? '?';
        byVersion[v] = (byVersion[v] ?? 0) + 1;
        if (res.ok) ok++;
        else fail(`HTTP ${res.status} from version ${v}`);
      })
      .catch((err: unknown) => fail(String((err as Error).cause ?? err)))
      .finally(() => inFlight.delete(p));
    inFlight.add(p);
  };
  const timer = setInterval(fire, 1000 / o.rate);
  const stats = (): ReplayStats => ({ sent, ok, failed, skipped, byVersion: { ...byVersion }, errors: [...errors] });
  return {
    stats,
    async stop() {
      clearInterval(timer);
      await Promise.allSettled([...inFlight]);
      return stats();
    },
  };
}

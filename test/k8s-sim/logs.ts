/**
 * Container logs as the kubelet keeps them: one log per container run (the current one and the
 * previous one after a restart), each line stamped with an RFC 3339 nanosecond timestamp.
 */
import { EventEmitter } from 'node:events';

export interface LogLine {
  /** Nanoseconds since the epoch; strictly increasing across the simulator. */
  readonly ns: bigint;
  /** RFC 3339 with nine fraction digits, as the kubelet prefixes lines with `timestamps=true`. */
  readonly timestamp: string;
  readonly text: string;
}

let lastNs = 0n;
function nextNs(): bigint {
  const now = BigInt(Date.now()) * 1_000_000n;
  lastNs = now > lastNs ? now : lastNs + 1n;
  return lastNs;
}

export function formatNs(ns: bigint): string {
  const ms = Number(ns / 1_000_000n);
  const base = new Date(ms).toISOString().slice(0, 19);
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0');
  return `${base}.${frac}Z`;
}

/** Parses an RFC 3339 time (any fraction length) to nanoseconds. */
export function parseTimeNs(text: string): bigint | undefined {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(text);
  if (!m) return undefined;
  const secs = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(secs)) return undefined;
  return BigInt(secs) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
}

/** One run of one container: lines so far, and an end once the container has terminated. */
export class ContainerLog extends EventEmitter<{ line: [LogLine]; end: [] }> {
  readonly lines: LogLine[] = [];
  ended = false;
  /** The run's containerID (`containerd://…`), as the container status names it. */
  readonly id: string;

  constructor(id = '') {
    super();
    this.id = id;
  }

  append(text: string): void {
    if (this.ended) return;
    for (const part of text.split('\n')) {
      const ns = nextNs();
      const line = { ns, timestamp: formatNs(ns), text: part };
      this.lines.push(line);
      this.emit('line', line);
    }
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.emit('end');
  }
}

export class LogBook {
  private readonly runs = new Map<string, ContainerLog[]>();

  /** Starts a new run of a container (the kubelet keeps the current and the previous ones). */
  start(podUid: string, container: string, id = ''): ContainerLog {
    const k = `${podUid}/${container}`;
    const list = this.runs.get(k) ?? [];
    const log = new ContainerLog(id);
    list.push(log);
    this.runs.set(k, list.slice(-3));
    return log;
  }

  /** The run with this containerID. */
  byId(podUid: string, container: string, id: string): ContainerLog | undefined {
    return this.runs.get(`${podUid}/${container}`)?.find((l) => l.id === id);
  }

  current(podUid: string, container: string): ContainerLog | undefined {
    return this.runs.get(`${podUid}/${container}`)?.at(-1);
  }

  previous(podUid: string, container: string): ContainerLog | undefined {
    const list = this.runs.get(`${podUid}/${container}`) ?? [];
    return list.length > 1 ? list.at(-2) : undefined;
  }

  /** Drops the logs of a deleted pod (and ends any follower). */
  drop(podUid: string): void {
    for (const [k, list] of this.runs) {
      if (k.startsWith(`${podUid}/`)) {
        for (const l of list) l.end();
        this.runs.delete(k);
      }
    }
  }
}

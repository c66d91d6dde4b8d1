/**
 * Following a container's log as it is written (`follow=true`), line by line, through the real
 * client's Log API. If the stream ends while the container still runs (an API server or kubelet
 * cut it), it reconnects from the last line's timestamp and drops the lines already delivered;
 * once the container has ended, one last read collects what it wrote after a cut.
 */
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Log, type KubeConfig } from '@kubernetes/client-node';
import { kubeError } from './errors.ts';

export interface FollowLogOptions {
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
  /** Each complete line, without its newline, in order. */
  onLine(line: string): void;
  readonly signal?: AbortSignal;
  /** Asked when a stream ends: true when the container may still write, so following goes on. */
  readonly stillRunning?: () => Promise<boolean>;
  /** Reconnections allowed (default 20). */
  readonly maxReconnects?: number;
}

export interface FollowLogResult {
  readonly lines: number;
  readonly reconnects: number;
}

const STAMP = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d) ?/;

/** Splits a `timestamps=true` line into its time (ns since the epoch) and its text. */
export function splitTimestamp(line: string): { ns: bigint | undefined; text: string } {
  const m = STAMP.exec(line);
  if (!m) return { ns: undefined, text: line };
  const secs = Date.parse(`${m[1]}${m[3]}`);
  if (Number.isNaN(secs)) return { ns: undefined, text: line };
  return { ns: BigInt(secs) * 1_000_000n + BigInt((m[2] ?? '').padEnd(9, '0')), text: line.slice(m[0].length) };
}

function sinceTime(ns: bigint): string {
  return new Date(Number(ns / 1_000_000n)).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export async function followPodLog(kc: KubeConfig, opts: FollowLogOptions): Promise<FollowLogResult> {
  const max = opts.maxReconnects ?? 20;
  let last: bigint | undefined;
  let lines = 0;
  let reconnects = 0;
  let final = false;
  for (;;) {
    if (opts.signal?.aborted) break;
    let partial = '';
    const deliver = (raw: string): void => {
      const { ns, text } = splitTimestamp(raw.replace(/\r$/, ''));
      if (ns !== undefined) {
        if (last !== undefined && ns <= last) return;
        last = ns;
      }
      lines++;
      opts.onLine(text);
    };
    let ended!: () => void;
    const finished = new Promise<void>((resolve) => (ended = resolve));
    const out = new Writable({
      write(chunk: Buffer, _enc, cb) {
        const parts = (partial + chunk.toString('utf8')).split('\n');
        partial = parts.pop() ?? '';
        for (const p of parts) deliver(p);
        cb();
      },
      final(cb) {
        if (partial !== '') deliver(partial);
        partial = '';
        cb();
      },
    });
    out.on('finish', ended);
    out.on('error', ended);
    // The client pipes the response into `out` without an error listener on the response: add one,
    // so an aborted or broken stream ends this round instead of throwing.
    out.on('pipe', (src) => {
      src.on('error', () => ended());
      src.on('close', () => setImmediate(ended));
    });
    const onAbort = (): void => ended();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const ctrl = await new Log(kc).log(opts.namespace, opts.pod, opts.container, out, {
        follow: true,
        timestamps: true,
        ...(last !== undefined ? { sinceTime: sinceTime(last) } : {}),
      });
      opts.signal?.addEventListener('abort', () => ctrl.abort(), { once: true });
      await finished;
    } catch (err) {
      opts.signal?.removeEventListener('abort', onAbort);
      // The last read after the container ended may find the pod gone: nothing more to read.
      if (opts.signal?.aborted || final) break;
      throw kubeError(`read the log of pod ${opts.pod} (container ${opts.container})`, err);
    }
    opts.signal?.removeEventListener('abort', onAbort);
    if (opts.signal?.aborted) break;
    if (final || !opts.stillRunning) break;
    if (!(await opts.stillRunning())) {
      // The container ended, perhaps after the stream was cut: one last read (deduplicated)
      // delivers whatever it wrote in between.
      final = true;
      continue;
    }
    if (++reconnects > max) break;
    await sleep(100);
  }
  return { lines, reconnects };
}

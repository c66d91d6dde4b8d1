/**
 * An open-loop load generator in a process of its own: requests are sent on a fixed schedule
 * whatever the answers do, and each latency is measured from the request's scheduled time, so a
 * stall (of the server or of this generator) is never hidden (no coordinated omission). It speaks
 * HTTP/1.1 keep-alive over raw sockets with the request bytes built once, one request in flight per
 * connection, so that sending costs a few microseconds of CPU and the generator takes as little as
 * it can from the cores the server runs on. Requests due while every connection is busy wait in a
 * queue, and the wait counts. Every connection is open before the schedule starts, and the first
 * `warmup` seconds of the schedule (default 1) are sent at the same rate but not counted, as wrk2
 * calibrates before it measures.
 *
 *   node bench/open-loop.ts <url> <body file> <rate/s> <seconds> <connections> [warm-up seconds]
 *
 * A rate of 0 is a closed loop instead (each connection sends its next request as soon as the
 * answer is in, for `seconds`): the saturation throughput, latency measured from each send.
 *
 * Prints one JSON line: {"sent", "ok", "errors", "seconds", "latencies": {p50, p90, p99, p999, max}}.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';

interface Result {
  readonly sent: number;
  readonly ok: number;
  readonly errors: number;
  readonly seconds: number;
  readonly latencies: { p50: number; p90: number; p99: number; p999: number; max: number };
}

export async function openLoop(url: URL, body: Buffer, rate: number, seconds: number, connections: number, warmup = 1): Promise<Result> {
  const head = Buffer.from(
    `POST ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
  );
  const request = Buffer.concat([head, body]);
  const closed = rate <= 0;
  seconds += warmup;
  // A closed loop cannot send more than this (a few µs of server time a request at least).
  const total = closed ? Math.round(seconds * 200_000) : Math.round(rate * seconds);
  const interval = 1000 / rate;
  const latencies = new Float64Array(total);
  let open = 0;
  let ok = 0;
  let errors = 0;
  let done = 0;
  let sent = 0;
  const queue: number[] = [];
  const idle: Conn[] = [];
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((r) => (finish = r));
  let t0 = performance.now();
  let ready: () => void = () => undefined;
  const connected = new Promise<void>((r) => (ready = r));
  let waiting = connections;

  class Conn {
    private readonly socket: net.Socket;
    private buf: Buffer = Buffer.alloc(0);
    private scheduled = 0;
    private busy = false;
    constructor() {
      this.socket = net.connect(Number(url.port), url.hostname);
      this.socket.setNoDelay(true);
      this.socket.on('connect', () => {
        if (--waiting === 0) ready();
      });
      this.socket.on('data', (c: Buffer) => this.data(c));
      this.socket.on('error', () => {
        if (this.busy) complete(this.scheduled, false);
        this.busy = false;
      });
    }
    send(scheduled: number): void {
      this.scheduled = scheduled;
      this.busy = true;
      this.socket.write(request);
    }
    next(): void {
      if (closed) {
        if (performance.now() - t0 < seconds * 1000 && sent < total) {
          sent++;
          this.send(performance.now());
        } else if (--open === 0) finish();
        return;
      }
      const s = queue.shift();
      if (s !== undefined) this.send(s);
      else idle.push(this);
    }
    data(c: Buffer): void {
      this.buf = this.buf.length ? Buffer.concat([this.buf, c]) : c;
      for (;;) {
        const end = this.buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const header = this.buf.subarray(0, end).toString('latin1');
        const m = /\r\ncontent-length: *(\d+)/i.exec(header);
        if (!m) throw new Error(`open-loop: an answer without Content-Length:\n${header}`);
        const size = end + 4 + Number(m[1]);
        if (this.buf.length < size) return;
        const status = Number(header.slice(9, 12));
        this.buf = this.buf.subarray(size);
        this.busy = false;
        complete(this.scheduled, status === 200);
        this.next();
      }
    }
    close(): void {
      this.socket.destroy();
    }
  }

  const counted = (scheduled: number): boolean => scheduled - t0 >= warmup * 1000;
  function complete(scheduled: number, good: boolean): void {
    if (counted(scheduled)) {
      if (good) latencies[ok++] = performance.now() - scheduled;
      else errors++;
    }
    if (++done === total) finish();
  }

  open = connections;
  const conns = Array.from({ length: connections }, () => new Conn());
  await connected;
  t0 = performance.now();
  for (const c of conns) c.next();
  const tick = (): void => {
    const now = performance.now();
    while (sent < total && t0 + sent * interval <= now) {
      const scheduled = t0 + sent * interval;
      sent++;
      const c = idle.pop();
      if (c) c.send(scheduled);
      else queue.push(scheduled);
    }
    if (sent < total) setTimeout(tick, Math.max(0, Math.min(1, t0 + sent * interval - performance.now())));
  };
  if (!closed) tick();
  // Connections that failed take their queue with them: stop waiting a while after the schedule ends.
  const deadline = setTimeout(finish, (seconds + 30) * 1000);
  await finished;
  clearTimeout(deadline);
  const wall = (performance.now() - t0) / 1000 - warmup;
  for (const c of conns) c.close();
  const got = latencies.subarray(0, ok).sort();
  const q = (p: number): number => got[Math.min(got.length - 1, Math.floor(p * got.length))] ?? NaN;
  return {
    sent: closed ? ok + errors : Math.round(rate * (seconds - warmup)),
    ok,
    errors,
    seconds: wall,
    latencies: { p50: q(0.5), p90: q(0.9), p99: q(0.99), p999: q(0.999), max: q(1) },
  };
}

if (import.meta.filename === process.argv[1]) {
  const [url, bodyFile, rate, seconds, connections, warmup] = process.argv.slice(2);
  const r = await openLoop(
    new URL(url),
    readFileSync(bodyFile),
    Number(rate),
    Number(seconds),
    Number(connections),
    warmup !== undefined ? Number(warmup) : 1,
  );
  process.stdout.write(`${JSON.stringify(r)}\n`);
}
